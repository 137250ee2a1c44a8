"""Where a Catch agent's misses come from: how far the paddle is from the ball before the last
move, and where the agent looks at each step.

    python benchmarks/catch_misses.py ram_catch_stage1 --name ram_catch_stage1

Plays an agent (a benchmark's or probe's name, whose record names the weights of its seed 0, or a
checkpoint file) on the 1,000 validation games (seed 1, as GameDataModule's) greedily and prints,
and writes to the probe record benchmarks/records/probes/catch_misses_NAME.json: the return; the
histogram of the ball's column less the paddle's left column on the screen before the last move (a
catch needs the landing column 0 or 1 pixels right of the paddle's left end after the move, and the
ball drifts by at most a pixel on its last row, so -2 to 3 may still be caught); the mean height of
the glimpse at each step (normalised, -1 top, 1 bottom); the share of games in which the bottom row
lies inside the retina's middle and finest patches at the last step; and the mean horizontal
distance from the glimpse to the ball at each step, in pixels. ``return_training_mode_pct`` plays
the same games with the agent in training mode: where the glimpses are batch-normalised, with each
step's batch statistics instead of the running ones (the two differ for an agent trained that way).
"""

from __future__ import annotations

import argparse
import copy
import time

import torch
from common import load_trained, write_results

from foveate.data.catch import CatchVectorEnv
from foveate.data.games import GameBatch
from foveate.training.games import play

GAMES, SEED = 1000, 1  # the validation games


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("model", help="a benchmark of ram_agent, or a checkpoint")
    parser.add_argument("--name", required=True, help="the record is catch_misses_<name>")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    agent, _, source = load_trained(args.model)
    games = GameBatch(torch.arange(GAMES), SEED, CatchVectorEnv)
    with torch.no_grad():
        episode, screens = play(
            agent,
            games,
            greedy=True,
            record=True,
        )
        in_training_mode, _ = play(
            copy.deepcopy(agent).train(),  # a copy: its running statistics must not move
            games,
            greedy=True,
        )
    size = screens.shape[-1]
    field = screens[:, :, 0, :-1]  # (B, T, size - 1, size): the rows the ball falls through
    ball_x = field.sum(-2).argmax(-1)  # (B, T)
    paddle_left = screens[:, -1, 0, -1].argmax(-1)  # (B,) on the last screen seen
    offset = (ball_x[:, -1] - paddle_left).tolist()
    histogram = {d: offset.count(d) for d in range(min(offset), max(offset) + 1)}
    heights = episode.locations[..., 1]  # (B, T)
    centre_row = (heights[:, -1] + 1) / 2 * size
    windows = agent.glimpse_outlines(episode.locations[:, -1], size, size)  # (B, k, 4, 2)
    bottom = size - 1
    sees = {
        f"scale{k}": round(
            100.0
            * (
                (windows[:, k, :, 1].min(-1).values <= bottom)
                & (windows[:, k, :, 1].max(-1).values > bottom)
            )
            .float()
            .mean()
            .item(),
            1,
        )
        for k in range(windows.shape[1])
    }
    glimpse_x = (episode.locations[..., 0] + 1) / 2 * size
    record = {
        "return_pct": round(100 * episode.returns.mean().item(), 2),
        "return_training_mode_pct": round(100 * in_training_mode.returns.mean().item(), 2),
        "ball_minus_paddle_before_last_move": histogram,
        "within_reach_before_last_move_pct": round(
            100 * sum(v for d, v in histogram.items() if -2 <= d <= 3) / len(offset), 1
        ),
        "glimpse_height_by_step": [round(v, 2) for v in heights.mean(0).tolist()],
        "last_glimpse_centre_row": round(centre_row.mean().item(), 1),
        "bottom_row_inside_patch_at_last_step_pct": sees,
        "glimpse_to_ball_pixels_by_step": [
            round(v, 1) for v in (glimpse_x - ball_x - 0.5).abs().mean(0).tolist()
        ],
    }
    for key, value in record.items():
        print(f"{key}: {value}")
    path = write_results(
        f"catch_misses_{args.name}",
        metrics=record,
        seed=0,
        wall_s=time.perf_counter() - started,
        title=f"Where the Catch agent {args.name} misses: its {GAMES:,} games of seed "
        f"{SEED}, greedy",
        notes=(
            f"The Catch agent's misses on {GAMES:,} games of seed {SEED} (1: the "
            "validation games), played greedily: the ball's column less the paddle's before the "
            "last move, where the glimpses look at each step, and the return in training mode "
            "(benchmarks/catch_misses.py). Nested figures are flattened to metrics, kept whole "
            "under details."
        ),
        model=source,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
