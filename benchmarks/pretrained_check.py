"""Does each pretrained model give its row's figure? Every name of the manifest (or those given),
loaded from the shipped weights and tested on its full test set, beside the figure its record
holds for seed 0.

A model tested the same way as in training gives the record's figure exactly where its test is
deterministic. Differences come from three places, said in the record's notes: a test that
samples (RAM's glimpse paths, AIR's steps) draws other numbers than the run's did after
training; a half-precision copy (``shipped_dtype``) rounds the weights; and a record converted
from before the runner was not tested by this code.

    python benchmarks/pretrained_check.py --data-dir ../shared/data/mnist [NAME ...]
"""

from __future__ import annotations

import argparse
import time

from common import ROOT, write_results
from tqdm import tqdm

from foveate.bench.pretrained import read_manifest, weights_path
from foveate.training.fit import evaluate


def check(name: str, data_dir: str | None) -> dict[str, float]:
    """The record's figure, the shipped weights' figure on the full test set, and the seconds."""
    entry = read_manifest(ROOT)[name]
    started = time.perf_counter()
    result = evaluate(
        weights_path(name, ROOT, download=False),
        data_overrides={"data_dir": data_dir} if data_dir else {},
        accelerator="cpu",
    )
    if entry.metric not in result:
        raise SystemExit(f"{name}: testing gives no {entry.metric} (it gives {sorted(result)})")
    shipped = float(result[entry.metric])
    return {
        "record": entry.figure,
        "shipped": round(shipped, 4),
        "difference": round(shipped - entry.figure, 4),
        "test_images": result["test_images"],
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="pretrained names (default: every one)")
    parser.add_argument("--data-dir", help="the datasets' directory (MNIST's)")
    args = parser.parse_args()
    manifest = read_manifest(ROOT)
    names = args.names or sorted(manifest)
    unknown = sorted(set(names) - set(manifest))
    if unknown:
        parser.error(f"not in the manifest: {', '.join(unknown)}")
    started = time.perf_counter()
    figures = {name: check(name, args.data_dir) for name in tqdm(names, desc="pretrained")}
    for name, got in figures.items():
        entry = manifest[name]
        print(
            f"{name:24s} {entry.metric:28s} record {got['record']:8.2f}  shipped "
            f"{got['shipped']:8.2f}  ({got['difference']:+.2f}; {entry.dtype})"
        )
    metrics = {
        f"{name.replace('/', '_')}_{key}": value
        for name, got in figures.items()
        for key, value in got.items()
        if key in ("record", "shipped", "difference")
    }
    write_results(
        "pretrained_check",
        metrics=metrics,
        seed=0,
        wall_s=time.perf_counter() - started,
        title="Pretrained models against their records: each name's figure on its full test set",
        notes=(
            "For each pretrained name: <name>_record, seed 0's figure of the record's headline "
            "metric; <name>_shipped, what the shipped weights give on the full test set through "
            "foveate.training.fit.evaluate (as `foveate eval NAME`), on the CPU; "
            "<name>_difference, shipped - record. dtypes: "
            + ", ".join(f"{n} {manifest[n].dtype}" for n in names)
            + ". Where the difference is not 0: a test that samples draws other numbers than "
            "the run's test did, and a float16 copy rounds the weights."
        ),
        details={name: {**got, "metric": manifest[name].metric} for name, got in figures.items()},
    )


if __name__ == "__main__":
    main()
