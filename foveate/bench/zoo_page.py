"""The zoo gallery, and pretrained models in report pages: ``foveate report --zoo`` and
``foveate report NAME``.

A pretrained model is shown as a run is (``foveate.reports.report_sources.ReportSource``): its
config is the one its weights carry, its figures are made from the weights, its final figures
are its record's seed 0, and its learning curves are the training log that record kept, where it
kept one. The gallery gives every model of ``benchmarks/weights/manifest.json`` a card: its
results-table row (our figure beside the paper's, the same cells the README's table has), one
figure of what it does, and a link to its own report page, written alongside.

This module is in ``bench`` because it reads the manifest, the specs and the records; it imports
``foveate.reports`` and never the other way round.
"""

from __future__ import annotations

import difflib
import html
import os
import re
from pathlib import Path

from foveate.bench.pretrained import entry, read_manifest, weights_path
from foveate.bench.record import read_record
from foveate.bench.spec import load_specs, project_root
from foveate.bench.table import beside_records, row_cells
from foveate.reports.report_page import PAGE, page, picture, write_report
from foveate.reports.report_sources import ReportSource, numeric, run_source

GALLERY_TITLE = "foveate zoo: the pretrained models"


def pretrained_source(name: str, root: str | os.PathLike | None = None) -> ReportSource:
    """The pretrained model ``name`` ('air/multimnist') as a report shows it: its verified
    weights and their config, and its record's seed 0 (figures, and training log where kept)."""
    from foveate.training.fit import load_config

    root = Path(root) if root is not None else project_root()
    found = entry(name, root)
    weights = weights_path(name, root)
    record = read_record(root / found.record)
    seed = next(s for s in record["seeds"] if s["seed"] == 0)
    log = root / seed["log"] if seed.get("log") else None
    return ReportSource(
        name=name,
        config=load_config(weights),
        checkpoint=weights,
        log=log if log is not None and log.is_file() else None,
        results=numeric(seed["metrics"]),
        note=f"{found.title}. Record: {found.metric} {found.figure:g} (seed 0, {found.record}).",
    )


def report_source(given: str, root: str | os.PathLike | None = None) -> ReportSource:
    """What ``foveate report`` and ``compare`` read: a run directory or a run's checkpoint as
    given, else a pretrained model's name. Raises FileNotFoundError (one line) for neither."""
    if Path(given).exists():
        return run_source(given)
    known = read_manifest(root)
    if given in known:
        return pretrained_source(given, root)
    close = difflib.get_close_matches(given, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise FileNotFoundError(
        f"{given} is no run directory, run checkpoint or pretrained model{hint} "
        f"(pretrained: {', '.join(sorted(known)) or 'none'})"
    )


def inline_markdown(text: str) -> str:
    """A table cell written for the README's markdown, as HTML: escaped, its ``**bold**`` and
    its backquoted code kept."""
    said = html.escape(text)
    said = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", said)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", said)


def card(name: str, folder: Path, out: Path, root: Path, figures: list[Path]) -> str:
    """A model's card in the gallery: its row, one figure, a link to its report page."""
    found = read_manifest(root)[name]
    spec = load_specs(root)[found.benchmark]
    ours, paper = row_cells(spec, read_record(root / found.record), beside_records(spec, root))
    report = folder / PAGE
    shown = next((p for p in figures if p.suffix == ".png"), figures[0] if figures else None)
    cells = (("ours", ours), ("paper", paper), ("record", found.record))
    table = "".join(
        f"<tr><th>{label}</th><td>{inline_markdown(text)}</td></tr>" for label, text in cells
    )
    report_link = html.escape(Path(os.path.relpath(report, out)).as_posix(), quote=True)
    return "\n".join(
        [
            f'<div class="card" id="{html.escape(folder.name, quote=True)}">',
            '<div class="about">',
            f'<h2><a href="{report_link}">{html.escape(name)}</a></h2>',
            f"<p>{html.escape(spec.title)}</p>",
            f"<table>{table}</table>",
            f'<p><a href="{report_link}">Its report: config, learning curves, every figure</a>'
            "</p></div>",
            picture(shown, out, f"foveate show {name}: {shown.name}", href=report)
            if shown is not None
            else "",
            "</div>",
        ]
    )


def write_gallery(
    out: str | os.PathLike,
    *,
    root: str | os.PathLike | None = None,
    images: int = 8,
    seed: int = 0,
    data_overrides: dict | None = None,
) -> Path:
    """Write the gallery as ``out/index.html`` and each model's report page as
    ``out/<model>_<row>/index.html``; returns the gallery's path. images, seed, data_overrides:
    as ``foveate show``'s."""
    root = Path(root) if root is not None else project_root()
    out = Path(out)
    names = sorted(read_manifest(root))
    if not names:
        raise ValueError(f"{root}: the manifest lists no pretrained models")
    cards = []
    for name in names:
        folder = out / name.replace("/", "_")
        written = write_report(
            [pretrained_source(name, root)],
            folder,
            images=images,
            seed=seed,
            data_overrides=data_overrides,
            title=f"foveate zoo: {name}",
        )
        cards.append(card(name, folder, out, root, written.figures[name]))
    body = "\n".join(
        [
            f"<h1>{html.escape(GALLERY_TITLE)}</h1>",
            "<p>Every model of <code>benchmarks/weights/manifest.json</code>: its row of the "
            "results table, our figure beside the paper's, and what <code>foveate show</code> "
            "draws from the shipped weights. Each name opens the model's own report.</p>",
            *cards,
        ]
    )
    path = out / PAGE
    path.write_text(page(GALLERY_TITLE, body))
    return path
