"""Shared by the benchmark scripts: the results file format of the project.

Each benchmark writes benchmarks/results/<name>.json:
{"metrics": {name: number}, "command": ..., "seed": ..., "wall_s": ..., "machine": ..., "date": ...,
 "notes": ...}
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import sys
from pathlib import Path

import torch

import foveate
from foveate.training.fit import build_data

RESULTS = Path(__file__).resolve().parent / "results"


def load_run(checkpoint: str, *, data_dir: str | None = None, stage: str = "fit", **data):
    """A trained model and its run's data module, set up for ``stage``.

    ``data_dir`` (where the dataset lies, if not where the run found it) and any other ``data``
    entries override the run's config: ``counts=[2]`` makes scenes of two digits.
    Returns (model in eval mode, config, data module).
    """
    model, config = foveate.load(checkpoint)
    overrides = {**data, **({"data_dir": data_dir} if data_dir else {})}
    if overrides:
        config = config.updated({"data": overrides})
    module = build_data(config)
    module.setup(stage)
    return model.eval(), config, module


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    described = (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )
    if torch.cuda.is_available():
        described += f", GPU {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})"
    return described


def write_results(
    name: str,
    *,
    metrics: dict,
    seed: int,
    wall_s: float,
    notes: str,
    config: dict | None = None,
    paper: dict | None = None,
) -> Path:
    """Write benchmarks/results/<name>.json; ``paper``: published figures to compare with, kept
    apart from ``metrics`` (which holds only what this command measured)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    record = {
        "metrics": metrics,
        "command": " ".join(shlex.quote(a) for a in ["python", *sys.argv]),
        "seed": seed,
        "wall_s": round(wall_s, 1),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "notes": notes,
    }
    if paper is not None:
        record["paper"] = paper
    if config is not None:
        record["config"] = config  # the full run configuration, so the figure can be reproduced
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path
