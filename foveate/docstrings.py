"""What a docstring says of each parameter, read from its ``Args:`` entries.

foveate's docstrings describe parameters Google-style, one entry a parameter::

    Args:
        glimpses: T, glimpses per image ([1]: 6 or 7 on MNIST, 4 to 8 on larger canvases).
        what_size, where_size: units of h_g and h_l in f_g ([1]: 128 and 128).
        scales: k, patches in the retina, each twice as wide as the last ([1]: 1 on MNIST,
            3 on 60x60 canvases, 4 on 100x100).

An entry names one parameter or several (``what_size, where_size:``), and a line indented
deeper than its first continues it. Entries are read wherever they stand, under ``Args:``, under
a heading of their own ("[1]'s hybrid loss, and the alternatives:") or at the docstring's own
indentation (a dataclass's fields), so that the command line's help and the tests that every
parameter is documented read what people read. Only names asked for are looked up, so prose
that happens to begin ``word:`` costs nothing.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

# "name: text" or "name_a, name_b: text"; the names are Python identifiers.
_ENTRY = re.compile(
    r"^(?P<indent>\s*)(?P<names>[A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*:(?:\s+(?P<text>.*))?$"
)
_LIBRARIES = ("builtins", "torch", "lightning", "lightning_fabric", "pytorch_lightning")


def parse_entries(docstring: str | None) -> dict[str, str]:
    """name -> its description, one line (continuations joined), for every ``name: text`` entry
    of ``docstring``; an entry naming several parameters gives each of them its text. The first
    entry of a name wins."""
    entries: dict[str, str] = {}
    lines = inspect.cleandoc(docstring or "").splitlines()
    i = 0
    while i < len(lines):
        match = _ENTRY.match(lines[i])
        i += 1
        if match is None or not match["text"]:
            continue
        indent = len(match["indent"])
        text = [match["text"].strip()]
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) > indent:
            text.append(lines[i].strip())
            i += 1
        for name in re.split(r"\s*,\s*", match["names"]):
            entries.setdefault(name, " ".join(text))
    return entries


def parameter_help(target: Callable[..., Any]) -> dict[str, str]:
    """name -> description of the parameters ``target``'s docstrings document.

    target: a function (its docstring), or a class: its docstring and its ``__init__``'s, then
        its bases' (those of foveate, whose parameters a subclass passes on with ``**kwargs``),
        the nearest class's entry first.
    """
    return _merge(parse_entries(doc) for doc in _docstrings(target))


def undocumented(target: Callable[..., Any], names: Iterable[str]) -> list[str]:
    """Those of ``names`` that no docstring of ``target`` describes (``parameter_help``)."""
    described = parameter_help(target)
    return [name for name in names if not described.get(name)]


def _docstrings(target: Callable[..., Any]) -> list[str]:
    if not inspect.isclass(target):
        return [target.__doc__ or ""]
    docs = []
    for cls in target.__mro__:
        if cls.__module__.split(".")[0] in _LIBRARIES:
            break
        docs.append(vars(cls).get("__doc__") or "")
        init = vars(cls).get("__init__")
        docs.append(getattr(init, "__doc__", None) or "")
    return docs


def _merge(parts: Iterable[dict[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for part in parts:
        for name, text in part.items():
            merged.setdefault(name, text)
    return merged


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())
