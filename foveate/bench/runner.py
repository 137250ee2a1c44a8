"""The benchmark runner: train a spec's seeds through the library's own fit, evaluate, write the record.

One runner for every benchmark, headline or probe: ``foveate bench NAME`` (or
``python benchmarks/run.py NAME``). Each seed trains in ``runs/bench/<record>/seed<k>`` with
``foveate.training.fit.train_and_test`` (its checkpoint chosen on validation, or its last with
``trainer.test_checkpoint: last``; its test run once),
then every evaluation of the spec runs on its best checkpoint, and the model of that
checkpoint is exported to ``benchmarks/weights/<record>/seed<k>.safetensors`` (runs do not
outlive a session; the weights, named in the record with their checksum, do; a probe's weights
stay in its run folder, ``runs/bench/<probe>/weights``, their checksum in the record). The record is rewritten after
each seed, so it holds every seed finished so far: a run stopped between seeds loses nothing,
and a seed stopped mid-way continues from its ``last.ckpt`` when the runner is started again.

A probe is the same runner with overrides (``--set optim.lr=0.001 --probe lr1e-3``): its record
goes to ``benchmarks/records/probes/``, apart from the headline records.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import shutil
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from foveate.bench.evaluations import EVALUATIONS, numbers
from foveate.bench.record import SCHEMA, git_state, machine, now, read_record, write_record
from foveate.bench.spec import BENCHMARKS, BenchSpec
from foveate.bench.weights import export_weights
from foveate.reports.tensorboard_figures import figure_callbacks
from foveate.training.checks import smoke_config
from foveate.training.config import RunConfig
from foveate.training.fit import train_and_test

RECORDS = Path("benchmarks") / "records"
FOLDERS = {"headline": "headline", "probe": "probes"}
# Settings of speed and place (how fast a run goes, what it prints, where its data lie, where
# it logs), never of what it measures.
HOW_NOT_WHAT = {
    "threads",
    "progress_bar",
    "accelerator",
    "data_dir",
    "logger",
    "figures_every_n_validations",
}


@dataclass
class Invocation:
    """How the runner was asked to run a spec: everything a seed's command must repeat.

    seeds: the seeds to train (None: the spec's). settings: ``section.key=value`` overrides, as
    typed. probe: the probe's record name (overrides make a probe). data_dir, threads: where the
    data lie, torch threads per run (neither changes a figure). smoke: a run of seconds, for tests.
    """

    seeds: tuple[int, ...] | None = None
    settings: tuple[str, ...] = ()
    probe: str | None = None
    data_dir: str | None = None
    threads: int | None = None
    smoke: bool = False
    restart: bool = False
    records: Path | None = None
    runs: Path | None = None

    def command(self, name: str, seeds: tuple[int, ...]) -> str:
        """The command that runs ``seeds`` of this invocation."""
        words = ["foveate", "bench", name, "--seeds", *map(str, seeds)]
        for setting in self.settings:
            words += ["--set", setting]
        if self.probe:
            words += ["--probe", self.probe]
        if self.data_dir:
            words += ["--data-dir", self.data_dir]
        if self.threads:
            words += ["--threads", str(self.threads)]
        if self.smoke:
            words.append("--smoke")
        return " ".join(shlex.quote(w) for w in words)


def parse_setting(text: str) -> dict[str, dict[str, Any]]:
    """``section.key=value`` (the value read as YAML) -> ``{section: {key: value}}``."""
    target, equals, value = text.partition("=")
    section, dot, key = target.partition(".")
    if not (equals and dot and section and key):
        raise ValueError(f"--set {text!r}: expected section.key=value, e.g. optim.lr=0.001")
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        raise ValueError(f"--set {text!r}: the value is not valid YAML") from None
    if section == "model":
        raise ValueError(f"--set {text!r}: a benchmark's model is its spec's")
    return {section: {key: parsed}}


def setting_key(text: str) -> str:
    """The key a ``section.key=value`` override sets."""
    (values,) = parse_setting(text).values()
    (key,) = values
    return key


def merge(*overrides: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for override in overrides:
        for section, values in override.items():
            merged.setdefault(section, {}).update(values)
    return merged


# A smoke run: one epoch of two batches, validated and tested on two, no time budget, one
# process (it tests the command, not data parallelism, whose launcher would start the whole
# calling program again).
SMOKE_TRAINER = {
    "max_epochs": 1,
    "limit_train_batches": 2,
    "limit_eval_batches": 2,
    "max_minutes": None,
    "devices": 1,
}


def seed_config(spec: BenchSpec, root: Path, seed: int, invocation: Invocation) -> RunConfig:
    """The config one seed trains: the spec's, its overrides, the invocation's, the seed."""
    config = spec.run_config(root)
    settings = merge(*(parse_setting(s) for s in invocation.settings))
    config = config.updated(settings)
    if invocation.smoke:
        # the data source's smoke settings, nothing compiled: as the per-model checks run
        config = smoke_config(config).updated({"trainer": SMOKE_TRAINER})
    trainer: dict[str, Any] = {"seed": seed, "progress_bar": False}
    if invocation.threads:
        trainer["threads"] = invocation.threads
    data = {"data_dir": invocation.data_dir} if invocation.data_dir else {}
    return config.updated({"trainer": trainer, "data": data})


def config_differences(config: RunConfig, saved: RunConfig, *, resolved: bool = True) -> list[str]:
    """Every setting in which ``saved`` differs from ``config`` in what it measures; settings
    of speed and place (``HOW_NOT_WHAT``) do not count.

    resolved: ``saved`` is a run's resolved config, which adds what the data decide (the image
    size) to what was asked: only the settings ``config`` makes must match. Otherwise both are
    configs as asked, and a setting either makes must be the other's too.
    """
    ours, theirs = config.as_dict(), saved.as_dict()
    if ours["model"] != theirs["model"]:
        return [f"model {theirs['model']} (the spec's: {ours['model']})"]
    missing = object()

    def shown(value: Any) -> str:
        return "unset" if value is missing else repr(value)

    found = []
    for section in ("model_args", "data", "optim", "trainer"):
        keys = list(ours[section]) + (
            [] if resolved else [k for k in theirs[section] if k not in ours[section]]
        )
        for key in keys:
            if key in HOW_NOT_WHAT:
                continue
            mine, other = ours[section].get(key, missing), theirs[section].get(key, missing)
            if mine != other:
                found.append(f"{section}.{key} {shown(other)} (the spec's: {shown(mine)})")
    return found


def same_run(config: RunConfig, saved: RunConfig, *, resolved: bool = True) -> str | None:
    """The first setting in which ``saved`` differs from ``config`` in what it measures (None:
    none); see ``config_differences``."""
    found = config_differences(config, saved, resolved=resolved)
    return found[0] if found else None


def aggregate(seeds: list[dict[str, Any]], how: str) -> dict[str, float]:
    """Each metric every seed has, combined over the seeds; with several seeds also its sample
    standard deviation, lowest and highest."""
    keys = [k for k in seeds[0]["metrics"] if all(k in s["metrics"] for s in seeds)]
    combine = statistics.median if how == "median" else statistics.fmean
    metrics: dict[str, float] = {}
    for key in keys:
        values = [s["metrics"][key] for s in seeds]
        metrics[key] = values[0] if len(values) == 1 else round(combine(values), 4)
        if len(values) > 1:
            metrics[f"{key}_std"] = round(statistics.stdev(values), 4)
            metrics[f"{key}_min"] = min(values)
            metrics[f"{key}_max"] = max(values)
    return metrics


def record_path(root: Path, kind: str, name: str, records: Path | None = None) -> Path:
    return (records or root / RECORDS) / FOLDERS[kind] / f"{name}.json"


def earlier_stage(
    spec: BenchSpec, root: Path, seed: int, invocation: Invocation, run_dir: Path
) -> Path:
    """The checkpoint of the benchmark ``spec`` starts from, for this seed: its run beside this
    one (``runs/bench/<stage>/seed<k>``), trained first, as this invocation, if it is missing."""
    stage = BENCHMARKS[spec.start_from["benchmark"]]
    stage_dir = run_dir.parent.parent / stage.name / run_dir.name
    checkpoint = stage_dir / "checkpoints" / f"{spec.start_from.get('checkpoint', 'best')}.ckpt"
    if not checkpoint.is_file():
        earlier = Invocation(
            seeds=(seed,),
            data_dir=invocation.data_dir,
            threads=invocation.threads,
            smoke=invocation.smoke,
            records=invocation.records,
            runs=run_dir.parent.parent,
        )
        run_benchmark(stage, earlier, root=root)
    return checkpoint


def run_seed(
    spec: BenchSpec,
    root: Path,
    seed: int,
    invocation: Invocation,
    run_dir: Path,
    weights: Path,
    logs: Path,
) -> dict[str, Any] | None:
    """Train, test and evaluate one seed; its entry of the record (None on a DDP worker). Its
    training log (the run's metrics.csv: curves against steps and epochs) is kept in ``logs``."""
    config = seed_config(spec, root, seed, invocation)
    if spec.start_from is not None:
        config = config.updated(
            {"trainer": {"init_from": str(earlier_stage(spec, root, seed, invocation, run_dir))}}
        )
    last = run_dir / "checkpoints" / "last.ckpt"
    resume = last.is_file() and not invocation.restart
    if resume:
        differs = same_run(config, RunConfig.from_yaml(run_dir / "config.yaml"))
        if differs:
            raise ValueError(
                f"{run_dir} holds a run of another config ({differs}); pass --restart to "
                "train this seed afresh"
            )
    summary = train_and_test(
        config, run_dir, resume=resume, overwrite=not resume, callbacks=figure_callbacks(config)
    )
    if not summary:
        return None
    tested = time.perf_counter()
    metrics = numbers({k: v for k, v in summary.items() if k.startswith(("test_", "best_val"))})
    metrics.update(
        epochs=summary["epochs"],
        steps=summary["steps"],
        train_images_per_s=round(summary["train_images_per_s"], 1),
    )
    if "stopped_at_target" in summary:  # trainer.stop_at: whether, and after how many steps
        reached = summary["stopped_at_target"]
        metrics["reached_stop_at"] = int(reached is not None)
        if reached is not None:
            metrics["steps_to_stop_at"] = reached
    for evaluation in spec.evaluations:
        arguments = {k: v for k, v in evaluation.items() if k != "name"}
        metrics.update(
            EVALUATIONS[evaluation["name"]](summary["best_checkpoint"], config, **arguments)
        )
    exported = export_weights(summary["best_checkpoint"], weights / f"seed{seed}.safetensors")
    if Path(exported["path"]).is_relative_to(root):
        exported["path"] = str(Path(exported["path"]).relative_to(root))
    logs.mkdir(parents=True, exist_ok=True)
    log = Path(shutil.copyfile(run_dir / "metrics.csv", logs / f"seed{seed}.metrics.csv"))
    return {
        "seed": seed,
        "command": invocation.command(spec.name, (seed,)),
        "metrics": metrics,
        # training and its test (every session of a resumed seed), then the evaluations
        "wall_s": round(summary["wall_s"] + time.perf_counter() - tested, 1),
        "machine": machine(),
        "date": now(),
        "git": git_state(root),
        "resumed": resume,
        "summary": summary["summary"],
        "weights": exported,
        "log": str(log.relative_to(root)) if log.is_relative_to(root) else str(log),
    }


def build_record(
    spec: BenchSpec,
    kind: str,
    name: str,
    seeds: list[dict[str, Any]],
    config: RunConfig,
    invocation: Invocation,
) -> dict[str, Any]:
    seeds = sorted(seeds, key=lambda s: s["seed"])
    metrics = aggregate([{"metrics": s["metrics"]} for s in seeds], spec.aggregate)
    if spec.target is not None and spec.metric in seeds[0]["metrics"]:
        at = [
            s["metrics"][spec.metric] <= spec.target
            if spec.sense == "min"
            else s["metrics"][spec.metric] >= spec.target
            for s in seeds
        ]
        metrics["seeds_at_target"] = sum(at)
    metrics["seeds"] = len(seeds)
    for alias, metric in spec.also_named.items():
        if metric in metrics:  # a metric only several seeds give (_min) is named once they have
            metrics[alias] = metrics[metric]
    latest = max(seeds, key=lambda s: s["date"])
    paper = spec.paper
    return {
        "schema": SCHEMA,
        "name": name,
        "kind": kind,
        "title": spec.title
        if kind == "headline"
        else f"{spec.title} [probe {name}: {', '.join(invocation.settings) or 'as specified'}]",
        "benchmark": spec.name,
        "metrics": metrics,
        "command": invocation.command(spec.name, tuple(s["seed"] for s in seeds)),
        "seed": [s["seed"] for s in seeds],
        "num_seeds": len(seeds),
        "seeds": seeds,
        "wall_s": max(s["wall_s"] for s in seeds),
        "machine": latest["machine"],
        "date": latest["date"],
        "git": latest["git"],
        "config": config.as_dict(),
        "metric": spec.metric,
        "sense": spec.sense,
        "aggregate": spec.aggregate,
        "paper": None
        if paper is None
        else {"metric": spec.metric, "value": paper.value, "source": paper.source},
        "used_labels": spec.used_labels,
        "notes": spec.notes,
    }


def run_benchmark(
    spec: BenchSpec, invocation: Invocation, *, root: str | os.PathLike
) -> Path | None:
    """Run ``spec`` as ``invocation`` asks and write its record; returns the record's path (None
    on a DDP worker process). Seeds the runner already recorded with the same config are kept,
    not trained again (``--restart`` trains them afresh); the record is rewritten after each
    seed, under a lock, so two processes may run different seeds of one benchmark at once."""
    root = Path(root)
    changes = [s for s in invocation.settings if setting_key(s) not in HOW_NOT_WHAT]
    if changes and not invocation.probe and not invocation.smoke:
        raise ValueError(
            f"--set {changes[0]} changes the benchmark: name the probe's record with --probe NAME"
        )
    kind = "probe" if invocation.probe else spec.kind
    name = invocation.probe or spec.name
    records, runs = invocation.records, invocation.runs or root / "runs" / "bench"
    if invocation.smoke:  # a smoke run never lands among the real records and runs
        records = records or root / "runs" / "bench-smoke" / "records"
        runs = invocation.runs or root / "runs" / "bench-smoke" / "runs"
    path = record_path(root, kind, name, records)
    seeds = invocation.seeds or spec.seeds
    base_config = seed_config(spec, root, seeds[0], invocation).updated({"trainer": {"seed": 0}})
    if not invocation.restart:
        done = {s["seed"] for s in recorded_seeds(path, base_config)}
        seeds = tuple(s for s in seeds if s not in done)
    # A headline seed's weights are kept beside the records (git keeps seed 0's: the pretrained
    # model); a probe's stay with its run, their checksum in the record.
    weights = (
        (records or root / RECORDS).parent / "weights" / name
        if kind == "headline"
        else runs / name / "weights"
    )
    for seed in seeds:
        logs = (records or root / RECORDS) / "logs" / name
        entry = run_seed(spec, root, seed, invocation, runs / name / f"seed{seed}", weights, logs)
        if entry is None:
            return None
        with locked(runs / f"{name}.lock"):  # another process may be running other seeds
            kept = [s for s in recorded_seeds(path, base_config) if s["seed"] != seed]
            record = build_record(spec, kind, name, [*kept, entry], base_config, invocation)
            write_record(path, record)
    return path


def recorded_seeds(path: Path, config: RunConfig) -> list[dict[str, Any]]:
    """The seeds of the record at ``path`` that the runner trained with ``config`` as asked. A
    record converted from before the runner counts none: the runner's first seed replaces it
    (it stays in git's history), so that a record never mixes the two."""
    if not path.is_file():
        return []
    old = read_record(path)
    if "converted" in old:
        return []
    if same_run(config, RunConfig.from_dict(old["config"]), resolved=False) is not None:
        return []
    return old["seeds"]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) while the block runs: two runner
    processes training different seeds of one benchmark merge their seeds into its record in
    turn. The operating system frees the lock of a process that dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as file:
        fcntl.flock(file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
