"""The benchmark runner: specs, records, seeds kept across invocations, probes apart, the table."""

import json
import statistics
import subprocess
from pathlib import Path

import pytest
import torch

import foveate
from foveate.bench.record import check_record, git_state, read_record
from foveate.bench.runner import Invocation, aggregate, parse_setting, run_benchmark, same_run
from foveate.bench.spec import BENCHMARKS, BenchSpec, load_specs
from foveate.bench.table import fill, short_machine, write_table
from foveate.bench.weights import load_weights, sha256
from foveate.cli import main
from foveate.training.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
SPECS = load_specs(ROOT)

TINY_STN = {
    "model": "stn",
    "model_args": {"image_size": 28},
    "data": {"task": "mnist"},
    "trainer": {"max_epochs": 1},
}


def tiny_spec(**changes) -> BenchSpec:
    fields = {
        "name": "tiny_stn",
        "title": "the STN on the shipped digits",
        "config": TINY_STN,
        "metric": "test_error_pct",
        "summary": "**{test_error_pct:.2f}%**",
    }
    return BenchSpec(**{**fields, **changes})


def test_a_spec_refuses_every_unknown_key_at_once():
    with pytest.raises(ValueError, match="unknown key.*papr.*seed\\b"):
        BenchSpec.from_dict("x", {"title": "t", "config": "c", "metric": "m", "papr": 1, "seed": 0})


def test_a_spec_refuses_what_cannot_run():
    with pytest.raises(ValueError, match="sense"):
        tiny_spec(sense="lower")
    with pytest.raises(ValueError, match="seeds"):
        tiny_spec(seeds=(0, 0))
    with pytest.raises(ValueError, match="start_from"):
        tiny_spec(start_from={"benchmark": "x", "checkpoint": "first"})


@pytest.mark.parametrize("name", SPECS.names())
def test_every_spec_names_a_config_evaluations_and_records_that_exist(name):
    from foveate.bench.evaluations import EVALUATIONS

    spec = SPECS[name]
    config = spec.run_config(ROOT)
    assert config.model
    for evaluation in spec.evaluations:
        assert evaluation["name"] in EVALUATIONS
    for other in (*spec.beside, *([spec.start_from["benchmark"]] if spec.start_from else [])):
        assert other in SPECS, f"{name} names {other}, which is no benchmark"
    if spec.kind == "headline" and spec.row is not None:
        assert spec.paper is None or spec.paper.source, name
        assert spec.used_labels, f"{name}: say what used labels"


def test_rows_of_the_table_are_distinct():
    rows = [SPECS[n].row for n in SPECS.names() if SPECS[n].row is not None]
    assert len(rows) == len(set(rows))


def test_aggregate_known_answers():
    seeds = [
        {"metrics": {"e": 1.0, "n": 3}},
        {"metrics": {"e": 2.0, "n": 3}},
        {"metrics": {"e": 6.0}},
    ]
    mean = aggregate(seeds, "mean")
    assert mean["e"] == 3.0 and mean["e_min"] == 1.0 and mean["e_max"] == 6.0
    assert mean["e_std"] == pytest.approx(statistics.stdev([1, 2, 6]), abs=1e-4)
    assert "n" not in mean  # not every seed has it
    assert aggregate(seeds, "median")["e"] == 2.0
    assert aggregate(seeds[:1], "mean") == {"e": 1.0, "n": 3}


def test_a_record_holds_the_seeds_at_target_and_the_further_names_its_spec_asks_for():
    from foveate.bench.runner import build_record

    spec = BenchSpec(
        name="named",
        title="t",
        config={"model": "cnn"},
        metric="acc",
        sense="max",
        aggregate="median",
        target=95.0,
        also_named={"acc_worst": "acc_min", "reaching_95": "seeds_at_target", "gone": "nope"},
    )
    seeds = [
        {
            "seed": k,
            "metrics": {"acc": a},
            "date": f"2026-01-0{k + 1}",
            "wall_s": 1.0,
            "machine": "m",
            "git": {},
        }
        for k, a in enumerate([96.0, 94.0, 97.0])
    ]
    config = RunConfig.from_dict({"model": "cnn"})
    metrics = build_record(spec, "headline", "named", seeds, config, Invocation())["metrics"]
    assert metrics["acc"] == 96.0 and metrics["acc_worst"] == 94.0
    assert metrics["seeds_at_target"] == metrics["reaching_95"] == 2 and metrics["seeds"] == 3
    assert "gone" not in metrics  # a metric the record lacks is not invented


