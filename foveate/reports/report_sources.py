"""What a report page and ``foveate compare`` show of one run: its config, its training log, its
test figures and the checkpoint ``foveate show`` reads, gathered from a run directory.

A run directory (``foveate.training.fit``) holds ``config.yaml``, ``metrics.csv``,
``results.json`` and ``checkpoints/best.ckpt`` (``last.ckpt`` where the run tests its last
weights). A pretrained model is described the same way from its weights and its benchmark record,
by ``foveate.bench.zoo_page``, which sits above this layer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foveate.training.config import RunConfig


@dataclass(frozen=True)
class ReportSource:
    """One run, or one pretrained model, as a report shows it.

    name: its heading, as the user named it ('runs/c60', 'air/multimnist').
    config: its resolved run config.
    checkpoint: what ``foveate show`` reads (a ``.ckpt``, or a pretrained ``.safetensors``).
    log: its training log (a run's ``metrics.csv``), or None where there is none.
    results: its final figures by name (a run's ``results.json``, a record's seed), numbers only.
    note: a line said under its heading (a pretrained model's record figure), or ''.
    """

    name: str
    config: RunConfig
    checkpoint: Path
    log: Path | None = None
    results: dict[str, float] = field(default_factory=dict)
    note: str = ""


def numeric(values: dict[str, Any]) -> dict[str, float]:
    """The entries of ``values`` that are numbers (not flags, paths or sentences)."""
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def run_source(given: str | os.PathLike) -> ReportSource:
    """The run in directory ``given``, or the run a checkpoint ``RUN/checkpoints/X.ckpt`` belongs
    to (whose weights it then shows). Raises FileNotFoundError (one line) for a path that holds
    no run."""
    path = Path(given)
    checkpoint = None
    if path.is_file() and path.suffix == ".ckpt":
        checkpoint, path = path, path.resolve().parent.parent
    if not (path / "config.yaml").is_file():
        raise FileNotFoundError(
            f"{given} is not a run directory (no config.yaml in it), a run's checkpoint, or a "
            "pretrained model's name (foveate list --pretrained)"
        )
    config = RunConfig.from_yaml(path / "config.yaml")
    if checkpoint is None:
        kept = [path / "checkpoints" / f"{n}.ckpt" for n in ("best", "last")]
        checkpoint = next((c for c in kept if c.is_file()), None)
        if checkpoint is None:
            raise FileNotFoundError(f"{given}: no checkpoints/best.ckpt or last.ckpt in the run")
    results_file = path / "results.json"
    results = numeric(json.loads(results_file.read_text())) if results_file.is_file() else {}
    log = path / "metrics.csv"
    return ReportSource(
        name=str(given),
        config=config,
        checkpoint=checkpoint,
        log=log if log.is_file() else None,
        results=results,
    )
