"""The registry of evaluations, apart from them so that each file of the package can import it."""

from __future__ import annotations

from collections.abc import Callable

from foveate.registry import Registry

Evaluation = Callable[..., dict[str, float]]
EVALUATIONS: Registry[Evaluation] = Registry("evaluation")