def test_settings_parse_as_yaml_and_refuse_the_model():
    assert parse_setting("optim.lr=0.001") == {"optim": {"lr": 0.001}}
    assert parse_setting("data.counts=[0, 1]") == {"data": {"counts": [0, 1]}}
    for bad in ("optim.lr", "lr=1", "model.x=ram"):
        with pytest.raises(ValueError, match="--set"):
            parse_setting(bad)


def test_same_run_ignores_speed_settings_and_names_a_difference():
    config = RunConfig.from_dict(TINY_STN)
    faster = config.updated({"trainer": {"threads": 1, "progress_bar": False}})
    assert same_run(config, faster) is None
    changed = config.updated({"optim": {"lr": 0.5}})
    assert "optim.lr unset (the spec's: 0.5)" == same_run(changed, config)
    # A run's resolved config adds what the data decide; a config as asked must not.
    assert same_run(config, changed) is None
    assert "optim.lr 0.5" in same_run(config, changed, resolved=False)


def test_short_machine():
    intel = "2 cores (Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz), Linux 6.1, Python 3.11.7, torch 2.13.0"
    assert short_machine(intel) == "2-core Intel Xeon Platinum 8375C"
    amd = "2 cores (AMD EPYC 9R14 96-Core Processor), Linux 6.1, Python 3.11.7, torch 2.13.0"
    assert short_machine(amd) == "2-core AMD EPYC 9R14"


def test_fill_names_a_missing_metric():
    assert fill("{a:.1f}% and {b[c]}", {"a": 1.25, "b": {"c": 3}}) == "1.2% and 3"
    with pytest.raises(ValueError, match="no 'x'"):
        fill("{x}", {})


@pytest.mark.slow
def test_the_runner_trains_records_keeps_seeds_and_keeps_probes_apart(tmp_path):
    spec = tiny_spec(seeds=(0, 1), evaluations=({"name": "samples", "samples": 2},))
    invocation = Invocation(smoke=True, records=tmp_path / "records", runs=tmp_path / "runs")
    path = run_benchmark(spec, invocation, root=ROOT)
    assert path == tmp_path / "records" / "headline" / "tiny_stn.json"
    record = read_record(path)
    assert record["num_seeds"] == 2 and record["seed"] == [0, 1]
    assert record["seeds"][1]["command"] == "foveate bench tiny_stn --seeds 1 --smoke"
    assert record["git"]["commit"] and record["config"]["model"] == "stn"
    errors = [s["metrics"]["test_error_pct"] for s in record["seeds"]]
    assert record["metrics"]["test_error_pct"] == pytest.approx(statistics.fmean(errors), abs=1e-3)
    assert "test_error_pct_M2" in record["seeds"][0]["metrics"]
    # Each seed's best model is kept as safetensors, named with its checksum in the record.
    exported = record["seeds"][0]["weights"]
    assert exported["sha256"] == sha256(exported["path"]) and exported["bytes"] > 1_000
    model, config = load_weights(exported["path"])
    trained, _ = foveate.load(
        tmp_path / "runs" / "tiny_stn" / "seed0" / "checkpoints" / "best.ckpt"
    )
    images = torch.rand(3, 1, 28, 28)
    torch.testing.assert_close(model(images).logits, trained(images).logits)
    assert config.model == "stn"
    # A second invocation trains nothing: both seeds are recorded with this config.
    dates = [s["date"] for s in record["seeds"]]
    run_benchmark(spec, invocation, root=ROOT)
    assert [s["date"] for s in read_record(path)["seeds"]] == dates
    # Overrides make a probe, named, in its own folder; without a name they are refused.
    with pytest.raises(ValueError, match="--probe"):
        run_benchmark(spec, Invocation(settings=("optim.lr=0.01",)), root=ROOT)
    probe = Invocation(
        seeds=(0,),
        settings=("optim.lr=0.01",),
        probe="tiny_lr",
        smoke=True,
        records=tmp_path / "records",
        runs=tmp_path / "runs",
    )
    probe_path = run_benchmark(spec, probe, root=ROOT)
    assert probe_path.parent.name == "probes"
    probed = read_record(probe_path)
    assert probed["kind"] == "probe" and probed["config"]["optim"]["lr"] == 0.01
    assert "--set optim.lr=0.01 --probe tiny_lr" in probed["command"]


