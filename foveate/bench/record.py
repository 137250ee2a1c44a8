"""The record a benchmark run leaves behind: one JSON file that says what was measured, how, where.

A record is written by the runner (``foveate.bench.runner``) and never edited by hand. Its fields:

- ``metrics``: the figures over every seed run so far (the spec's aggregate, mean or median, of
  each seed's figure; with several seeds also ``<name>_std``, ``<name>_min``, ``<name>_max``);
- ``seeds``: one entry per seed, each with its exact ``command``, ``metrics``, ``wall_s``,
  ``machine``, ``date`` and ``git`` state, so that any one seed can be run again alone;
- ``num_seeds``, ``seed`` (the list), ``command`` (the one that runs every seed), ``wall_s``
  (the longest seed: each trains on its own), ``machine`` and ``date`` (of the latest seed),
  ``git`` (``commit`` and ``dirty``: whether the tree had uncommitted changes);
- ``config``: the resolved run config (seed 0's; the seeds differ only in ``trainer.seed``);
- ``paper``: the published figure it is compared with, and its source (paper, version, table);
- ``name``, ``kind`` ('headline' or 'probe'), ``title``, ``notes``, ``schema``;
- ``converted`` (only in records written before the runner existed and converted to this schema):
  the file it came from, the command that wrote it, and the commit that last wrote it.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

SCHEMA = "foveate-record/1"
REQUIRED = (
    "schema",
    "name",
    "kind",
    "title",
    "metrics",
    "command",
    "seed",
    "num_seeds",
    "seeds",
    "wall_s",
    "machine",
    "date",
    "git",
    "config",
    "paper",
    "notes",
)
SEED_REQUIRED = ("seed", "command", "metrics", "wall_s", "machine", "date", "git")
KINDS = ("headline", "probe")


def machine() -> str:
    """The machine a figure was measured on: cores, CPU model, OS, Python, torch (and GPU)."""
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


# What the runner itself writes in a checkout: excluded from ``git_state``'s ``dirty``.
OWN = (":(exclude)benchmarks/records", ":(exclude)benchmarks/weights")


def git_state(root: str | os.PathLike) -> dict[str, Any]:
    """The commit checked out in ``root`` and whether its tracked files had changes (None where
    ``root`` is not a git work tree). The records and weights the runner writes do not count: a
    seed finishing beside another would otherwise find the tree changed by its neighbour's
    record."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", *OWN))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed, quoted for a shell."""
    return " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv))


def check_record(record: dict[str, Any], *, where: str = "record") -> None:
    """Refuse, in one line, a record that lacks a field of the schema or has a misshapen one."""
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise ValueError(f"{where}: missing {', '.join(missing)}")
    if record["schema"] != SCHEMA:
        raise ValueError(f"{where}: schema {record['schema']!r}, expected {SCHEMA!r}")
    if record["kind"] not in KINDS:
        raise ValueError(f"{where}: kind {record['kind']!r}, expected one of {KINDS}")
    if record["num_seeds"] != len(record["seeds"]) or not record["seeds"]:
        raise ValueError(
            f"{where}: num_seeds {record['num_seeds']} but {len(record['seeds'])} seeds"
        )
    for entry in record["seeds"]:
        lacking = [key for key in SEED_REQUIRED if key not in entry]
        if lacking:
            raise ValueError(f"{where}: seed {entry.get('seed')} lacks {', '.join(lacking)}")
    if record["seed"] != [entry["seed"] for entry in record["seeds"]]:
        raise ValueError(f"{where}: 'seed' does not list the seeds' seeds in order")
    if not all(isinstance(v, int | float) for v in record["metrics"].values()):
        raise ValueError(f"{where}: every metric must be a number")
    paper = record["paper"]
    if paper is not None and not {"metric", "value", "source"} <= set(paper):
        raise ValueError(f"{where}: paper needs metric, value and source")


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable record ({error})") from None
    check_record(record, where=str(path))
    return record


def write_record(path: str | os.PathLike, record: dict[str, Any]) -> Path:
    """Check ``record`` and write it to ``path`` whole (a temporary file renamed: a crash never
    leaves half a record)."""
    path = Path(path)
    check_record(record, where=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n")
    temporary.replace(path)
    return path
