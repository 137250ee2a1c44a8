"""Evaluations a benchmark runs on each seed's best checkpoint, beyond the test its training ran.

An evaluation is a function ``(checkpoint, config, **arguments) -> {metric: number}`` registered
by name with ``@EVALUATIONS.register("name")`` in any module of this package (each module is
imported by walking the package, so a new kind's evaluations are a new file); a spec lists them
as ``{"name": ..., **arguments}``. They read checkpoints through the library's public API
(``foveate.load``, ``evaluate``) only.
"""

from foveate.bench.evaluations.common import numbers
from foveate.bench.evaluations.registry import EVALUATIONS, Evaluation
from foveate.registry import import_submodules

import_submodules(__name__)

__all__ = ["EVALUATIONS", "Evaluation", "numbers"]
