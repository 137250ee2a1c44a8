#!/usr/bin/env bash
# Create .venv (if missing) and install foveate into it, torch first.
# torch is pinned to the CPU build first: left to resolve itself, pip would fetch a multi-GB
# CUDA build. The project's own range (pyproject.toml) admits that version, so pip keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install --quiet "torch==${TORCH_VERSION:-2.13.0}"
.venv/bin/python -m pip install --quiet -e ".[dev]"
