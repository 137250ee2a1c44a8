"""Shared by the analysis scripts here: the trained models they read, the probe records they write.

Every figure that needs training is measured by the runner (``foveate bench NAME``, probes with
``--set ... --probe NAME``): its record goes to benchmarks/records/headline/ or probes/ and names
each seed's weights, benchmarks/weights/<name>/seed<k>.safetensors. The scripts here train
nothing: they read those weights (``load_trained``: a benchmark's or probe's name, or a
checkpoint file), measure what no spec's evaluation does (where a model looks, what it costs, how
it fails), and write a probe record of the runner's schema (``foveate.bench.record``) to
benchmarks/records/probes/<name>.json with ``write_results``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import lightning as L
from torch import nn

import foveate
from foveate.bench.record import (
    SCHEMA,
    command_line,
    git_state,
    machine,
    now,
    read_record,
    write_record,
)
from foveate.bench.runner import record_path
from foveate.bench.weights import load_weights, sha256
from foveate.training.config import RunConfig
from foveate.training.fit import build_data

__all__ = ["PROBES", "RECORDS", "load_data", "load_trained", "write_results"]

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "benchmarks" / "records"
PROBES = RECORDS / "probes"


def load_trained(given: str, *, seed: int = 0) -> tuple[nn.Module, RunConfig, str]:
    """A trained model (in eval mode), its run config, and what was read, for the notes.

    given: the name of a benchmark or probe, whose record names the weights the runner exported
    for ``seed`` (checked against their SHA-256); or a checkpoint (.ckpt) or weights
    (.safetensors) file.
    """
    path = Path(given)
    if path.suffix == ".ckpt":
        model, config = foveate.load(path)
        return model.eval(), config, str(path)
    if path.suffix == ".safetensors":
        model, config = load_weights(path)
        return model, config, str(path)
    found = [record_path(ROOT, kind, given, RECORDS) for kind in ("headline", "probe")]
    found = [p for p in found if p.is_file()]
    if not found:
        raise SystemExit(f"{given}: no checkpoint or weights file, and no record of that name")
    record = read_record(found[0])
    entry = next((s for s in record["seeds"] if s["seed"] == seed), {})
    if "weights" not in entry:
        raise SystemExit(
            f"{found[0]} names no weights of seed {seed} (a record written before the runner "
            f"kept weights): foveate bench {record.get('benchmark') or given} --seeds {seed} "
            "trains them (with its --set and --probe NAME, for a probe)"
        )
    weights = Path(entry["weights"]["path"])
    weights = weights if weights.is_absolute() else ROOT / weights
    if not weights.is_file() or sha256(weights) != entry["weights"]["sha256"]:
        raise SystemExit(f"{weights}: missing, or not the weights {found[0]} names")
    model, config = load_weights(weights)
    return model, config, f"{given} (seed {seed}, {entry['weights']['path']})"


def load_data(
    config: RunConfig, *, data_dir: str | None = None, stage: str = "fit", **data
) -> L.LightningDataModule:
    """The run's data module, set up for ``stage``: ``data_dir`` (where the dataset lies, if not
    where the run found it) and any other ``data`` entries override the run's config
    (``counts=[2]`` makes scenes of two digits)."""
    overrides = {**data, **({"data_dir": data_dir} if data_dir else {})}
    module = build_data(config.updated({"data": overrides}) if overrides else config)
    module.setup(stage)
    return module


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
    path: Path | None = None,
    **extra: Any,
) -> Path:
    """Write benchmarks/records/probes/<name>.json (or ``path``), a probe record of the
    runner's schema.

    metrics: what this command measured (nested dicts are flattened to numbers; the metrics as
    given are kept under ``details`` when any is not a number). paper: ``{"metric", "value",
    "source"}`` (``paper_figure``), kept apart from ``metrics``. config: the full run
    configuration, so the figure can be reproduced. seeds: one entry per seed, each ``{"seed",
    "metrics", "wall_s"}`` and, for an entry kept from an earlier run, its ``"machine"``,
    ``"date"`` and ``"git"`` (default: one, ``seed``'s, with ``metrics``). title: default the
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
                # an entry kept from an earlier run of the command says where and when it ran
                "machine": entry.get("machine", where),
                "date": entry.get("date", date),
                "git": entry.get("git", git),
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
    return write_record(path or PROBES / f"{name}.json", record)
