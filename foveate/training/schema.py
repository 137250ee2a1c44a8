"""Config sections checked against the typed signatures they are the keyword arguments of.

A run's config holds keyword dicts (``model_args``, ``data``, ``optim``, ``trainer``) for typed
``__init__`` signatures; those signatures are the schema. ``check_section`` refuses a dict that
could not be passed to its signature, and ``check_value`` one value that does not match its
annotation, each with a ``ConfigError`` of one line that names the file or flag, what was wrong
and what would be right, before anything is built or trained.

What is checked: ``int`` (not ``bool``, not ``3.0``), ``float`` (an int is taken and made a
float), ``str``, ``bool``, ``Literal[...]``, ``None``, unions (``X | None``), paths
(``os.PathLike``, ``pathlib.Path``: a string is taken), and ``list``/``tuple``/``dict`` with their
items. Any other annotation (a tensor, a module, ``Any``), or none, accepts any value.
"""

from __future__ import annotations

import difflib
import inspect
import numbers
import os
import pathlib
import re
import types
import typing
from collections.abc import Callable, Collection
from typing import Any, get_args, get_origin

_UNIONS = (typing.Union, types.UnionType)
_LIBRARIES = ("builtins", "torch", "lightning", "lightning_fabric", "pytorch_lightning")
_KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
# YAML 1.1 (PyYAML) reads 1e-3 as a string: it wants a dot in the mantissa (1.0e-3).
_EXPONENT_IN_A_STRING = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+\s*")


class ConfigError(ValueError):
    """A config that cannot run, refused before training.

    ``str(error)`` is exactly one line: the file or flag, what was wrong and what would be
    right. It is a ValueError, so the command line prints it without a traceback.
    """

    def __init__(self, message: str) -> None:
        # A message built from parts (a YAML error's problem) may carry a line break.
        super().__init__(
            " ".join(line.strip() for line in str(message).splitlines() if line.strip())
        )


class _Mismatch(Exception):
    """A value that does not match an annotation: where (``name`` or ``name[2]``), and what
    would have matched."""

    def __init__(self, where: str, expected: str, value: Any) -> None:
        super().__init__(where)
        self.where, self.expected, self.value = where, expected, value


def check_value(value: Any, annotation: Any, *, name: str) -> Any:
    """``value`` if it matches ``annotation``, an int made a float where a float is wanted.

    name: how the user wrote the setting (``--glimpses``, ``configs/ram/mnist.yaml:
        model_args.glimpses``); the error message begins with it.

    Raises ConfigError like ``<name> must be an int, got 'six' (str)``. Containers come back as
    the same kind (a YAML list stays a list where a tuple is annotated), their items converted.
    """
    try:
        return _convert(value, annotation, name)
    except _Mismatch as mismatch:
        raise ConfigError(
            f"{mismatch.where} must be {mismatch.expected}, got {show_value(mismatch.value)}"
        ) from None


def check_section(
    values: dict[str, Any],
    target: Callable[..., Any],
    *,
    section: str,
    source: str,
    skip: Collection[str] = (),
    owner: str | None = None,
) -> dict[str, Any]:
    """``values`` checked as keyword arguments of ``target``; a new dict, ints made floats
    where a float is wanted, in the same order.

    target: a class (its ``__init__``), a dataclass (its fields) or a function. Its parameters
        that can be given by keyword are the known keys; if it takes ``**kwargs``, any other key
        is accepted too, unchecked.
    section: the section's name in messages, e.g. ``model_args``.
    source: the file (or ``config``) in messages, e.g. ``configs/ram/mnist.yaml``.
    skip: parameters the harness fills in itself (``model``, ``max_epochs``): never required,
        and refused if the section sets them.
    owner: what the section configures, named in messages about keys (``'ram'`` in "unknown
        key 'glimpse' in model_args of 'ram'"); None names nothing.

    Raises ConfigError (one line) for the first of: the keys ``target`` does not take (all of
    them, each with the nearest known key, and the known keys), a key in ``skip``, a value of the wrong type, a
    parameter without a default that is neither given nor in ``skip``. Annotations that cannot
    be resolved (``get_type_hints`` fails) are not checked; the keys still are.
    """
    parameters, hints = signature_of(target)
    known = [n for n, p in parameters.items() if p.kind in _KEYWORD_KINDS and n not in skip]
    where = f"{section} of {owner!r}" if owner else section
    for key in values:
        if key in skip and key in parameters:
            raise ConfigError(
                f"{source}: {section}.{key} cannot be set in {section}: foveate fills it in "
                f"itself; remove it"
            )
    unknown = unknown_keys(values, target)
    if unknown:
        raise ConfigError(f"{source}: {describe_unknown([(where, unknown, known)])}")

    checked = {}
    for key, value in values.items():
        annotation = hints.get(key, Any) if key in known else Any
        checked[key] = check_value(value, annotation, name=f"{source}: {section}.{key}")

    missing = [
        n for n in known if parameters[n].default is inspect.Parameter.empty and n not in values
    ]
    if missing:
        keys = ", ".join(repr(n) for n in missing)
        plural = "s" if len(missing) > 1 else ""
        raise ConfigError(
            f"{source}: {where} is missing required key{plural} {keys} (no default); add "
            f"{'them' if plural else 'it'} to {section}"
        )
    return checked


