#!/usr/bin/env bash
# Install (see setup.sh), lint, and run every test, the end-to-end training ones included.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check foveate tests benchmarks scripts
.venv/bin/ruff format --check foveate tests benchmarks scripts
.venv/bin/python -m pytest -q "$@"
