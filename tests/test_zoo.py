"""Tests that grow with the library: every registered model, every config file, every command.

A model is covered by these the moment it is registered: its registry entry names its training
module and data source, and its ``tiny`` arguments make it small enough to test quickly. The
per-model checks live in ``foveate.training.checks`` and use only the training module's public
contract, so that a model registered from outside the package can run them too.
"""

import inspect
from pathlib import Path

import pytest

from foveate.cli import main
from foveate.models import list_models
from foveate.training import checks
from foveate.training.config import RunConfig
from foveate.training.fit import data_source_class
from foveate.training.module import TRAINING_MODULES, check_training_module

ROOT = Path(__file__).resolve().parents[1]
MODELS = list_models()
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))
IMAGE_MODELS = [
    name
    for name in MODELS
    if "sample" in inspect.signature(data_source_class(name)).parameters  # trains on images
]


def test_the_zoo_is_what_the_library_promises():
    assert {"ram", "draw", "draw_classifier", "stn", "cnn", "air", "dair"} <= set(MODELS)
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("kind", TRAINING_MODULES.names())
def test_every_training_module_keeps_the_contract(kind):
    metric = check_training_module(TRAINING_MODULES[kind])
    assert metric.sense in ("min", "max")


@pytest.mark.parametrize("name", MODELS)
def test_every_model_trains_every_parameter(name):
    checks.check_trains_every_parameter(name)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_reports_the_metrics_it_declares(name):
    checks.check_reports_its_metrics(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_compiled_and_eager_losses_agree(name):
    checks.check_compiled_matches_eager(name)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_config_loads_builds_and_trains_one_step(path):
    checks.check_config_trains_one_step(RunConfig.from_yaml(path))


@pytest.mark.slow
@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_train_eval_show_end_to_end_with_no_config(name, tmp_path, capsys):
    """``foveate train MODEL --sample`` works with nothing else; eval and show read its result."""
    run = tmp_path / "run"
    flags = ["--sample", "--max-epochs", "1", "--limit-train-batches", "2", "--no-progress-bar"]
    flags += ["--limit-eval-batches", "2"]
    assert main(["train", name, "--run-dir", str(run), *flags]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "test" in out and f"run in {run}" in out
    checkpoint = run / "checkpoints" / "best.ckpt"
    assert main(["eval", str(checkpoint), "--limit-batches", "2"]) == 0
    assert "test" in capsys.readouterr().out
    figures = tmp_path / "figures"
    assert main(["show", str(checkpoint), "--images", "3", "--out", str(figures)]) == 0
    written = [Path(line) for line in capsys.readouterr().out.split()]
    assert written and all(path.stat().st_size > 1_000 for path in written)
