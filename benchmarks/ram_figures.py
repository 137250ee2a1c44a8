"""Where RAM looked, on every row's task: test canvases it classified right and wrong.

    python benchmarks/ram_figures.py ram_cluttered100_8g --name cluttered100_8g

Runs a RAM (a benchmark's name, whose record names the weights of its seed 0, or a checkpoint file)
on the first 500 test canvases (one glimpse path each, M = 1) and draws the first two canvases it
answered right and the first two it answered wrong: every glimpse on the canvas
(``docs/figures/ram_<name>_glimpses.png``), and what the finest patch saw at each step
(``ram_<name>_views.png``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from common import load_data, load_trained

from foveate.reports.glimpses import glimpse_episodes, glimpse_grid, view_strips

ROOT = Path(__file__).resolve().parents[1]
CANVASES, RIGHT, WRONG = 500, 2, 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a benchmark of ram, or a checkpoint")
    parser.add_argument(
        "--name", required=True, help="the figures are docs/figures/ram_<name>_*.png"
    )
    parser.add_argument("--data-dir", help="the dataset's directory, if not the run's")
    args = parser.parse_args()
    model, config, _ = load_trained(args.model)
    data = load_data(config, data_dir=args.data_dir, stage="test")
    test = data.datasets["test"]
    images, labels = test.__getitems__(list(range(min(CANVASES, len(test)))))
    torch.manual_seed(0)
    episodes = glimpse_episodes(model, images, labels)
    right = (episodes.predictions == episodes.labels).nonzero().flatten()[:RIGHT]
    wrong = (episodes.predictions != episodes.labels).nonzero().flatten()[:WRONG]
    chosen = episodes.select(torch.cat([right, wrong]))
    figures = ROOT / "docs" / "figures"
    for path in (
        glimpse_grid(figures / f"ram_{args.name}_glimpses.png", chosen),
        view_strips(figures / f"ram_{args.name}_views.png", chosen),
    ):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
