"""benchmarks/memory.py measures each model's training process apart from the others, above what
importing foveate costs; an impossible batch size is refused in one line before anything trains."""

import sys
from pathlib import Path

import pytest

from foveate.bench.record import read_record
from foveate.cli import main
from foveate.models import list_models
from foveate.training.config import RunConfig
from foveate.training.fit import build_data

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.mark.slow
def test_the_smoke_run_writes_a_record_of_each_models_peak_above_the_import_baseline(tmp_path):
    import memory

    out = tmp_path / "memory.json"
    memory.main(["--smoke", "--models", "fc", "ffattention", "--out", str(out)])
    record = read_record(out)  # the runner's schema, checked
    metrics = record["metrics"]
    peaks = {k.removeprefix("peak_rss_mb_"): v for k, v in metrics.items() if "peak_rss" in k}
    assert sorted(peaks) == ["fc", "ffattention"]
    # a process that trains holds all the importing one does, and more; and not absurdly more
    assert all(metrics["baseline_rss_mb"] < peak < 8 * 1024 for peak in peaks.values()), metrics
    assert 50 < metrics["baseline_rss_mb"]  # Python and torch alone
    assert metrics["batch_size_fc"] == metrics["batch_size_ffattention"] == 8  # smoke batches
    assert metrics["steps"] == 2
    assert record["config"]["fc"]["trainer"]["limit_train_batches"] == 2
    assert "GPU memory" in record["notes"] and record["details"]["failed"] == {}


def refused(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("foveate: error:"), err
    return err


def test_a_batch_larger_than_the_training_split_is_refused_before_training(tmp_path, capsys):
    run = tmp_path / "run"
    # the shipped sample: 5000 training digits, 500 of them held out for validation
    argv = ["train", "cnn", "--sample", "--run-dir", str(run), "--batch-size", "4501"]
    err = refused(capsys, argv)
    assert "batch_size 4501" in err and "training split, 4500 images" in err, err
    assert "5000 less 500 held out" in err, err
    assert not run.exists()  # nothing written, nothing to --overwrite next time
    err = refused(capsys, [*argv[:-1], "4000", "--val-size", "1001"])
    assert "batch_size 4000" in err and "3999 images" in err, err


@pytest.mark.parametrize("flag", ["--batch-size", "--eval-batch-size"])
def test_a_batch_size_below_one_is_refused(tmp_path, capsys, flag):
    err = refused(capsys, ["train", "fc", "--sample", "--run-dir", str(tmp_path), flag, "0"])
    assert f"{flag[2:].replace('-', '_')} must be positive, got 0" in err


@pytest.mark.parametrize("model", list_models())
def test_every_data_source_refuses_a_batch_size_below_one(model):
    with pytest.raises(ValueError, match="batch_size"):
        build_data(RunConfig(model=model, data={"batch_size": 0}))
