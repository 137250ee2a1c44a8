"""Models built from foveate's attention primitives, one file per paper, and a registry of them.

``create_model(name, **kwargs)`` builds a registered model from keyword arguments (its typed
``__init__`` is its config schema); ``list_models()`` names them all.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Class decorator: make a model buildable by name."""

    def add(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = factory
        return factory

    return add


def model_class(name: str) -> Callable[..., nn.Module]:
    """The class registered as ``name``; a clear error listing the known ones otherwise."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    return _REGISTRY[name]


def create_model(name: str, **kwargs) -> nn.Module:
    return model_class(name)(**kwargs)


def list_models() -> list[str]:
    return sorted(_REGISTRY)


from foveate.models import cnn, draw, ram, stn  # noqa: E402, F401  (registers their models)