@pytest.mark.slow
def test_a_later_stage_trains_its_earlier_one_first(tmp_path, monkeypatch):
    first = tiny_spec(name="tiny_first")
    second = tiny_spec(
        name="tiny_second", start_from={"benchmark": "tiny_first", "checkpoint": "last"}
    )
    monkeypatch.setitem(BENCHMARKS._entries, "tiny_first", first)
    invocation = Invocation(smoke=True, records=tmp_path / "records", runs=tmp_path / "runs")
    path = run_benchmark(second, invocation, root=ROOT)
    assert (tmp_path / "records" / "headline" / "tiny_first.json").is_file()
    record = read_record(path)
    assert record["seeds"][0]["metrics"]["epochs"] >= 0
    started = RunConfig.from_yaml(tmp_path / "runs" / "tiny_second" / "seed0" / "config.yaml")
    assert started.trainer["init_from"].endswith("tiny_first/seed0/checkpoints/last.ckpt")


def test_a_record_missing_a_field_is_refused(tmp_path):
    record = {"schema": "foveate-record/1", "metrics": {}}
    with pytest.raises(ValueError, match="missing .*name"):
        check_record(record)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ValueError, match="not a readable record"):
        read_record(bad)


def test_the_table_goes_between_the_markers(tmp_path):
    from foveate.bench.table import END, START

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{START}\nold\n{END}\n\nafter\n")
    assert write_table(readme, "| a |")
    assert readme.read_text() == f"# x\n\n{START}\n| a |\n{END}\n\nafter\n"
    assert not write_table(readme, "| a |")
    (tmp_path / "plain.md").write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        write_table(tmp_path / "plain.md", "")


def test_bench_lists_the_specs(capsys):
    assert main(["bench", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "ram_mnist_6g" in listed and "air_multimnist" in listed


def test_bench_refuses_an_unknown_benchmark_with_the_nearest_name(capsys):
    assert main(["bench", "ram_mnist_6", "--smoke"]) == 2
    assert "did you mean 'ram_mnist_6g'" in capsys.readouterr().err


def test_record_json_is_what_the_runner_wrote(tmp_path):
    """write_record refuses to write a record that breaks the schema (a hand-made one)."""
    from foveate.bench.record import write_record

    with pytest.raises(ValueError):
        write_record(tmp_path / "r.json", {"metrics": {}})
    assert not (tmp_path / "r.json").exists()


@pytest.mark.slow
def test_two_processes_running_other_seeds_merge_into_one_record(tmp_path):
    """``foveate bench`` started twice at once, for seeds 0 and 1 of one spec (a spec file in a
    project of its own): the record ends with both seeds, whichever finished last."""
    import subprocess
    import sys

    import yaml

    specs = tmp_path / "benchmarks" / "specs"
    specs.mkdir(parents=True)
    spec = {"title": "tiny", "config": TINY_STN, "metric": "test_error_pct"}
    (specs / "tiny_stn.yaml").write_text(yaml.safe_dump(spec))
    command = [sys.executable, "-m", "foveate.cli", "bench", "tiny_stn", "--smoke", "--seeds"]
    runs = [subprocess.Popen([*command, str(seed)], cwd=tmp_path) for seed in (0, 1)]
    assert [run.wait(timeout=600) for run in runs] == [0, 0]
    record = read_record(
        tmp_path / "runs" / "bench-smoke" / "records" / "headline" / "tiny_stn.json"
    )
    assert record["seed"] == [0, 1] and record["num_seeds"] == 2


@pytest.mark.slow
def test_a_converted_record_is_replaced_by_the_runners_first_seed(tmp_path):
    spec = tiny_spec(seeds=(0,))
    records = tmp_path / "records"
    invocation = Invocation(smoke=True, records=records, runs=tmp_path / "runs")
    path = run_benchmark(spec, invocation, root=ROOT)
    converted = read_record(path)
    converted["converted"] = {"script": "benchmarks/old.py"}
    converted["seeds"][0]["metrics"]["test_error_pct"] = 123.0
    path.write_text(json.dumps(converted))
    run_benchmark(spec, invocation, root=ROOT)  # trains seed 0 again: the old one was converted
    record = read_record(path)
    assert "converted" not in record and record["metrics"]["test_error_pct"] != 123.0


def test_a_checkout_is_dirty_for_its_code_not_for_the_records_the_runner_writes(tmp_path):
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    for name in ("benchmarks/records/probes/a.json", "benchmarks/weights/a/seed0.safetensors"):
        (tmp_path / name).parent.mkdir(parents=True)
        (tmp_path / name).write_text("{}")
    (tmp_path / "model.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "start")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "benchmarks/records/probes/a.json").write_text('{"seeds": []}')
    (tmp_path / "benchmarks/weights/a/seed0.safetensors").write_text("changed")
    assert git_state(tmp_path)["dirty"] is False  # another seed's record, written beside
    (tmp_path / "model.py").write_text("x = 2\n")
    assert git_state(tmp_path)["dirty"] is True
    assert len(git_state(tmp_path)["commit"]) == 40
