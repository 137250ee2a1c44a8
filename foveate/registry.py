"""A named registry: how models, training modules and data sources are found by name.

timm's ``register_model``/``create_model`` pattern: each layer keeps one ``Registry`` of what it
offers, and the layers above look things up by the names a config or a flag gives, never by
``if name == ...``.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """name -> entry. ``kind`` names what is registered, for error messages ('model')."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@REGISTRY.register("name")`` above a class or function."""
        return lambda entry: self.add(name, entry)

    def __getitem__(self, name: str) -> T:
        """The entry called ``name``; a ValueError with the nearest name and the known ones."""
        if name not in self._entries:
            close = nearest_name(name, self._entries)
            hint = f"; did you mean {close!r}?" if close else ""
            raise ValueError(
                f"unknown {self.kind} {name!r}{hint} (known: {', '.join(self.names())})"
            )
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def names(self) -> list[str]:
        return sorted(self._entries)


def nearest_name(name: object, known: Iterable[str]) -> str | None:
    """The known name a mistyped ``name`` most likely meant: one that differs only in case
    ('RAM' for 'ram'), else the closest by difflib's ratio (at least 0.6, case ignored), else
    None."""
    by_lower = {k.lower(): k for k in known}
    typed = str(name).lower()
    if typed in by_lower:
        return by_lower[typed]
    close = difflib.get_close_matches(typed, list(by_lower), n=1)
    return by_lower[close[0]] if close else None


def import_submodules(package: str) -> list[str]:
    """Import every module of ``package`` (one level), so that each registers what it defines.

    A registry is filled by the modules that decorate their entries; walking the package, rather
    than listing its modules, means a new file registers itself without editing an import list.
    Returns the names imported, in order.
    """
    root = importlib.import_module(package)
    names = sorted(info.name for info in pkgutil.iter_modules(root.__path__) if not info.ispkg)
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names
