"""benchmarks/records: every record is of the runner's schema; every headline record belongs to a
spec, holds every figure its spec's summary quotes, and ran its spec's config or says how not."""

import json
from pathlib import Path

import pytest

from foveate.bench.analyses import Analysis, load_analyses
from foveate.bench.record import read_record
from foveate.bench.runner import record_path, same_run
from foveate.bench.spec import load_specs
from foveate.bench.table import (
    ANALYSES_END,
    ANALYSES_START,
    analyses_table,
    beside_records,
    fill,
    results_table,
    summary_values,
)
from foveate.training.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ROOT / "benchmarks" / "records"
HEADLINE = sorted((RECORDS / "headline").glob("*.json"))
PROBES = sorted((RECORDS / "probes").glob("*.json"))
SPECS = load_specs(ROOT)


def named(paths):
    return pytest.mark.parametrize("path", paths, ids=[p.stem for p in paths])


def test_there_are_records_and_the_old_folder_is_gone():
    assert HEADLINE and PROBES
    assert not (ROOT / "benchmarks" / "results").exists()


@named(HEADLINE + PROBES)
def test_every_record_passes_the_schema(path):
    record = read_record(path)
    assert record["name"] == path.stem
    assert record["kind"] == ("headline" if path.parent.name == "headline" else "probe")


@named(HEADLINE)
def test_a_headline_record_quotes_every_figure_of_its_spec_summary(path):
    record = read_record(path)
    assert record["name"] in SPECS.names(), f"{path.stem}: no spec of that name"
    spec = SPECS[record["name"]]
    values = summary_values(record, beside_records(spec, ROOT))
    fill(spec.summary or f"{{{spec.metric}}}", values)  # raises, naming what is missing
    assert spec.metric in record["metrics"]


@named(HEADLINE)
def test_a_converted_headline_record_ran_its_spec_config_or_says_how_not(path):
    record = read_record(path)
    if "converted" not in record:
        return  # written by the runner, which checks its config itself
    spec = SPECS[record["name"]]
    differs = same_run(spec.run_config(ROOT), RunConfig.from_dict(record["config"]))
    said = record["converted"].get("differs")
    assert differs is None or (isinstance(said, str) and differs in said), (
        f"{path.stem}: its config differs from the spec's ({differs}) and does not say so"
    )
    assert record["config"]["trainer"]["seed"] == 0
    for entry in record["seeds"]:
        assert entry["command"].startswith(f"foveate bench {spec.name} --seeds {entry['seed']}")


def test_the_results_table_is_made_from_the_records():
    table = results_table([SPECS[n] for n in SPECS.names()], ROOT)
    for name in SPECS.names():
        path = record_path(ROOT, "headline", name)
        if SPECS[name].row is not None and path.is_file():
            assert f"`{path.relative_to(ROOT)}`" in table


@named(PROBES)
def test_a_converted_probe_says_where_it_came_from(path):
    record = json.loads(path.read_text())
    converted = record.get("converted")
    if converted is None:
        return
    assert converted["from"] and converted["commands"] and converted["note"]
    assert all(p.startswith("benchmarks/results/") for p in converted["from"])


def test_the_scripts_write_probe_records_of_the_schema(tmp_path, monkeypatch):
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import common

    monkeypatch.setattr(common, "PROBES", tmp_path)
    path = common.write_results(
        "a_probe",
        metrics={"error_pct": 1.5, "by_step": [1, 2], "greedy": {"hit_rate_pct": 90.0}},
        seed=0,
        wall_s=12.34,
        notes="What was measured, e.g. a hit rate. How it was measured.",
        paper=common.paper_figure({"error_pct": 1.2}, "a paper, table 1"),
        checkpoint="runs/x/best.ckpt",
    )
    record = read_record(path)
    assert record["kind"] == "probe" and record["title"] == "What was measured, e.g. a hit rate"
    assert record["metrics"] == {"error_pct": 1.5, "greedy_hit_rate_pct": 90.0}
    assert record["details"]["by_step"] == [1, 2] and record["checkpoint"] == "runs/x/best.ckpt"
    assert record["paper"] == {"metric": "error_pct", "value": 1.2, "source": "a paper, table 1"}


