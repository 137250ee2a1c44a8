#!/usr/bin/env bash
# Quickstart on a fresh machine: install, train RAM on the MNIST sample shipped in the package
# (no data files, no network beyond the package registry), print the test error, draw glimpses.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf runs/quickstart
.venv/bin/foveate train ram --config configs/ram/quickstart.yaml --run-dir runs/quickstart
.venv/bin/foveate show runs/quickstart/checkpoints/best.ckpt --out runs/quickstart/figures
