"""Shared by the benchmark scripts: where records and logs live, and the probe record they write.

A headline figure is measured by the runner (``foveate bench NAME``; its record goes to
benchmarks/records/headline/). The scripts here measure what no spec does yet (an analysis of a
checkpoint, a cost, an ablation): each writes a probe record of the runner's schema
(``foveate.bench.record``) to benchmarks/records/probes/<name>.json with ``write_results``, and
keeps raw files (metrics.csv, logs, per-seed results) under benchmarks/records/logs/.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import foveate
from foveate.bench.record import SCHEMA, command_line, git_state, machine, now, write_record
from foveate.training.fit import build_data

__all__ = ["LOGS", "PROBES", "RECORDS", "load_run", "machine", "write_results"]

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "benchmarks" / "records"
PROBES = RECORDS / "probes"
LOGS = RECORDS / "logs"  # raw files: metrics.csv, logs, each seed's results


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


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def flat_numbers(metrics: dict[str, Any], prefix: str = "") -> dict[str, int | float]:
    """The numbers of ``metrics``, nested dicts flattened (``{"a": {"b": 1}}`` -> ``a_b``); lists
    and None left out (a record's metrics are numbers only)."""
    flat: dict[str, int | float] = {}
    for key, value in metrics.items():
        if is_number(value):
            flat[f"{prefix}{key}"] = value
        elif isinstance(value, dict):
            flat.update(flat_numbers(value, f"{prefix}{key}_"))
    return flat


ABBREVIATIONS = ("e.g.", "i.e.", "al.", "cf.", "vs.", "eq.", "fig.", "sec.", "approx.")


def first_sentence(notes: str) -> str:
    """The notes' first sentence: up to the first period (or ! or ?) before a space that does
    not end an abbreviation."""
    text = " ".join(notes.split())
    for match in re.finditer(r"[.!?](?= )", text):
        before = text[: match.end()]
        if not before.lower().endswith(ABBREVIATIONS):
            return before[:-1] if before.endswith(".") else before
    return text.removesuffix(".")


def paper_figure(figures: dict[str, float] | None, source: str) -> dict[str, Any] | None:
    """Published figures ``{metric: value}`` as a record's ``paper``: the first one's metric,
    value and source; any others under ``also``."""
    if not figures:
        return None
    (metric, value), *others = figures.items()
    paper: dict[str, Any] = {"metric": metric, "value": value, "source": source}
    if others:
        paper["also"] = dict(others)
    return paper


def write_results(
    name: str,
    *,
    metrics: dict,
    seed: int,
    wall_s: float,
    notes: str,
    config: dict | None = None,
    paper: dict | None = None,
    title: str | None = None,
    seeds: list[dict] | None = None,
    **extra: Any,
) -> Path:
    """Write benchmarks/records/probes/<name>.json, a probe record of the runner's schema.

    metrics: what this command measured (nested dicts are flattened to numbers; the metrics as
    given are kept under ``details`` when any is not a number). paper: ``{"metric", "value",
    "source"}`` (``paper_figure``), kept apart from ``metrics``. config: the full run
    configuration, so the figure can be reproduced. seeds: one entry per seed, each ``{"seed",
    "metrics", "wall_s"}`` (default: one, ``seed``'s, with ``metrics``). title: default the
    notes' first sentence. extra: more fields of the record (``changes``, ``checkpoint``).
    """
    numbers = flat_numbers(metrics)
    command = command_line(["python", *sys.argv])
    date, where, git = now(), machine(), git_state(ROOT)
    entries = seeds or [{"seed": seed, "metrics": metrics, "wall_s": wall_s}]
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "name": name,
        "kind": "probe",
        "title": title or first_sentence(notes) or name,
        "benchmark": None,
        "metrics": numbers,
        "command": command,
        "seed": [entry["seed"] for entry in entries],
        "num_seeds": len(entries),
        "seeds": [
            {
                "seed": entry["seed"],
                "command": entry.get("command", command),
                "metrics": flat_numbers(entry["metrics"]),
                "wall_s": round(entry["wall_s"], 1),
                "machine": where,
                "date": date,
                "git": git,
            }
            for entry in entries
        ],
        "wall_s": round(wall_s, 1),
        "machine": where,
        "date": date,
        "git": git,
        "config": config,
        "paper": paper,
        "notes": notes,
        **extra,
    }
    if numbers != metrics:
        record["details"] = metrics
    return write_record(PROBES / f"{name}.json", record)
