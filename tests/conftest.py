"""Shared by the test files: tests marked ``cuda`` skip on a machine without a CUDA GPU, and the
property-based tests (hypothesis) run a fixed budget of examples.

The ``ci`` profile, the default, draws the same examples on every run (``derandomize``) and
keeps no database, so that a failure in CI is a failure on every machine; set
``HYPOTHESIS_PROFILE=search`` to let hypothesis look much longer, from fresh random seeds.
"""

import os

import pytest
import torch

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is a dev dependency; the property tests skip without it
    settings = None

if settings is not None:
    settings.register_profile(
        "ci",
        max_examples=50,
        deadline=None,  # the first example of a test pays for torch's warm-up
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("search", max_examples=1000, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


if os.environ.get("PYTEST_XDIST_WORKER"):
    # tests spread over processes (pytest -n): one thread each, not each all of the cores
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)
