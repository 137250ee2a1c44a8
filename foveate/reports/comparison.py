"""Runs side by side: their final and best figures, one row a quantity, one column a run.

What ``foveate compare`` prints and the report page's comparison table shows, from the same
rows: each run's model; its final figures (``results.json``'s test metrics, best validation
score, epochs, speed; a pretrained model's record); and from its training log, the last value of
every validation metric and the last step logged. A quantity a run lacks is an empty cell.
"""

from __future__ import annotations

from dataclasses import dataclass

from foveate.reports.curves import metric_of, read_log
from foveate.reports.report_sources import ReportSource
from foveate.training.module import Metric

# Final figures come first by kind: what was tested, then what chose the checkpoint.
ORDER = ("test_", "best_")


@dataclass(frozen=True)
class Comparison:
    """runs: the runs' names, one a column. rows: (quantity, one cell a run), '' where a run has
    none."""

    runs: list[str]
    rows: list[tuple[str, list[str]]]

    def text(self) -> str:
        """The table as aligned plain-text columns, for a terminal."""
        header = ("", *self.runs)
        lines = [header, *((name, *cells) for name, cells in self.rows)]
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in lines
        )


def declared_metrics(model: str) -> dict[str, Metric]:
    """The metrics the training module of ``model`` declares, by bare name (their units)."""
    from foveate.training.fit import training_module_class

    return training_module_class(model).metrics


def written(name: str, value: float, metrics: dict[str, Metric]) -> str:
    """``value`` of quantity ``name`` in its metric's unit where the module declares it
    ('test_error_pct' -> '1.23%'); a count, or a figure of 10,000 or more, as a whole number;
    else to four figures."""
    value = float(value)
    bare = name.removesuffix(" (last)")
    for prefix in ("test_", "best_val_", "val_"):
        if bare.startswith(prefix):
            bare = bare[len(prefix) :]
            break
    if bare in metrics:
        return metrics[bare].format(value)
    if value.is_integer() or abs(value) >= 1e4:
        return f"{value:.0f}"  # a count, or a large figure: whole, never in e-notation
    return format(value, ".4g")


def last_values(source: ReportSource) -> dict[str, float]:
    """From a run's training log: '<val column> (last)' for every validation metric, and
    'steps', the last step logged. Nothing where there is no log."""
    if source.log is None:
        return {}
    curves = read_log(source.log)
    found = {
        f"{column} (last)": curve[-1][1]
        for column, curve in curves.items()
        if metric_of(column)[1] == "val" and curve
    }
    steps = [step for curve in curves.values() for step, _ in curve]
    if steps:
        found["steps"] = max(steps)
    return found


def compare(sources: list[ReportSource]) -> Comparison:
    """The comparison of ``sources``, rows ordered: model; test figures; best validation
    figures; the other final figures; the last values of the logs."""
    final = [source.results for source in sources]
    logged = [last_values(source) for source in sources]
    names: list[str] = []
    for kind in (*ORDER, ""):
        for figures in final:
            names += [n for n in figures if n.startswith(kind) and n not in names]
    for figures in logged:
        names += [n for n in figures if n not in names]
    units = [declared_metrics(source.config.model) for source in sources]
    rows = [("model", [source.config.model for source in sources])]
    for name in names:
        cells = []
        for results, log, metrics in zip(final, logged, units, strict=True):
            value = results.get(name, log.get(name))
            cells.append("" if value is None else written(name, value, metrics))
        rows.append((name, cells))
    return Comparison(runs=[source.name for source in sources], rows=rows)
