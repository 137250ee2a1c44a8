"""What 2 MB pages save on long sequences: one training step of feed-forward attention on a batch
of 100 sequences of ``--length`` steps, with PyTorch's large-tensor huge pages on and off.

    python benchmarks/page_faults.py --length 11000 --threads 1

Importing foveate sets ``THP_MEM_ALLOC_ENABLE=1`` (foveate/__init__.py); this script times the
same step in two fresh processes, one with the setting at 1 and one at 0, each importing foveate
first, and reports for each the seconds a step and the minor page faults a step (the kernel
filling freshly mapped memory), over ``--steps`` steps after one warm-up step. Time it with
nothing else running. Writes benchmarks/records/probes/page_faults.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from common import write_results

STEP = """
import json, resource, sys, time
import foveate, torch
from foveate.models.ffattention import FeedForwardAttention
length, steps, threads = map(int, sys.argv[1:4])
torch.manual_seed(0)
torch.set_num_threads(threads)
model = FeedForwardAttention(attention_size=16)
optimiser = torch.optim.Adam(model.parameters(), 1e-3)
x, y = torch.rand(100, length, 2), torch.rand(100)

def step():
    loss = model.loss(model(x), y).total
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()

step()
usage = resource.getrusage(resource.RUSAGE_SELF)
start = time.perf_counter()
for _ in range(steps):
    step()
seconds = (time.perf_counter() - start) / steps
after = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "s_per_step": seconds,
    "page_faults_per_step": (after.ru_minflt - usage.ru_minflt) / steps,
    "kernel_s_per_step": (after.ru_stime - usage.ru_stime) / steps,
}))
"""


def measure(length: int, steps: int, threads: int, huge_pages: bool) -> dict[str, float]:
    env = {**os.environ, "THP_MEM_ALLOC_ENABLE": "1" if huge_pages else "0"}
    done = subprocess.run(
        [sys.executable, "-c", STEP, str(length), str(steps), str(threads)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=11000, help="steps a sequence")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    start = time.time()
    metrics: dict[str, float] = {}
    for name, huge in (("huge_pages", True), ("small_pages", False)):
        for key, value in measure(args.length, args.steps, args.threads, huge).items():
            metrics[f"{key}_{name}"] = round(value, 4 if "s_per" in key else 1)
        print(name, {k: v for k, v in metrics.items() if k.endswith(name)}, flush=True)
    metrics["speedup"] = round(
        metrics["s_per_step_small_pages"] / metrics["s_per_step_huge_pages"], 2
    )
    write_results(
        "page_faults",
        metrics=metrics,
        seed=0,
        wall_s=time.time() - start,
        notes=(
            f"One Adam step of feed-forward attention (attention_size 16) on 100 sequences of "
            f"{args.length} steps, {args.threads} thread(s), mean of {args.steps} steps after a "
            "warm-up, in a fresh process with THP_MEM_ALLOC_ENABLE=1 (huge_pages: foveate's "
            "default) and =0 (small_pages). page_faults: minor faults (getrusage ru_minflt); "
            "kernel_s: system time. Nothing trained; no labels."
        ),
        config={"length": args.length, "steps": args.steps, "threads": args.threads},
    )


if __name__ == "__main__":
    main()
