"""Benchmarks: named specs, one runner that trains and evaluates them, the records it writes, and
the README's results table generated from those records.

Above ``training`` and ``reports`` (it trains through ``fit`` and evaluates through the public
API), below the command line (``foveate bench``).
"""

from foveate.bench.evaluations import EVALUATIONS
from foveate.bench.record import check_record, read_record
from foveate.bench.runner import Invocation, run_benchmark
from foveate.bench.spec import BENCHMARKS, BenchSpec, load_specs, register_benchmark

__all__ = [
    "BENCHMARKS",
    "EVALUATIONS",
    "BenchSpec",
    "Invocation",
    "check_record",
    "load_specs",
    "read_record",
    "register_benchmark",
    "run_benchmark",
]
