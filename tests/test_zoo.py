"""Tests that grow with the library: every registered model, every config file, every command.

A model is covered by these the moment it is registered: its registry entry names its training
module and data source, and its ``tiny`` arguments make it small enough to test quickly.
"""

import copy
import inspect
from pathlib import Path

import lightning as L
import pytest
import torch

from foveate.cli import main
from foveate.models import list_models, model_entry
from foveate.training.config import RunConfig
from foveate.training.fit import build, data_source_class

ROOT = Path(__file__).resolve().parents[1]
MODELS = list_models()
CONFIGS = sorted((ROOT / "configs").rglob("*.yaml"))
IMAGE_MODELS = [
    name
    for name in MODELS
    if "sample" in inspect.signature(data_source_class(name)).parameters  # trains on images
]


def tiny(name: str, **trainer) -> RunConfig:
    """A registered model at its tiny size, on the digits shipped in the package (a model that
    learns from something else than images, a game, on its source's defaults, 8 at a time)."""
    data = {"sample": True, "batch_size": 8} if name in IMAGE_MODELS else {"batch_size": 8}
    return RunConfig.from_dict(
        {
            "model": name,
            "model_args": model_entry(name).tiny,
            "data": data,
            "trainer": {"max_epochs": 1, "progress_bar": False, **trainer},
        }
    )


def first_batch(data: L.LightningDataModule):
    data.setup("fit")
    return next(iter(data.train_dataloader()))


def test_the_zoo_is_what_the_library_promises():
    assert {"ram", "draw", "draw_classifier", "stn", "cnn", "air", "dair"} <= set(MODELS)
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("name", MODELS)
def test_every_model_trains_every_parameter(name):
    torch.manual_seed(0)
    data, module, _ = build(tiny(name))
    batch = first_batch(data)
    losses = module.losses(batch, *module.draw_noise(batch[0]))
    assert losses["total"].dim() == 0 and torch.isfinite(losses["total"])
    losses["total"].backward()
    for parameter_name, parameter in module.named_parameters():
        assert parameter.grad is not None, f"{name}: {parameter_name} gets no gradient"
        assert torch.isfinite(parameter.grad).all(), f"{name}: {parameter_name}"
    # A few steps move every parameter (a gradient may be zero at the start by design: the
    # STN's localisation network sits behind a zero-initialised layer).
    initial = {k: p.detach().clone() for k, p in module.named_parameters()}
    optimiser = torch.optim.Adam(module.parameters(), lr=1e-3)
    for _ in range(3):
        optimiser.zero_grad()
        module.losses(batch, *module.draw_noise(batch[0]))["total"].backward()
        optimiser.step()
    for parameter_name, parameter in module.named_parameters():
        assert not torch.equal(initial[parameter_name], parameter), f"{name}: {parameter_name}"


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_compiled_and_eager_losses_agree(name):
    torch.manual_seed(0)
    data, module, _ = build(tiny(name))
    batch = first_batch(data)
    draws = module.draw_noise(batch[0])
    # A loss may update running statistics (AIR's NVIL signal normalisation): both passes start
    # from the same ones.
    before = copy.deepcopy(module.state_dict())
    eager = module.losses(batch, *draws)
    module.load_state_dict(before)
    compiled = torch.compile(module.losses)(batch, *draws)
    assert eager.keys() == compiled.keys()
    for key in eager:
        torch.testing.assert_close(compiled[key], eager[key], rtol=1e-4, atol=1e-4, msg=key)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_config_loads_builds_and_trains_one_step(path):
    config = RunConfig.from_yaml(path)
    # The shipped MNIST sample stands in for any dataset (Omniglot's characters too).
    stand_in = {"dataset": "mnist"} if "dataset" in config.data else {}
    if config.model in IMAGE_MODELS:
        data = {"sample": True, "eval_batch_size": 64, **stand_in}
    else:  # a game: a few games a step
        data = {"batch_size": 8, "val_games": 16, "test_games": 16}
    config = config.updated({"data": data, "optim": {"compile": False}})
    settings = config.trainer_settings()
    data, module, resolved = build(config)
    assert resolved.model == config.model
    trainer = L.Trainer(
        accelerator="cpu",
        fast_dev_run=1,
        precision=settings.precision,
        gradient_clip_val=settings.gradient_clip_val,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    before = [p.detach().clone() for p in module.parameters()]
    trainer.fit(module, datamodule=data)
    assert trainer.global_step == 1
    assert any(not torch.equal(b, p) for b, p in zip(before, module.parameters(), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_train_eval_show_end_to_end_with_no_config(name, tmp_path, capsys):
    """``foveate train MODEL --sample`` works with nothing else; eval and show read its result."""
    run = tmp_path / "run"
    flags = ["--sample", "--max-epochs", "1", "--limit-train-batches", "2", "--no-progress-bar"]
    assert main(["train", name, "--run-dir", str(run), *flags]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "test" in out and f"run in {run}" in out
    checkpoint = run / "checkpoints" / "best.ckpt"
    assert main(["eval", str(checkpoint)]) == 0
    assert "test" in capsys.readouterr().out
    figures = tmp_path / "figures"
    assert main(["show", str(checkpoint), "--images", "3", "--out", str(figures)]) == 0
    written = [Path(line) for line in capsys.readouterr().out.split()]
    assert written and all(path.stat().st_size > 1_000 for path in written)
