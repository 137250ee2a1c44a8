"""Where RAM looked, on every row's task: test canvases it classified right and wrong.

    python benchmarks/ram_figures.py runs/bench-ram_cluttered100_8g-seed0/checkpoints/best.ckpt \\
        --name cluttered100_8g

Runs the checkpoint on the first test canvases (one glimpse path each, M = 1) and draws the
first ``--right`` canvases it answered right and the first ``--wrong`` it answered wrong: every
glimpse on the canvas (``docs/figures/ram_<name>_glimpses.png``), and what the finest patch saw
at each step (``ram_<name>_views.png``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from common import load_run

from foveate.reports.glimpses import glimpse_episodes, glimpse_grid, view_strips

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument(
        "--name", required=True, help="the figures are docs/figures/ram_<name>_*.png"
    )
    parser.add_argument("--data-dir", help="the dataset's directory, if not the run's")
    parser.add_argument("--right", type=int, default=2)
    parser.add_argument("--wrong", type=int, default=2)
    parser.add_argument("--canvases", type=int, default=500, help="test canvases to search")
    args = parser.parse_args()
    model, _, data = load_run(args.checkpoint, data_dir=args.data_dir, stage="test")
    test = data.datasets["test"]
    images, labels = test.__getitems__(list(range(min(args.canvases, len(test)))))
    torch.manual_seed(0)
    episodes = glimpse_episodes(model, images, labels)
    right = (episodes.predictions == episodes.labels).nonzero().flatten()[: args.right]
    wrong = (episodes.predictions != episodes.labels).nonzero().flatten()[: args.wrong]
    chosen = episodes.select(torch.cat([right, wrong]))
    figures = ROOT / "docs" / "figures"
    for path in (
        glimpse_grid(figures / f"ram_{args.name}_glimpses.png", chosen),
        view_strips(figures / f"ram_{args.name}_views.png", chosen),
    ):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
