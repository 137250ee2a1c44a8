"""``foveate report``: a static HTML page of one or more runs, with its pictures beside it.

For each run: its resolved config, its learning curves (``foveate.reports.curves``), and the
figures ``foveate show`` makes of its checkpoint (``show_checkpoint``, the same function); then
the runs' final figures side by side (``foveate.reports.comparison``). The page opens from
``file://`` with no server and fetches nothing: the style is inline, there is no font or script
from elsewhere, and every picture is a file beside the page, linked by a relative path.

The page checks itself when a browser loads it: a small inline script records every picture
that failed to load and every script error, and writes the verdict into the page,
``<body data-check="ok">`` or the problems, which ``foveate.reports.browser`` reads back from a
headless browser. Layout of ``out``, for one run::

    index.html  config.yaml  curves/<metric>.png  figures/<show's files>

and for several, each run's files in ``out/<run>/``.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import yaml

from foveate.reports.comparison import Comparison, compare
from foveate.reports.curves import draw_curves
from foveate.reports.report_sources import ReportSource
from foveate.reports.show import show_checkpoint

PAGE = "index.html"
PICTURES = (".png", ".gif", ".jpg", ".jpeg", ".svg")

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
pre { background: #f6f6f6; padding: .8em; overflow-x: auto; font-size: .85em; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: .8em; color: #555; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
table { border-collapse: collapse; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
td.figure { font-variant-numeric: tabular-nums; }
.note { color: #444; }
.card { border: 1px solid #ddd; padding: 1em; margin-bottom: 1.5em; display: flex;
        flex-wrap: wrap; gap: 1em; align-items: flex-start; }
.card .about { flex: 1 1 460px; } .card figure { flex: 1 1 420px; }
.card h2 { margin-top: 0; } .card img { max-height: 280px; }
"""

# Runs before anything else on the page: a picture that fails to load, or a script error,
# is recorded; once the page has loaded, the verdict goes into <body data-check>.
CHECK_SCRIPT = """
(function () {
  var problems = [];
  window.addEventListener("error", function (event) {
    if (event.target && event.target.tagName === "IMG") return;  // counted at load, by src
    problems.push("script error: " + (event.message || "unknown"));
  }, true);
  window.addEventListener("load", function () {
    var images = document.images;
    for (var i = 0; i < images.length; i++) {
      if (!(images[i].complete && images[i].naturalWidth > 0)) {
        problems.push("picture did not load: " + images[i].getAttribute("src"));
      }
    }
    document.body.setAttribute("data-images", String(images.length));
    document.body.setAttribute("data-check", problems.length ? problems.join(" | ") : "ok");
  });
})();
"""


@dataclass(frozen=True)
class WrittenReport:
    """page: the HTML file. figures, curves: each run's files by its name, as written."""

    page: Path
    figures: dict[str, list[Path]] = field(default_factory=dict)
    curves: dict[str, list[Path]] = field(default_factory=dict)