def test_the_readme_table_is_what_the_generator_writes(tmp_path):
    from foveate.bench.table import write_table

    readme = ROOT / "README.md"
    copy = tmp_path / "README.md"
    copy.write_text(readme.read_text())
    table = results_table([SPECS[n] for n in SPECS.names()], ROOT)
    analyses = analyses_table(load_analyses(ROOT), ROOT)
    for text, markers in ((table, {}), (analyses, dict(start=ANALYSES_START, end=ANALYSES_END))):
        assert not write_table(copy, text, **markers), (
            "README.md's tables are not what the records give: run "
            "`foveate bench --table --write-readme README.md`"
        )


ANALYSES = load_analyses(ROOT)


@pytest.mark.parametrize("analysis", ANALYSES, ids=[a.name for a in ANALYSES])
def test_an_analysis_names_its_script_and_its_record_holds_its_figures(analysis):
    assert (ROOT / analysis.script).is_file(), f"{analysis.name}: no script {analysis.script}"
    path = record_path(ROOT, "probe", analysis.name)
    assert path.is_file(), f"{analysis.name}: no record {path}"
    record = read_record(path)
    fill(analysis.summary, summary_values(record, beside_records(analysis, ROOT)))
    assert f"`{path.relative_to(ROOT)}`" in analyses_table(ANALYSES, ROOT)


def test_an_analysis_with_a_mistyped_key_is_refused_naming_it(tmp_path):
    path = tmp_path / "an_analysis.yaml"
    path.write_text("title: t\nscript: s.py\nsumary: x\nrow: 1\n")
    with pytest.raises(ValueError, match="unknown key.*sumary"):
        Analysis.from_yaml(path)


def parse_bench_command(command: str) -> list[str]:
    """A record's command as the argument list of ``foveate bench`` (refused if it is not one)."""
    import shlex

    words = shlex.split(command)
    assert words[:2] == ["foveate", "bench"], command
    return words[2:]


@named(HEADLINE)
def test_every_headline_command_parses(path):
    import unittest.mock

    from foveate.bench import cli

    record = read_record(path)
    asked = []

    def run(spec, invocation, *, root):
        asked.append(invocation.seeds)

    with unittest.mock.patch.object(cli, "run_benchmark", run):
        for command in [record["command"], *(s["command"] for s in record["seeds"])]:
            argv = parse_bench_command(command)
            assert argv[0] == record["name"]
            assert cli.main(argv) == 0
    assert all(set(seeds) <= set(record["seed"]) for seeds in asked)


@pytest.mark.slow
@named(HEADLINE)
def test_every_headline_command_runs_to_the_end_on_a_tiny_budget(path, tmp_path):
    """The record's own command, with --smoke and its first seed only (the others train the
    same code): one epoch of two batches on the shipped digits, tested on two, its evaluations,
    and a record of the schema."""
    from foveate.bench import cli

    record = read_record(path)
    argv = parse_bench_command(record["command"])
    first = str(record["seed"][0])
    seeds = argv.index("--seeds")
    end = next((i for i in range(seeds + 1, len(argv)) if argv[i].startswith("--")), len(argv))
    argv[seeds + 1 : end] = [first]
    argv += ["--smoke", "--records", str(tmp_path / "records"), "--runs", str(tmp_path / "runs")]
    if "--data-dir" in argv:  # the record's machine's folder (relative or absolute): not here
        at = argv.index("--data-dir")
        del argv[at : at + 2]
    assert cli.main(argv) == 0
    smoke = read_record(tmp_path / "records" / "headline" / f"{record['name']}.json")
    assert smoke["seed"] == record["seed"][:1]
    assert record["metric"] in smoke["metrics"]
