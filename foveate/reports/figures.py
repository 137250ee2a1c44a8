"""Figures registered per capability: what ``foveate show`` draws for a model that can do X.

A figure maker is a function ``maker(model, context) -> list[Path]`` registered with
``@register_figures(Capability)``, where the capability is a runtime-checkable Protocol (one of
``foveate.models.interface``, or one that a new kind defines beside its model); it is called
for every model that satisfies it (every one of them, given several). ``foveate show`` asks
``figure_makers(model)`` which apply, never a model's name, so a new kind brings its figures by
registering a maker: in a module of this package (each one is imported when the makers are
first asked for) or in a package of its own that is imported before.

Makers run in the order of their registered names (``module.function``), whatever the order in
which their modules were imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from foveate.models import interface
from foveate.registry import Registry, import_submodules

if TYPE_CHECKING:
    import lightning as L

    from foveate.training.config import RunConfig


@dataclass
class FigureContext:
    """What a figure maker may use besides the model.

    out: the folder the figures go in; images: how many test images to show (or samples to
    draw, games to play); seed: the seed of any draws; config: the checkpoint's run config;
    every_window: draw every window of each step (a retina's coarser scales too), not only the
    finest; empty_scenes: let scenes with no object in them be shown; animations: draw the
    animations (GIFs) too, not only the stills (a training log shows stills only).
    ``data``, ``test_batch`` and ``batch`` are built on first use, so a maker that uses none
    (a generative model's samples) loads no data.
    """

    out: Path
    images: int
    seed: int
    config: RunConfig
    every_window: bool = False
    empty_scenes: bool = False
    animations: bool = True

    @cached_property
    def data(self) -> L.LightningDataModule:
        """The config's data source, set up for testing."""
        from foveate.training.examples import test_data

        return test_data(self.config)

    @cached_property
    def test_batch(self) -> tuple[Tensor, Any]:
        """The whole first test batch, to choose from: images (B, C, H, W) and their targets (a
        tensor, or a dict of tensors)."""
        from foveate.training.examples import first_test_examples

        return first_test_examples(self.data)

    @cached_property
    def batch(self) -> tuple[Tensor, Any]:
        """The first ``images`` of the first test batch: images (N, C, H, W) and their targets
        (a tensor, or a dict of tensors, each cut alike)."""
        return self.pick(slice(self.images))

    def pick(self, index: Tensor | slice) -> tuple[Tensor, Any]:
        """The images of the first test batch at ``index`` (positions, or a slice) and their
        targets, each cut alike."""
        x, y = self.test_batch
        y = {k: v[index] for k, v in y.items()} if isinstance(y, dict) else y[index]
        return x[index], y


Maker = Callable[[nn.Module, FigureContext], list[Path]]


@dataclass(frozen=True)
class FigureMaker:
    """A registered maker: ``make(model, context)`` for a model with every one of
    ``capabilities``."""

    capabilities: tuple[type, ...]
    make: Maker

    def applies(self, model: nn.Module) -> bool:
        return all(isinstance(model, capability) for capability in self.capabilities)


FIGURES: Registry[FigureMaker] = Registry("figure maker")


def is_capability(cls: object) -> bool:
    """Whether ``cls`` is a runtime-checkable Protocol (one that ``isinstance`` can ask)."""
    return (
        isinstance(cls, type)
        and getattr(cls, "_is_protocol", False)
        and getattr(cls, "_is_runtime_protocol", False)
    )


def register_figures(capability: type, *more: type) -> Callable[[Maker], Maker]:
    """Decorator: call this maker for every model that has ``capability`` (and each of
    ``more``), each a runtime-checkable Protocol."""
    capabilities = (capability, *more)
    for cls in capabilities:
        if not is_capability(cls):
            raise TypeError(f"figures are registered for a runtime-checkable Protocol, not {cls!r}")

    def add(make: Maker) -> Maker:
        FIGURES.add(f"{make.__module__}.{make.__qualname__}", FigureMaker(capabilities, make))
        return make

    return add


def registered_makers() -> list[FigureMaker]:
    """Every registered maker, in the order of their names, once this package's modules have
    registered theirs."""
    import_submodules(__package__)
    return [FIGURES[name] for name in FIGURES.names()]


def figure_makers(model: nn.Module) -> list[FigureMaker]:
    """The makers whose capabilities ``model`` has, in the order they run."""
    return [maker for maker in registered_makers() if maker.applies(model)]


def capabilities(model: nn.Module) -> list[str]:
    """The names of the capabilities ``model`` has, sorted: among the Protocols of
    ``foveate.models.interface`` and those figures are registered for."""
    known = [
        cls
        for cls in vars(interface).values()
        if is_capability(cls) and cls.__module__ == interface.__name__
    ]
    known += [cls for maker in registered_makers() for cls in maker.capabilities]
    return sorted({cls.__name__ for cls in known if isinstance(model, cls)})


def shown_capabilities() -> list[str]:
    """The names of the capabilities figures are registered for, sorted."""
    makers = registered_makers()
    return sorted({cls.__name__ for maker in makers for cls in maker.capabilities})
