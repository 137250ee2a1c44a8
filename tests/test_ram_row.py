"""benchmarks/ram_row.py: a seed trained and tested, and a finished probe taken as a seed only
when it trained the row's own config."""

import json
import shutil
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ram_row  # noqa: E402

TINY = {
    "model": "ram",
    "model_args": {
        "glimpses": 2,
        "what_size": 8,
        "where_size": 8,
        "glimpse_size": 16,
        "hidden_size": 16,
        "location_std": 0.1,
    },
    "data": {"task": "mnist", "sample": True, "val_size": 500},
    "optim": {"lr": 0.002},
    "trainer": {"max_epochs": 1},
}


@pytest.fixture
def row_dirs(tmp_path, monkeypatch):
    (tmp_path / "row.yaml").write_text(yaml.safe_dump(TINY))
    monkeypatch.setattr(ram_row, "ROOT", tmp_path)
    monkeypatch.setattr(ram_row, "ROWS", tmp_path / "rows")
    monkeypatch.setattr(ram_row, "PROBES", tmp_path / "probes")
    monkeypatch.setattr(ram_row, "PROBE_LOGS", tmp_path / "probes")
    monkeypatch.setattr(ram_row, "config_path", lambda row: tmp_path / "row.yaml")
    return tmp_path


def args(**given):
    defaults = dict(seed=0, threads=1, max_minutes=None, resume=False, data_dir=None)
    return Namespace(**{**defaults, **given})


def test_a_seed_and_a_probe_of_the_same_config_give_records_alike(row_dirs):
    record = ram_row.one_seed("mnist_6g", args())
    saved = json.loads((row_dirs / "rows" / "ram_mnist_6g_seed0.json").read_text())
    assert saved["test_error_pct"] == record["test_error_pct"]
    assert 0 <= record["hit_rate_pct"] <= 100 and record["epochs"] == 1
    assert (row_dirs / "rows" / "ram_mnist_6g_seed0.metrics.csv").exists()

    # the same run, as if ram_probe.py had trained it
    shutil.copytree(row_dirs / "runs" / "bench-ram_mnist_6g-seed0", row_dirs / "runs" / "probe-p")
    probe = {
        "changes": [],
        "config": record["config"],
        "metrics": {
            "best_val_error_pct": record["best_val_error_pct"],
            "epochs": 1,
            "train_images_per_s": 100.0,
        },
        "wall_s": 10.0,
    }
    (row_dirs / "probes").mkdir()
    (row_dirs / "probes" / "p.json").write_text(json.dumps(probe))
    (row_dirs / "probes" / "p.metrics.csv").write_text("epoch\n")
    taken = ram_row.from_probe("mnist_6g", args(seed=0, from_probe="p"))
    assert taken["trained_by"].startswith("python benchmarks/ram_probe.py p")
    assert taken["best_val_error_pct"] == record["best_val_error_pct"]
    assert taken["wall_s"] >= 10.0 and 0 <= taken["test_error_pct"] <= 100

    # a probe of another config, or another seed, is refused
    with pytest.raises(SystemExit, match="seed"):
        ram_row.from_probe("mnist_6g", args(seed=1, from_probe="p"))
    probe["config"]["model_args"]["glimpses"] = 3
    (row_dirs / "probes" / "p.json").write_text(json.dumps(probe))
    with pytest.raises(SystemExit, match="another model_args"):
        ram_row.from_probe("mnist_6g", args(seed=0, from_probe="p"))
