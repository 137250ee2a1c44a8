"""Models built from foveate's attention primitives, one file per paper, and their registry.

A model registers itself with ``@register_model(name, training=..., data=...)``: its entry names
how it is trained (a training module registered in ``foveate.training``) and what it learns from
(a data source registered in ``foveate.data``), so the harness builds any model from its entry
alone. ``create_model(name, **kwargs)`` builds one from keyword arguments (its typed
``__init__`` is its config schema); ``list_models()`` names them all. What the harness uses of a
model is written down in ``foveate.models.interface``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from foveate.registry import Registry, import_submodules


@dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    cls: the ``nn.Module`` class; its typed ``__init__`` is the config's ``model_args`` schema.
    training: the name of the training module (a LightningModule) that trains it.
    data: the name of the data source (a DataModule) it learns from.
    tiny: model arguments that make it small and fast, for the tests that run every model.
    fixed: arguments the registered name stands for (DAIR is AIR with ``difference=True``): a
        config cannot set them.
    """

    name: str
    cls: type[nn.Module]
    training: str
    data: str
    tiny: dict[str, Any] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)


MODELS: Registry[ModelEntry] = Registry("model")


def register_model(
    name: str,
    *,
    training: str = "classifier",
    data: str = "tasks",
    tiny: dict[str, Any] | None = None,
    fixed: dict[str, Any] | None = None,
) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make a model buildable by name; see ``ModelEntry`` for the arguments."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        MODELS.add(name, ModelEntry(name, cls, training, data, dict(tiny or {}), dict(fixed or {})))
        return cls

    return add


def model_entry(name: str) -> ModelEntry:
    """The entry of ``name``; a clear error naming the nearest and the known models otherwise."""
    return MODELS[name]


def model_class(name: str) -> type[nn.Module]:
    return MODELS[name].cls


def create_model(name: str, **kwargs: Any) -> nn.Module:
    entry = MODELS[name]
    fixed = set(entry.fixed) & set(kwargs)
    if fixed:
        raise ValueError(f"model {name!r} fixes {', '.join(sorted(fixed))}; do not pass it")
    return entry.cls(**kwargs, **entry.fixed)


def list_models() -> list[str]:
    return MODELS.names()


# Every module of the package registers its models: a new file needs no import list.
import_submodules(__name__)
