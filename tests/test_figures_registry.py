"""Figures registered per capability (foveate.reports.figures): a kind defined outside the
package, with its own Protocol, brings its own figures to ``foveate show`` by registering a
maker, and nothing else; a model that no maker applies to is refused in one line."""

from pathlib import Path
from types import SimpleNamespace
from typing import Protocol, runtime_checkable

import lightning as L
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from foveate.data.sources import DATA_SOURCES
from foveate.models import MODELS, ModelEntry, create_model, list_models
from foveate.reports.figures import (
    FIGURES,
    figure_makers,
    is_capability,
    register_figures,
    registered_makers,
)
from foveate.reports.show import show_checkpoint
from foveate.training.config import RunConfig


@runtime_checkable
class Glows(Protocol):
    """The new kind's capability: ``glow(images)`` -> (B,) how bright each image makes it."""

    def glow(self, images: Tensor) -> Tensor: ...


@runtime_checkable
class Hums(Protocol):
    """A second capability, which no model here has."""

    def hum(self) -> str: ...


class Stone(nn.Module):
    """A model of the new kind's data with no capability that has figures."""

    def __init__(self, *, size: int = 4) -> None:
        super().__init__()
        self.linear = nn.Linear(size, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).squeeze(-1)

    def loss(self, output: Tensor, targets: Tensor) -> Tensor:
        return (output - targets).pow(2).mean()


class Lamp(Stone):
    """A model that ``Glows``, and does not hum."""

    def glow(self, images: Tensor) -> Tensor:
        return self(images).sigmoid()


class Pairs(L.LightningDataModule):
    """Random vectors (N, size) and a target each: a data source that is not a task of images."""

    def __init__(self, *, count: int = 32, size: int = 4) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(count, size, generator=generator)
        self.pairs = TensorDataset(x, x.sum(-1))

    def _loader(self):
        return DataLoader(self.pairs, batch_size=16)

    train_dataloader = val_dataloader = test_dataloader = _loader


@pytest.fixture
def checkpoints(monkeypatch, tmp_path):
    """Checkpoints of a Lamp and a Stone (``<dir>/lamp.ckpt``, ``<dir>/stone.ckpt``), registered
    as models with their data source. Loading a checkpoint is the harness's and tested with it;
    here it hands back the run config and an untrained model of the file's name."""
    for name, cls in [("lamp", Lamp), ("stone", Stone)]:
        monkeypatch.setitem(MODELS._entries, name, ModelEntry(name, cls, "unused", "pairs"))
    monkeypatch.setitem(DATA_SOURCES._entries, "pairs", Pairs)

    def load_config(checkpoint):
        return RunConfig.from_dict({"model": Path(checkpoint).stem, "data": {"count": 32}})

    def load_module(checkpoint, config):
        torch.manual_seed(0)
        return SimpleNamespace(model=create_model(config.model))

    monkeypatch.setattr("foveate.training.fit.load_config", load_config)
    monkeypatch.setattr("foveate.training.fit.load_module", load_module)
    return tmp_path


@pytest.fixture
def figures(monkeypatch):
    """The registry of figure makers, as it is once the package's own have registered; what a
    test registers is gone after it."""
    registered_makers()  # the package's makers register themselves first, into the real one
    monkeypatch.setattr(FIGURES, "_entries", dict(FIGURES._entries))


def test_a_kind_from_outside_the_package_brings_its_own_figures(checkpoints, figures, tmp_path):
    called = []

    @register_figures(Glows)
    def glow_figures(model, context):
        x, y = context.batch
        called.append((type(model).__name__, tuple(x.shape), tuple(y.shape)))
        path = context.out / "glow.txt"
        path.write_text(" ".join(f"{g:.3f}" for g in model.glow(x).tolist()))
        return [path]

    @register_figures(Glows, Hums)  # a lamp that glows but does not hum gets none of these
    def chord_figures(model, context):
        called.append("chord")
        return []

    out = tmp_path / "figures"
    assert show_checkpoint(checkpoints / "lamp.ckpt", out, images=3) == [out / "glow.txt"]
    assert called == [("Lamp", (3, 4), (3,))]  # the first test batch, cut to 3 images
    assert len((out / "glow.txt").read_text().split()) == 3


def test_a_maker_that_needs_no_data_loads_none(checkpoints, figures, tmp_path, monkeypatch):
    @register_figures(Glows)
    def still_figures(model, context):
        path = context.out / "still.txt"
        path.write_text(f"{context.images} at seed {context.seed}")
        return [path]

    def no_data(config):
        raise AssertionError("a maker that needs no data made 'show' load some")

    monkeypatch.setattr("foveate.training.fit.build_data", no_data)
    (path,) = show_checkpoint(checkpoints / "lamp.ckpt", tmp_path / "figures", images=5, seed=7)
    assert path.read_text() == "5 at seed 7"


def test_a_model_no_maker_applies_to_is_refused_in_one_line(checkpoints, figures, tmp_path):
    @register_figures(Glows)
    def glow_figures(model, context):
        raise AssertionError("a stone does not glow")

    stone = checkpoints / "stone.ckpt"
    out = tmp_path / "figures"
    with pytest.raises(ValueError) as refusal:
        show_checkpoint(stone, out)
    message = str(refusal.value)
    assert message.startswith(f"{stone}: 'show' has no figure for a Stone (it is Model;")
    assert "figures are registered for" in message and "Classifier" in message
    assert "\n" not in message
    assert not out.exists()  # refused before anything is written


def test_makers_run_in_the_order_of_their_names_not_of_their_registration(figures):
    @register_figures(Glows)
    def zz_figures(model, context):
        return []

    @register_figures(Glows)
    def aa_figures(model, context):
        return []

    names = [maker.make.__name__ for maker in figure_makers(Lamp())]
    assert names == ["aa_figures", "zz_figures"]
    assert figure_makers(Stone()) == []


def test_every_maker_is_registered_for_runtime_checkable_protocols():
    makers = registered_makers()
    assert makers, "the package's modules registered no figure makers"
    for maker in makers:
        for capability in maker.capabilities:
            assert is_capability(capability), f"{maker.make.__qualname__}: {capability!r}"


@pytest.mark.parametrize("capability", [nn.Module, Protocol, type("Plain", (Protocol,), {})])
def test_figures_for_anything_but_a_runtime_checkable_protocol_are_refused(capability, figures):
    with pytest.raises(TypeError, match="runtime-checkable Protocol"):
        register_figures(capability)


def test_every_registered_model_has_figures():
    for name in list_models():
        model = create_model(name, **MODELS[name].tiny)
        assert figure_makers(model), f"'foveate show' has no figure for {name}"
