"""benchmarks/common.py: an analysis script reads a benchmark's model from the weights its record
names, checked by their SHA-256; a record without them, or other weights, is refused."""

import json
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_model

from foveate.bench.weights import sha256
from foveate.models import create_model
from foveate.training.checkpointing import WEIGHTS_CONFIG_KEY
from foveate.training.config import RunConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import common  # noqa: E402

CONFIG = {"model": "stn", "model_args": {"image_size": 28}, "data": {"task": "mnist"}}


def test_a_name_reads_the_weights_its_record_names(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RECORDS", tmp_path / "records")
    monkeypatch.setattr(common, "PROBES", tmp_path / "records" / "probes")
    torch.manual_seed(0)
    model = create_model("stn", image_size=28).eval()
    weights = tmp_path / "weights" / "seed0.safetensors"
    weights.parent.mkdir()
    config = yaml.safe_dump(RunConfig.from_dict(CONFIG).as_dict())
    save_model(model, str(weights), metadata={WEIGHTS_CONFIG_KEY: config})  # as export_weights does
    weights.with_suffix(".yaml").write_text(config)
    path = common.write_results("a_probe", metrics={"x": 1.0}, seed=0, wall_s=1.0, notes="N.")
    with pytest.raises(SystemExit, match="names no weights of seed 0"):
        common.load_trained("a_probe")  # as a record written before the runner kept weights

    record = json.loads(path.read_text())
    named = {"path": str(weights), "sha256": sha256(weights), "bytes": weights.stat().st_size}
    record["seeds"][0]["weights"] = named
    path.write_text(json.dumps(record))
    loaded, config, source = common.load_trained("a_probe")
    images = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(loaded(images).logits, model(images).logits)
    assert config.model == "stn" and source.startswith("a_probe (seed 0")
    with pytest.raises(SystemExit, match="seed 1"):
        common.load_trained("a_probe", seed=1)
    with pytest.raises(SystemExit, match="no record of that name"):
        common.load_trained("another_probe")
    save_model(create_model("stn", image_size=28), str(weights))  # other weights, same path
    with pytest.raises(SystemExit, match="not the weights"):
        common.load_trained("a_probe")