def page(title: str, body: str) -> str:
    """A whole HTML document: ``body`` (HTML) under an escaped ``title``, with the inline style
    and the self-check script."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n"
        f"<script>{CHECK_SCRIPT}</script>\n</head>\n"
        f'<body data-check="pending">\n{body}\n</body>\n</html>\n'
    )


def link(path: Path, page_dir: Path) -> str:
    """``path`` as a relative URL from a page in ``page_dir``, escaped for an attribute."""
    relative = Path(os.path.relpath(path, page_dir)).as_posix()
    return html.escape(quote(relative), quote=True)


def picture(
    path: Path, page_dir: Path, caption: str | None = "", *, href: Path | None = None
) -> str:
    """A figure: the picture at ``path`` (a link to it where it is not a picture), captioned
    (by its file's name where ``caption`` is '', not at all where it is None: a chart that
    carries its own title), itself a link to ``href`` where given."""
    said = html.escape(path.name if caption == "" else caption or path.stem)
    if path.suffix.lower() not in PICTURES:
        return f'<figure><a href="{link(path, page_dir)}">{said}</a></figure>'
    shown = f'<img src="{link(path, page_dir)}" alt="{said}" loading="eager">'
    if href is not None:
        shown = f'<a href="{link(href, page_dir)}">{shown}</a>'
    below = "" if caption is None else f"<figcaption>{said}</figcaption>"
    return f"<figure>{shown}{below}</figure>"


def comparison_table(comparison: Comparison) -> str:
    """The comparison as an HTML table: a row a quantity, a column a run."""
    head = "".join(f"<th>{html.escape(run)}</th>" for run in comparison.runs)
    rows = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(f'<td class="figure">{html.escape(cell)}</td>' for cell in cells)
        + "</tr>"
        for name, cells in comparison.rows
    )
    return f"<table><tr><th></th>{head}</tr>{rows}</table>"


def folder_names(sources: list[ReportSource]) -> list[str]:
    """A folder name per source, from its name, distinct: 'runs/c60' -> 'runs_c60'."""
    names: list[str] = []
    for index, source in enumerate(sources):
        name = re.sub(r"[^A-Za-z0-9.-]+", "_", source.name).strip("._") or f"run{index}"
        names.append(name if name not in names else f"{name}_{index}")
    return names


def run_section(
    source: ReportSource, anchor: str, page_dir: Path, curves: list[Path], figures: list[Path]
) -> str:
    """One run's part of the page: heading, note, config, curves, figures."""
    config = yaml.safe_dump(source.config.as_dict(), sort_keys=False)
    parts = [
        f'<section id="{html.escape(anchor, quote=True)}">',
        f"<h2>{html.escape(source.name)}</h2>",
        f'<p class="note">{html.escape(source.note)}</p>' if source.note else "",
        f"<p>model <code>{html.escape(source.config.model)}</code>; figures from "
        f"<code>{html.escape(str(source.checkpoint))}</code></p>",
        f"<h3>Config</h3><pre>{html.escape(config)}</pre>",
        "<h3>Learning curves</h3>",
        '<div class="grid">' + "".join(picture(p, page_dir, None) for p in curves) + "</div>"
        if curves
        else '<p class="note">No training log (metrics.csv) to draw.</p>',
        "<h3>What it does (foveate show)</h3>",
        '<div class="grid">' + "".join(picture(p, page_dir) for p in figures) + "</div>",
        "</section>",
    ]
    return "\n".join(part for part in parts if part)


def write_report(
    sources: list[ReportSource],
    out: str | os.PathLike,
    *,
    images: int = 8,
    seed: int = 0,
    data_overrides: dict | None = None,
    title: str | None = None,
) -> WrittenReport:
    """Write the report page of ``sources`` as ``out/index.html``, its pictures beside it.

    images, seed, data_overrides: as ``foveate show``'s (``show_checkpoint``).
    """
    if not sources:
        raise ValueError("a report needs at least one run")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    folders = folder_names(sources)
    sections, figures, curves = [], {}, {}
    for source, folder in zip(sources, folders, strict=True):
        files = out if len(sources) == 1 else out / folder
        files.mkdir(parents=True, exist_ok=True)
        (files / "config.yaml").write_text(yaml.safe_dump(source.config.as_dict(), sort_keys=False))
        curves[source.name] = draw_curves(source.log, files / "curves") if source.log else []
        figures[source.name] = show_checkpoint(
            source.checkpoint,
            files / "figures",
            images=images,
            seed=seed,
            data_overrides=data_overrides,
        )
        sections.append(run_section(source, folder, out, curves[source.name], figures[source.name]))
    names = ", ".join(source.name for source in sources)
    title = title or f"foveate report: {names}"
    contents = ""
    if len(sources) > 1:
        contents = (
            "<nav><ul>"
            + "".join(
                f'<li><a href="#{html.escape(folder, quote=True)}">{html.escape(s.name)}</a></li>'
                for s, folder in zip(sources, folders, strict=True)
            )
            + '<li><a href="#comparison">comparison</a></li></ul></nav>'
        )
    heading = "Comparison" if len(sources) > 1 else "Final figures"
    body = "\n".join(
        [
            f"<h1>{html.escape(title)}</h1>",
            contents,
            *sections,
            f'<section id="comparison"><h2>{heading}</h2>',
            comparison_table(compare(sources)),
            "</section>",
            '<footer><p class="note">Written by <code>foveate report</code>; it opens from '
            "file:// and fetches nothing.</p></footer>",
        ]
    )
    path = out / PAGE
    path.write_text(page(title, body))
    return WrittenReport(page=path, figures=figures, curves=curves)
