"""``foveate report`` and ``compare``: the page holds each run's config, curves and figures, every
link resolves beside it, a real headless browser loads it with no error, and the browser check
catches a page that is broken; the zoo gallery gives each pretrained model its row and page."""

import html
import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from foveate.bench.pretrained import MANIFEST, read_manifest
from foveate.cli import main
from foveate.reports.browser import check_page, find_browser, outside_addresses
from foveate.reports.comparison import compare
from foveate.reports.curves import draw_curves, metric_groups, read_log
from foveate.reports.report_page import page
from foveate.reports.report_sources import ReportSource
from foveate.training.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
needs_browser = pytest.mark.skipif(
    find_browser() is None, reason="no Chromium: apt-get install chromium"
)
TINY_RAM = [
    "--sample",
    "--val-size",
    "500",
    "--max-epochs",
    "2",
    "--limit-train-batches",
    "26",
    "--no-progress-bar",
]


def links(page_path: Path) -> list[str]:
    """Every src and href of a page, but its own anchors."""
    found = re.findall(r'(?:src|href)="([^"]+)"', page_path.read_text())
    return [unquote(f) for f in found if not f.startswith("#")]


def assert_links_resolve(page_path: Path) -> None:
    found = links(page_path)
    assert found
    for target in found:
        assert (page_path.parent / target).is_file(), f"{page_path}: {target} is not there"


def test_a_log_is_grouped_by_metric_train_beside_val(tmp_path):
    log = tmp_path / "metrics.csv"
    log.write_text(
        "epoch,step,lr-Adam,train/loss,val_error_pct,val_loss\n"
        "0,49,0.001,2.0,,\n"
        "0,99,,,50.0,1.5\n"
        "0,99,0.001,1.8,,\n"
        "1,149,0.0005,1.2,,\n"
        "1,199,,,40.0,1.1\n"
    )
    groups = metric_groups(read_log(log))
    assert list(groups) == ["lr-Adam", "loss", "error_pct"]
    assert groups["loss"] == {
        "train": [(49.0, 2.0), (99.0, 1.8), (149.0, 1.2)],
        "val": [(99.0, 1.5), (199.0, 1.1)],
    }
    assert groups["error_pct"] == {"val": [(99.0, 50.0), (199.0, 40.0)]}
    paths = draw_curves(log, tmp_path / "curves")
    assert [p.name for p in paths] == ["lr-Adam.png", "loss.png", "error_pct.png"]
    assert all(p.stat().st_size > 2_000 for p in paths)


def test_the_comparison_puts_each_runs_figures_in_its_column(tmp_path):
    log = tmp_path / "metrics.csv"
    log.write_text("epoch,step,val_error_pct\n0,9,30.0\n1,19,20.5\n")
    one = ReportSource(
        "one",
        RunConfig(model="ram"),
        tmp_path / "a.ckpt",
        log=log,
        results={"test_error_pct": 1.5, "epochs": 2.0, "test_images": 10000.0},
    )
    two = ReportSource("two", RunConfig(model="cnn"), tmp_path / "b.ckpt", results={"epochs": 3})
    table = compare([one, two])
    rows = dict(table.rows)
    assert table.runs == ["one", "two"]
    assert rows["model"] == ["ram", "cnn"]
    assert rows["test_error_pct"] == ["1.5%", ""]
    assert rows["test_images"] == ["10000", ""]
    assert rows["epochs"] == ["2", "3"]
    assert rows["val_error_pct (last)"] == ["20.5%", ""] and rows["steps"] == ["19", ""]
    assert [name for name, _ in table.rows][:2] == ["model", "test_error_pct"]  # tests first
    text = table.text().splitlines()
    assert text[0].split() == ["one", "two"] and text[2].split() == ["test_error_pct", "1.5%"]


