"""Analyses: results that a script computes from trained models (a cost study, a deletion test)
rather than the runner's training, each shown as a row of the README's analyses table.

An analysis is a YAML file in ``benchmarks/analyses/``, named as the probe record its script
writes (``benchmarks/records/probes/<name>.json``)::

    title: "RAM's cost against the canvas: ..."
    script: benchmarks/ram_cost.py        # what writes the record (its command is in the record)
    summary: "**{ram_cost_ratio_400_vs_60:.2f}x** at batch 32"   # over the record's metrics
    target: "RAM's computation does not grow with the image (sec. 1)"
    used_labels: "none"
    first_attempt: {figure: ..., record: ..., what_changed: ...}   # as a benchmark spec's
    beside: [stn_cluttered60_10ep]        # records whose metrics the summary quotes
    row: 1                                # its place in the table
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from foveate.bench.spec import FirstAttempt

ANALYSES_FOLDER = Path("benchmarks") / "analyses"


@dataclass(frozen=True)
class Analysis:
    """One row of the analyses table. name: its probe record's name; the other fields as in the
    module's docstring."""

    name: str
    title: str
    script: str
    summary: str
    row: int
    target: str = "(not set)"
    used_labels: str = ""
    first_attempt: FirstAttempt | None = None
    beside: tuple[str, ...] = ()

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> Analysis:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: not a readable analysis ({error})") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: an analysis is a mapping of its fields")
        known = {f.name for f in dataclasses.fields(cls)} - {"name"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(
                f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        values: dict[str, Any] = dict(raw)
        if values.get("first_attempt") is not None:
            values["first_attempt"] = FirstAttempt(**values["first_attempt"])
        values["beside"] = tuple(values.get("beside", ()))
        try:
            return cls(name=path.stem, **values)
        except TypeError as error:
            raise ValueError(f"{path}: {error}") from None


def load_analyses(root: str | os.PathLike) -> list[Analysis]:
    """Every analysis of ``root``/benchmarks/analyses, in row order."""
    folder = Path(root) / ANALYSES_FOLDER
    found = [Analysis.from_yaml(path) for path in sorted(folder.glob("*.yaml"))]
    return sorted(found, key=lambda a: a.row)