def unknown_keys(values: dict[str, Any], target: Callable[..., Any]) -> list[str]:
    """The keys of ``values`` that ``target`` does not take as keyword arguments, in order
    (none if it takes ``**kwargs``)."""
    parameters, _ = signature_of(target)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return []
    known = {n for n, p in parameters.items() if p.kind in _KEYWORD_KINDS}
    return [key for key in values if key not in known]


def describe_unknown(found: list[tuple[str, list[str], Collection[str]]]) -> str:
    """One line for every unknown key at once: ``found`` holds (where, unknown keys, known keys)
    per section, e.g. ('model_args of 'ram'', ['glimpse'], ['glimpses', ...]). One key reads
    "unknown key 'glimpse' in model_args of 'ram'; did you mean 'glimpses'? (known: ...)";
    several name each with its nearest known key, without the listings."""
    keys = [(where, key, known) for where, unknown, known in found for key in unknown]
    if len(keys) == 1:
        where, key, known = keys[0]
        return f"unknown key {key!r} in {where}{_suggest(key, known)}"
    named = []
    for where, key, known in keys:
        guess = nearest(key, known)
        named.append(f"{key!r} in {where}" + (f" (did you mean {guess!r}?)" if guess else ""))
    return f"{len(keys)} unknown keys: {', '.join(named)}"


def nearest(key: Any, known: Collection[str]) -> str | None:
    """The known name closest to ``key`` by difflib's ratio (at least 0.6), or None."""
    close = difflib.get_close_matches(str(key), list(known), n=1)
    return close[0] if close else None


def _suggest(key: Any, known: Collection[str]) -> str:
    """'; did you mean 'x'? (known: ...)', without the guess when nothing is close."""
    guess = nearest(key, known)
    listing = f" (known: {', '.join(known)})" if known else " (it takes no keys)"
    return (f"; did you mean {guess!r}?" if guess else "") + listing


def signature_of(
    target: Callable[..., Any],
) -> tuple[dict[str, inspect.Parameter], dict[str, Any]]:
    """The parameters of ``target`` (without ``self``) and their resolved annotations.

    A class whose ``__init__`` passes ``**kwargs`` on to its base (a training module adding
    one setting to ``TrainingModule``'s) takes its bases' parameters too: they are gathered
    along the method resolution order, down to the first ``__init__`` without ``**kwargs``. If
    a library's class (torch's, Lightning's) is reached first, ``**kwargs`` stays: any key.
    """
    if not inspect.isclass(target):
        return dict(inspect.signature(target).parameters), _hints(target)
    parameters: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    rest: inspect.Parameter | None = None
    for cls in target.__mro__:
        if cls is not target and "__init__" not in vars(cls):
            continue
        if cls is not target and cls.__module__.split(".")[0] in _LIBRARIES:
            parameters[rest.name] = rest  # the library takes what it takes: any key
            break
        # inspect.signature of a class drops ``self`` and sees a dataclass's generated __init__.
        own = dict(inspect.signature(cls).parameters)
        own_hints = _hints(cls.__init__) or _hints(cls)  # a dataclass's fields
        rest = next((p for p in own.values() if p.kind is inspect.Parameter.VAR_KEYWORD), None)
        for name, parameter in own.items():
            if parameter.kind is not inspect.Parameter.VAR_KEYWORD:
                parameters.setdefault(name, parameter)
                if name in own_hints:
                    hints.setdefault(name, own_hints[name])
        if rest is None:
            break
    return parameters, hints


def _hints(target: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target)
    except Exception:
        # An annotation naming something imported only for type checkers: check keys only.
        return {}