def test_addresses_outside_the_page_are_found():
    text = (
        '<img src="a/b.png"><a href="#x">x</a><img src="data:image/png;base64,AA">'
        '<script src="https://cdn.example.com/x.js"></script><link href="//fonts.example/f">'
        "<style>body { background: url('http://example.org/bg.png') }</style>"
    )
    assert outside_addresses(text) == [
        "https://cdn.example.com/x.js",
        "//fonts.example/f",
        "http://example.org/bg.png",
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two runs of a tiny RAM on the shipped sample, two epochs each (seconds)."""
    folder = tmp_path_factory.mktemp("runs")
    made = []
    for name, glimpses in (("three", "3"), ("two", "2")):
        run = folder / name
        assert main(["train", "ram", "--run-dir", str(run), "--glimpses", glimpses, *TINY_RAM]) == 0
        made.append(run)
    return made


@pytest.mark.slow
def test_report_holds_config_curves_and_figures_and_compare_names_both_runs(runs, tmp_path, capsys):
    one, two = runs
    out = tmp_path / "report"
    checkpoint = two / "checkpoints" / "best.ckpt"
    assert main(["report", str(one), str(checkpoint), "--images", "2", "--out", str(out)]) == 0
    index = out / "index.html"
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(index)
    text = index.read_text()
    assert "glimpses: 3" in text and "glimpses: 2" in text  # each run's resolved config
    for run in (one, checkpoint):
        assert f"<h2>{run}</h2>" in text
    shown = links(index)
    curves = [s for s in shown if "/curves/" in s]
    figures = [s for s in shown if "/figures/" in s]
    # each run's error (train beside validation) and its training losses (logged at step 49)
    for run in (one, checkpoint):
        named = {Path(s).name for s in curves if s.split("/curves/")[0].endswith(run.name)}
        assert {"error_pct.png", "total.png"} <= named, (run, curves)
    assert {Path(s).name for s in figures} >= {"glimpses.png", "glimpses.gif", "salience.png"}
    assert_links_resolve(index)
    assert "<table>" in text and "test_error_pct" in text  # the comparison
    assert outside_addresses(text) == []

    assert main(["compare", str(one), str(two)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert str(one) in table[0] and str(two) in table[0]
    results = [json.loads((run / "results.json").read_text()) for run in runs]
    errors = next(line for line in table if line.startswith("test_error_pct")).split()[1:]
    assert errors == [f"{r['test_error_pct']:.4g}%" for r in results]
    if find_browser() is not None:
        verdict = check_page(index)
        assert verdict.ok, verdict.problems()
        assert verdict.images == len(curves) + len(figures)


@needs_browser
def test_the_browser_check_catches_a_broken_picture_and_a_script_error(tmp_path):
    (tmp_path / "good.png").write_bytes((ROOT / "docs/figures/reader_reading.png").read_bytes())
    good = tmp_path / "good.html"
    good.write_text(page("good", '<img src="good.png">'))
    verdict = check_page(good)
    assert verdict.ok, verdict.problems()
    assert verdict.images == 1

    broken = tmp_path / "broken.html"
    broken.write_text(page("broken", '<img src="good.png"><img src="missing.png">'))
    verdict = check_page(broken)
    assert not verdict.ok and verdict.check == "picture did not load: missing.png"

    scripted = tmp_path / "scripted.html"
    scripted.write_text(page("scripted", "<script>notAFunction();</script>"))
    verdict = check_page(scripted)
    assert not verdict.ok and "script error" in verdict.check
    assert any("notAFunction" in line for line in verdict.console)

    outside = tmp_path / "outside.html"
    outside.write_text(page("outside", '<img src="https://example.com/x.png">'))
    verdict = check_page(outside)  # the browser resolves no host: the picture fails too
    assert not verdict.ok and verdict.outside == ["https://example.com/x.png"]
    assert "did not load" in verdict.check


ZOO = ("cnn/mnist", "pointer/soft")  # the two quickest to show


@pytest.fixture
def small_zoo(tmp_path):
    """A checkout whose manifest lists two of the shipped models (specs, records and weights
    linked from this one)."""
    shipped = read_manifest(ROOT)
    if not set(ZOO) <= set(shipped):
        pytest.skip(f"the manifest does not ship {', '.join(ZOO)}")
    root = tmp_path / "checkout"
    (root / MANIFEST).parent.mkdir(parents=True)
    for folder in ("specs", "records"):
        (root / "benchmarks" / folder).symlink_to(ROOT / "benchmarks" / folder)
    entries = json.loads((ROOT / MANIFEST).read_text())
    (root / MANIFEST).write_text(json.dumps([e for e in entries if e["name"] in ZOO]))
    for name in ZOO:
        folder = Path(shipped[name].file).parent
        (root / MANIFEST.parent / folder).symlink_to(ROOT / MANIFEST.parent / folder)
    return root


@pytest.mark.slow
def test_the_zoo_gallery_gives_each_model_its_row_figure_and_page(small_zoo, tmp_path):
    from foveate.bench.record import read_record
    from foveate.bench.spec import load_specs
    from foveate.bench.table import beside_records, row_cells
    from foveate.bench.zoo_page import inline_markdown, write_gallery

    out = tmp_path / "zoo"
    gallery = write_gallery(out, root=small_zoo, images=2, data_overrides={"sample": True})
    text = gallery.read_text()
    for name in ZOO:
        folder = name.replace("/", "_")
        assert f'href="{folder}/index.html"' in text
        entry = read_manifest(small_zoo)[name]
        spec = load_specs(small_zoo)[entry.benchmark]
        record = read_record(small_zoo / entry.record)
        ours, paper = row_cells(spec, record, beside_records(spec, small_zoo))
        assert inline_markdown(ours) in text and html.escape(paper) in text  # the README's row
        assert entry.record in text
        model_page = out / folder / "index.html"
        assert f"<h2>{name}</h2>" in model_page.read_text()
        assert_links_resolve(model_page)
    assert "air/multimnist" not in text  # only the models listed
    assert_links_resolve(gallery)
    assert text.count("<img ") == len(ZOO)
    if find_browser() is not None:
        for written in [gallery, *(out / n.replace("/", "_") / "index.html" for n in ZOO)]:
            verdict = check_page(written)
            assert verdict.ok, f"{written}: {verdict.problems()}"


def test_report_refuses_what_is_neither_a_run_nor_a_pretrained_name(tmp_path, capsys):
    assert main(["report", "air/multimnst", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("foveate: error:") and "did you mean 'air/multimnist'" in err
    assert main(["compare", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
