"""How much memory ``foveate train MODEL`` holds at its default batch size: the peak resident
memory of every registered model's training process, each trained a few steps in its own.

    python benchmarks/memory.py --data-dir ../shared/data/mnist

A model's run is the config ``foveate train MODEL`` takes with no ``--config`` (the model's, its
training module's and its data source's defaults, the batch size among them), cut short: one
epoch of ``--steps`` training batches, one validation and one test batch (at the data source's
``eval_batch_size``), one torch thread, on the CPU, nothing compiled, the data read from
``--data-dir`` (no download) where the source reads digits, else the digits shipped in the
package; generated sequences and games need no files. It runs as ``foveate train MODEL --config
<that config> --run-dir <a temporary directory>`` in a fresh Python process, with
``OMP_NUM_THREADS=1``, and reports the kernel's high-water mark of that process's resident set
(``VmHWM`` in /proc/self/status, Linux) as ``peak_rss_mb_<model>``: all it held at once, Python,
torch and Lightning, the dataset, the validation and test sets, the model, its optimiser's state,
a batch's activations and gradients, the checkpoints it wrote. ``baseline_rss_mb`` is the same of
a process that only imports torch and foveate: the difference is what training the model adds.
GPU memory is not measured. MB are 2**20 bytes. No figure here depends on speed, so other work
may run beside it.

Writes benchmarks/records/probes/memory.json (``--out``: elsewhere). ``--smoke``: each model at
its registry's ``tiny`` size on its data source's smoke settings (the shipped digits, batches of
8), two steps; a record only where ``--out`` names one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import PROBES, write_results

import foveate
from foveate.models import model_entry
from foveate.training.checks import smoke_data, takes_compile
from foveate.training.config import RunConfig
from foveate.training.fit import build_data, data_source_class
from foveate.training.schema import signature_of

ROOT = Path(__file__).resolve().parents[1]
NAME = "memory"
SMOKE_STEPS = 2

# The last thing a measured process does: print its resident set's high-water mark. VmHWM is
# that of the process's own memory since it started; ``ru_maxrss`` is not, after a fork and exec
# it also counts what the parent held.
PRINT_PEAK = (
    "print('VmHWM', next(line.split()[1] for line in open('/proc/self/status') "
    "if line.startswith('VmHWM:')))\n"
)
BASELINE = "import torch, foveate\n" + PRINT_PEAK
TRAIN = (
    "import sys\n"
    "from foveate.cli import main\n"
    "status = main(sys.argv[1:])\n" + PRINT_PEAK + "sys.exit(status)\n"
)


def peak_rss_mb(code: str, *args: str, log: Path) -> tuple[float | None, str]:
    """Run ``python -c code args`` in a fresh process with one thread: the peak of its resident
    set in MB (None if it failed), and the last line it wrote (why it failed)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "w") as out:
        finished = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    last = lines[-1] if lines else f"exit status {finished.returncode}, no output"
    peaks = [line.split()[1] for line in lines if line.startswith("VmHWM ")]
    if finished.returncode != 0 or not peaks:
        failed = [line for line in lines if not line.startswith("VmHWM ")]
        return None, failed[-1] if failed else last
    return int(peaks[-1]) / 1024, last  # VmHWM is in KiB


def run_config(model: str, *, steps: int, data_dir: Path | None, smoke: bool) -> RunConfig:
    """The config ``foveate train MODEL`` takes with no ``--config``, cut to ``steps`` training
    batches and one of validation and of test, one thread, on the CPU, nothing compiled; its data
    in ``data_dir`` where its source reads files (else the shipped sample). ``smoke``: the
    registry's tiny model on the source's smoke settings."""
    parameters, _ = signature_of(data_source_class(model))
    data: dict = {}
    if "data_dir" in parameters:
        data = {"data_dir": str(data_dir), "download": False} if data_dir else {"sample": True}
    model_args: dict = {}
    if smoke:
        tiny = model_entry(model).tiny  # as YAML has them: tuples are lists
        data = smoke_data(model)
        model_args = {k: list(v) if isinstance(v, tuple) else v for k, v in tiny.items()}
    trainer = {
        "max_epochs": 1,
        "limit_train_batches": steps,
        "limit_eval_batches": 1,
        "threads": 1,
        "accelerator": "cpu",
        "devices": 1,
        "max_minutes": None,
        "progress_bar": False,
    }
    optim = {"compile": False} if takes_compile(model) else {}
    return RunConfig.from_dict(
        {"model": model, "model_args": model_args, "data": data, "optim": optim, "trainer": trainer}
    )


