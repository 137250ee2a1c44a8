#!/usr/bin/env bash
# Install (see setup.sh), lint, and run every test, the end-to-end training ones included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check foveate tests benchmarks scripts
.venv/bin/ruff format --check foveate tests benchmarks scripts
# Two processes of one torch thread each (tests/conftest.py): about 1.5 times as fast as one
# process of two threads on a 2-core machine, as most tests run small models.
.venv/bin/python -m pytest -q -n "${FOVEATE_TEST_PROCESSES:-2}" "$@"