def _convert(value: Any, annotation: Any, where: str) -> Any:
    """``value`` converted to ``annotation``; raises _Mismatch at the innermost wrong part."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return value
    if annotation is None or annotation is type(None):
        if value is None:
            return None
        raise _Mismatch(where, "null", value)
    if origin in _UNIONS:
        return _convert_union(value, args, where)
    if origin is typing.Literal:
        # 1 == True, so the type has to match too.
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise _Mismatch(where, _describe(annotation), value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch(where, _describe(annotation), value)
    if annotation is int:
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
        raise _Mismatch(where, _describe(annotation), value)
    if annotation is float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _EXPONENT_IN_A_STRING.fullmatch(value):
            raise _Mismatch(
                where,
                "a float (YAML reads a number like 1e-3 as a string: write 1.0e-3 or 0.001)",
                value,
            )
        raise _Mismatch(where, _describe(annotation), value)
    if annotation is str:
        if isinstance(value, str):
            return value
        raise _Mismatch(where, _describe(annotation), value)
    if _is_path(annotation):
        if isinstance(value, str | os.PathLike):
            return value
        raise _Mismatch(where, _describe(annotation), value)
    container = origin or annotation
    if container in (list, tuple):
        if not isinstance(value, list | tuple):
            raise _Mismatch(where, _describe(annotation), value)
        items = _convert_items(value, args, container, where)
        return type(value)(items)
    if container is dict:
        if not isinstance(value, dict):
            raise _Mismatch(where, _describe(annotation), value)
        if len(args) != 2:
            return dict(value)
        key_type, value_type = args
        return {
            _convert(k, key_type, f"{where} key {k!r}"): _convert(v, value_type, f"{where}.{k}")
            for k, v in value.items()
        }
    return value  # a tensor, a module, a Callable: nothing a YAML file could hold is refused


def _convert_union(value: Any, members: tuple[Any, ...], where: str) -> Any:
    """The first member that takes ``value`` unchanged in type, else the first that converts
    it (so ``int | float`` keeps an int); a mismatch inside one member's container is reported
    there, not as the whole union."""
    converted, inner = [], None
    for member in members:
        try:
            result = _convert(value, member, where)
        except _Mismatch as mismatch:
            if mismatch.where != where and inner is None:
                inner = mismatch
            continue
        if type(result) is type(value):
            return result
        converted.append(result)
    if converted:
        return converted[0]
    if inner is not None:
        raise inner
    raise _Mismatch(where, _describe(typing.Union[members]), value)  # noqa: UP007


def _convert_items(value: Any, args: tuple[Any, ...], container: type, where: str) -> list:
    """The items of a list or tuple value, each checked against its annotation."""
    if container is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise _Mismatch(where, _describe(tuple[args]), value)
        return [
            _convert(v, a, f"{where}[{i}]")
            for i, (v, a) in enumerate(zip(value, args, strict=True))
        ]
    item = args[0] if args else Any
    return [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]


def _is_path(annotation: Any) -> bool:
    cls = get_origin(annotation) or annotation
    return inspect.isclass(cls) and issubclass(cls, os.PathLike | pathlib.PurePath)


_ARTICLES = {int: "an int", float: "a float", str: "a string", bool: "true or false"}
_PLURALS = {int: "ints", float: "floats", str: "strings", bool: "booleans"}


def _describe(annotation: Any) -> str:
    """What matches ``annotation``, as a message says it: 'an int', 'one of 'rnn', 'lstm''."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation in _ARTICLES:
        return _ARTICLES[annotation]
    if annotation is None or annotation is type(None):
        return "null"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in _UNIONS:
        real = [a for a in args if a is not type(None)]
        if any(_is_path(a) for a in real):
            # str | os.PathLike is one thing to a user: a path.
            real = [a for a in real if a is not str and not _is_path(a)] + [pathlib.Path]
        words = [_describe(a) for a in real]
        if type(None) in args:
            words.append("null")
        return " or ".join(words)
    if _is_path(annotation):
        return "a path (a string)"
    container = origin or annotation
    if container in (list, tuple):
        # YAML has lists, not tuples: a tuple is asked for as a list.
        if container is tuple and args and args[-1] is not Ellipsis:
            return f"a list of {len(args)} items ({', '.join(_describe(a) for a in args)})"
        return f"a list of {_plural(args[0])}" if args else "a list"
    if container is dict:
        return f"a mapping of {_plural(args[0])} to {_plural(args[1])}" if args else "a mapping"
    return getattr(annotation, "__name__", str(annotation))


def _plural(annotation: Any) -> str:
    return _PLURALS.get(annotation) or ("values" if annotation is Any else _describe(annotation))


def show_value(value: Any, limit: int = 60) -> str:
    """A value and its type as messages show them, cut to stay short: ``'six' (str)``."""
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"