def measure(model: str, config: RunConfig, work: Path) -> tuple[float | None, str]:
    """``foveate train`` of ``config`` in a fresh process: its peak RSS in MB (None: it failed)
    and its last line."""
    folder = work / model
    folder.mkdir()
    config.to_yaml(folder / "config.yaml")
    argv = ["train", model, "--config", str(folder / "config.yaml"), "--run-dir"]
    return peak_rss_mb(TRAIN, *argv, str(folder / "run"), log=folder / "output.log")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", nargs="+", metavar="MODEL", help="registered models (default: every one)"
    )
    parser.add_argument("--steps", type=int, default=20, help="training steps per model")
    parser.add_argument(
        "--data-dir", type=Path, help="MNIST's files (default: the digits shipped in the package)"
    )
    parser.add_argument(
        "--out", type=Path, help=f"the record (default: {PROBES.relative_to(ROOT)}/{NAME}.json)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny models, two steps; a record only with --out"
    )
    args = parser.parse_args(argv)
    if not Path("/proc/self/status").is_file():
        parser.error("reads VmHWM from /proc/self/status: Linux only")
    names = args.models or foveate.list_models()
    unknown = [name for name in names if name not in foveate.list_models()]
    if unknown:
        parser.error(f"not registered: {', '.join(unknown)} (foveate list)")
    steps = SMOKE_STEPS if args.smoke else args.steps
    if steps < 1:
        parser.error(f"--steps must be at least 1, got {steps}")
    data_dir = args.data_dir.resolve() if args.data_dir else None
    if data_dir and not data_dir.is_dir():
        parser.error(f"--data-dir {args.data_dir}: no such directory")

    started = time.perf_counter()
    peaks: dict[str, float] = {}
    batches: dict[str, int] = {}
    configs: dict[str, dict] = {}
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="foveate-memory-") as temporary:
        work = Path(temporary)
        baseline, why = peak_rss_mb(BASELINE, log=work / "baseline.log")
        if baseline is None:
            raise SystemExit(f"a process importing torch and foveate failed: {why}")
        print(f"baseline (import torch, foveate): {baseline:.0f} MB", flush=True)
        for i, name in enumerate(names, 1):
            config = run_config(name, steps=steps, data_dir=data_dir, smoke=args.smoke)
            batches[name] = build_data(config).batch_size
            configs[name] = config.as_dict()
            clock = time.perf_counter()
            peak, why = measure(name, config, work)
            seconds = time.perf_counter() - clock
            head = f"[{i}/{len(names)}] {name}: batch {batches[name]},"
            if peak is None:
                failed[name] = why
                print(f"{head} failed ({seconds:.0f} s): {why}", flush=True)
                continue
            peaks[name] = round(peak, 1)
            print(
                f"{head} peak {peak:.0f} MB, +{peak - baseline:.0f} MB ({seconds:.0f} s)",
                flush=True,
            )

    if args.smoke and not args.out:
        return
    data = f"MNIST's files in {args.data_dir}" if data_dir else "the digits shipped in the package"
    what = "each at its registry's tiny size on its smoke data, " if args.smoke else ""
    path = write_results(
        NAME,
        metrics={
            "baseline_rss_mb": round(baseline, 1),
            "steps": steps,
            **{f"peak_rss_mb_{name}": peak for name, peak in peaks.items()},
            **{f"batch_size_{name}": batches[name] for name in peaks},
        },
        seed=0,
        wall_s=time.perf_counter() - started,
        config=configs,
        path=args.out,
        title="Peak resident memory of foveate train, every registered model at its batch size",
        notes=(
            f"peak_rss_mb_<model>: the peak resident set (VmHWM, MB of 2**20 bytes) of a whole "
            f"foveate train process, {what}at the batch size of the config foveate train takes "
            f"with no --config (batch_size_<model>), trained {steps} steps (one epoch cut short, "
            "one validation and one test batch at the source's eval_batch_size), 1 torch "
            "thread, on the CPU, nothing compiled, one fresh process per model: Python, torch, "
            f"Lightning, the data ({data} where the source reads digits; generated sequences "
            "and games need no files), the model, its optimiser's state, a batch's activations "
            "and gradients, the checkpoints written. baseline_rss_mb: a process that only "
            f"imports torch and foveate. On {os.cpu_count()} cores, other work running beside "
            "it (memory does not depend on speed). Not measured: GPU memory; a longer run's "
            "growth, if any, past these steps. "
            + (f"Failed: {'; '.join(f'{n}: {w}' for n, w in failed.items())}." if failed else "")
        ),
        details={"failed": failed, "data_dir": str(args.data_dir) if data_dir else None},
    )
    print(f"wrote {path}")
    if failed:
        raise SystemExit(f"{len(failed)} model(s) failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
