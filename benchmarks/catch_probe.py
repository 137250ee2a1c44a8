"""A short REINFORCE run of the Catch agent outside the harness, for finding what lets it learn.

    python benchmarks/catch_probe.py NAME --lr 2e-4 --model "normalise_glimpse=True" \\
        --game "max_drift=0.0" --seconds 240

Plays ``--games`` training games a step (new seeds each step) and every 100 steps 1,000 fixed
games greedily; prints and writes to benchmarks/records/logs/catch_probes/NAME.log one line per
check: step, seconds, the training games' mean return, the greedy return, the moves' entropy,
the mean height of the greedy agent's last glimpse (-1 top, 1 bottom).
Model and game settings are keyword arguments of ``RecurrentAttentionAgent`` and
``CatchVectorEnv``, as ``key=value`` pairs separated by commas.
"""

from __future__ import annotations

import argparse
import functools
import re
import time
from pathlib import Path

import torch
import yaml
from common import LOGS

from foveate.data.catch import CatchVectorEnv
from foveate.data.games import GameBatch
from foveate.models.ram_agent import RecurrentAttentionAgent
from foveate.training.games import play


def settings(text: str) -> dict:
    items = re.split(r",(?![^\[]*\])", text)  # commas inside [...] belong to a list
    pairs = [item.partition("=") for item in items if item.strip()]
    return {key.strip(): yaml.safe_load(value) for key, _, value in pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--games", type=int, default=128)
    parser.add_argument("--copies", type=int, default=1, help="plays of each training game")
    parser.add_argument("--seconds", type=float, default=240)
    parser.add_argument("--model", default="", help="agent settings, e.g. hidden_size=64,scales=2")
    parser.add_argument("--game", default="", help="Catch settings, e.g. size=10,max_drift=0.5")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    agent = RecurrentAttentionAgent(**settings(args.model))
    optimiser = torch.optim.Adam(agent.parameters(), lr=args.lr)
    make = functools.partial(CatchVectorEnv, **settings(args.game))
    out = LOGS / "catch_probes"
    out.mkdir(parents=True, exist_ok=True)
    log = Path(out / f"{args.name}.log")
    lines = [
        f"# {vars(args)}",
        "step seconds train_return greedy_return entropy last_glimpse_height",
    ]
    started = time.time()
    step = 0
    while True:
        # an annealed schedule runs over the probe's budget
        agent.set_progress(min(1.0, (time.time() - started) / args.seconds))
        batch = GameBatch(torch.arange(args.games), 1000 + step, make, args.copies)
        episode, _ = play(agent, batch)
        loss = agent.loss(episode, copies=args.copies)
        optimiser.zero_grad()
        loss.total.backward()
        optimiser.step()
        if step % 100 == 0:
            agent.eval()  # as validation plays: batch-normalised glimpses use running statistics
            with torch.no_grad():
                greedy, _ = play(agent, GameBatch(torch.arange(1000), 7, make), greedy=True)
            agent.train()
            line = (
                f"{step} {time.time() - started:.0f} {episode.returns.mean():.3f} "
                f"{greedy.returns.mean():.3f} {loss.entropy.item():.3f} "
                f"{greedy.locations[:, -1, 1].mean():.2f}"
            )
            print(line, flush=True)
            lines.append(line)
            log.write_text("\n".join(lines) + "\n")
        step += 1
        if time.time() - started > args.seconds:
            break


if __name__ == "__main__":
    main()
