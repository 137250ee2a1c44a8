"""Pretrained models by name: the weights a benchmark's seed 0 trained, listed in a manifest.

A name is ``model/row`` (``ram/mnist_6g``, ``air/multimnist``): a headline spec's ``pretrained``
field. ``benchmarks/weights/manifest.json`` lists every name with its weights file, SHA-256, size,
the record it reproduces and that record's figure; ``write_manifest`` makes it from the specs and
records (``foveate bench --manifest``), and a test checks it is what they give.

A file is looked for, in order, under ``$FOVEATE_WEIGHTS``, in the checkout's
``benchmarks/weights`` (the shipped copies, for offline use), and in
``~/.cache/foveate/weights``; where none has it and the entry has a ``url``, it is downloaded
into the cache. Every file is checked against its SHA-256 before it is read, and refused in one
line if it differs.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from torch import nn

from foveate.bench.record import read_record
from foveate.bench.runner import record_path
from foveate.bench.spec import BenchSpec, project_root
from foveate.bench.weights import (
    compact_copy_path,
    copy_source,
    load_weights,
    sha256,
    write_compact_copy,
)
from foveate.data.download import fetch, write_atomically
from foveate.training.checkpointing import WEIGHTS_SUFFIX, run_checkpoint
from foveate.training.config import RunConfig

WEIGHTS_FOLDER = Path("benchmarks") / "weights"
MANIFEST = WEIGHTS_FOLDER / "manifest.json"


class PretrainedError(ValueError):
    """An unknown name, a missing or damaged file: one line saying which and what to do."""


@dataclass(frozen=True)
class Pretrained:
    """One manifest entry.

    name: 'model/row'. benchmark: the spec whose seed 0 trained it. file: its path under a
    weights folder ('ram_mnist_6g/seed0.safetensors'). sha256, bytes: the file's. record: the
    record it reproduces (relative to the checkout). metric, figure: the record's headline
    metric and seed 0's value of it (with the weights as trained). title: the results table's
    row. url: where to download it from, or None (shipped only). dtype: the floating type of the
    shipped file ('float16': a half-precision copy of the trained weights, the spec's
    ``shipped_dtype``).
    """

    name: str
    benchmark: str
    file: str
    sha256: str
    bytes: int
    record: str
    metric: str
    figure: float
    title: str
    url: str | None = None
    dtype: str = "float32"


def manifest_entries(
    specs: list[BenchSpec], root: str | os.PathLike, *, base_url: str | None = None
) -> list[Pretrained]:
    """An entry for every headline spec with a ``pretrained`` name whose record names seed 0's
    weights, sorted by name."""
    root = Path(root)
    entries = []
    for spec in specs:
        path = record_path(root, "headline", spec.name)
        if spec.pretrained is None or not path.is_file():
            continue
        record = read_record(path)
        seed = next((s for s in record["seeds"] if s["seed"] == 0 and s.get("weights")), None)
        if seed is None:
            continue  # a converted record: no weights yet
        weights = seed["weights"]
        if spec.shipped_dtype is not None:
            weights = compact_copy(weights, spec.shipped_dtype, root)
        file = Path(weights["path"]).relative_to(WEIGHTS_FOLDER).as_posix()
        entries.append(
            Pretrained(
                name=spec.pretrained,
                benchmark=spec.name,
                file=file,
                sha256=weights["sha256"],
                bytes=weights["bytes"],
                record=path.relative_to(root).as_posix(),
                metric=spec.metric,
                figure=seed["metrics"][spec.metric],
                title=spec.title,
                url=f"{base_url.rstrip('/')}/{file}" if base_url else None,
                dtype=spec.shipped_dtype or "float32",
            )
        )
    return sorted(entries, key=lambda e: e.name)


def compact_copy(weights: dict[str, Any], dtype: str, root: Path) -> dict[str, Any]:
    """The ``{"path", "sha256", "bytes"}`` of the ``dtype`` copy of a record's ``weights``; it
    must exist and have been made from those very weights (``ship_compact_copies``)."""
    copy = compact_copy_path(weights["path"], dtype)
    if not (root / copy).is_file():
        raise PretrainedError(f"{copy} is missing: `foveate bench --manifest` writes it")
    if copy_source(root / copy) != weights["sha256"]:
        raise PretrainedError(
            f"{copy} was made from other weights than the record's: `foveate bench --manifest` "
            "writes it again"
        )
    return {
        "path": copy.as_posix(),
        "sha256": sha256(root / copy),
        "bytes": (root / copy).stat().st_size,
    }


def ship_compact_copies(specs: list[BenchSpec], root: str | os.PathLike) -> list[Path]:
    """Write the compact copy of seed 0's weights for each spec that ships one, where it is
    missing or was made from other weights; returns those written."""
    root, written = Path(root), []
    for spec in specs:
        path = record_path(root, "headline", spec.name)
        if spec.shipped_dtype is None or not path.is_file():
            continue
        seed = next((s for s in read_record(path)["seeds"] if s["seed"] == 0), None)
        if seed is None or not seed.get("weights"):
            continue
        source = root / seed["weights"]["path"]
        copy = compact_copy_path(source, spec.shipped_dtype)
        if not copy.is_file() or copy_source(copy) != seed["weights"]["sha256"]:
            written.append(write_compact_copy(source, spec.shipped_dtype))
    return written


def manifest_text(entries: list[Pretrained]) -> str:
    return json.dumps([asdict(e) for e in entries], indent=2) + "\n"


def read_manifest(root: str | os.PathLike | None = None) -> dict[str, Pretrained]:
    """The manifest's entries by name (none where the checkout has no manifest)."""
    path = (Path(root) if root is not None else project_root()) / MANIFEST
    if not path.is_file():
        return {}
    return {e["name"]: Pretrained(**e) for e in json.loads(path.read_text())}


