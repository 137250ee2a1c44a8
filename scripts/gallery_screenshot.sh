#!/usr/bin/env bash
# The zoo gallery of docs/reports.md: every pretrained model's page written to runs/zoo (from the
# shipped weights, figures on the MNIST sample shipped in the package), checked in headless
# Chromium, and its first 1200x1600 pixels saved as docs/figures/gallery.png.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/foveate report --zoo --sample --out runs/zoo --check --screenshot docs/figures/gallery.png