def weights_folders(root: str | os.PathLike | None = None) -> list[Path]:
    """Where weights are looked for, in order: $FOVEATE_WEIGHTS, the checkout's shipped copies,
    the user's cache."""
    folders = []
    if os.environ.get("FOVEATE_WEIGHTS"):
        folders.append(Path(os.environ["FOVEATE_WEIGHTS"]).expanduser())
    folders.append((Path(root) if root is not None else project_root()) / WEIGHTS_FOLDER)
    folders.append(cache_folder())
    return folders


def cache_folder() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "foveate" / "weights"


def entry(name: str, root: str | os.PathLike | None = None) -> Pretrained:
    """The manifest entry of ``name``; an unknown name is refused with the nearest known one."""
    known = read_manifest(root)
    if name in known:
        return known[name]
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(sorted(known)) or "none yet"
    raise PretrainedError(f"no pretrained model {name!r}{hint} (known: {listed})")


def weights_path(
    name: str, root: str | os.PathLike | None = None, *, download: bool = True
) -> Path:
    """The verified weights file of ``name``: found in a weights folder, else downloaded into
    the cache from the entry's url. Raises PretrainedError (one line) for an unknown name, a
    file that fails its checksum, or one that is nowhere and cannot be downloaded."""
    found = entry(name, root)
    for folder in weights_folders(root):
        path = folder / found.file
        if path.is_file():
            digest = sha256(path)
            if digest != found.sha256:
                raise PretrainedError(
                    f"{path}: SHA-256 {digest[:12]}... is not the manifest's "
                    f"{found.sha256[:12]}... for {name}: delete the file (it is damaged or "
                    "another version) and load it again"
                )
            return path
    if not download or not found.url:
        where = ", ".join(str(f) for f in weights_folders(root))
        raise PretrainedError(
            f"{name}: {found.file} is in none of {where}, and "
            + ("downloads are off" if found.url else "the manifest gives no URL to download it")
        )
    try:
        content = fetch(found.url)
    except Exception as error:  # a connection, HTTP or URL error: said in one line
        raise PretrainedError(
            f"{name}: could not download {found.url} ({type(error).__name__}: {error})"
        ) from None
    import hashlib

    digest = hashlib.sha256(content).hexdigest()
    if digest != found.sha256:
        raise PretrainedError(
            f"{name}: {found.url} gave a file of SHA-256 {digest[:12]}..., not the manifest's "
            f"{found.sha256[:12]}...; nothing was kept"
        )
    return write_atomically(content, cache_folder() / found.file)


def resolve(given: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """What ``foveate eval`` and ``show`` read: a file as given; a pretrained model's name
    ('ram/mnist_6g', not a path that exists) its verified weights file; a run directory its
    ``checkpoints/best.ckpt`` (else ``last.ckpt``)."""
    path = Path(given)
    if path.is_dir():
        return run_checkpoint(path)
    if (
        path.exists()
        or str(given).count("/") != 1
        or str(given).endswith((".ckpt", WEIGHTS_SUFFIX))
    ):
        return path
    return weights_path(str(given), root)


def load_pretrained(
    name: str, root: str | os.PathLike | None = None
) -> tuple[nn.Module, RunConfig]:
    """The pretrained model ``name`` ('ram/mnist_6g'), in eval mode, and its run config."""
    return load_weights(weights_path(name, root))


def describe(entry: Pretrained) -> dict[str, Any]:
    """What ``foveate list --pretrained`` prints of an entry."""
    return {
        "name": entry.name,
        "figure": f"{entry.metric} {entry.figure:g}",
        "megabytes": round(entry.bytes / 1e6, 1),
        "record": entry.record,
    }
