"""Data-parallel training across machines through Lightning's DDP: two 'nodes' on this machine.

Each node is a separate Python process with one CPU process of its own (``devices`` 1,
``num_nodes`` 2), started as a cluster's launcher would start it on its own machine: the main
node's address and port in MASTER_ADDR and MASTER_PORT (the loopback address here), its node
rank in NODE_RANK, and nothing else. LOCAL_RANK is left unset, so Lightning's
``LightningEnvironment`` launches the node's (single) local process itself and sets the world
size to devices x num_nodes. The nodes share no directory, as separate machines would not.
"""

import json
import os
import socket
import subprocess
import sys
import time

import pytest
import torch

# One node: foveate's Python API, then what the test compares (initial and final weights, and
# what the trainer saw). argv: config (JSON), run directory, output file.
NODE = """
import json, sys

import lightning as L
import torch

from foveate.training.config import RunConfig
from foveate.training.fit import build, fit

config = RunConfig.from_dict(json.loads(sys.argv[1]))
# The weights fit() starts from: it seeds, then builds, in this order.
L.seed_everything(config.trainer_settings().seed, verbose=False)
initial = {k: v.clone() for k, v in build(config)[1].state_dict().items()}
result = fit(config, sys.argv[2])
trainer = result.module.trainer
torch.save(
    {
        "initial": initial,
        "final": result.module.state_dict(),
        "global_rank": result.global_rank,
        "world_size": trainer.world_size,
        "node_rank": trainer.node_rank,
        "global_step": trainer.global_step,
    },
    sys.argv[3],
)
"""

TINY_RAM = {
    "model": "ram",
    "model_args": {
        "glimpses": 2,
        "what_size": 16,
        "where_size": 16,
        "glimpse_size": 32,
        "hidden_size": 32,
    },
    "data": {"task": "mnist", "sample": True, "val_size": 500, "batch_size": 32},
    "trainer": {
        "max_epochs": 1,
        "limit_train_batches": 4,
        "accelerator": "cpu",
        "devices": 1,
        "num_nodes": 2,
        "progress_bar": False,
        "threads": 1,
    },
}

# Variables a surrounding launcher (torchrun, SLURM, an outer Lightning run) may have set, which
# would tell Lightning another story than the one each node is given here.
LAUNCHER_VARIABLES = (
    "LOCAL_RANK",
    "RANK",
    "GROUP_RANK",
    "WORLD_SIZE",
    "LOCAL_WORLD_SIZE",
    "NODE_RANK",
    "MASTER_ADDR",
    "MASTER_PORT",
    "PL_GLOBAL_SEED",
    "SLURM_NTASKS",
    "SLURM_JOB_NAME",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_environment(node_rank: int, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    env.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        NODE_RANK=str(node_rank),
        OMP_NUM_THREADS="1",
    )
    return env


def tail(path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@pytest.mark.slow
def test_two_nodes_train_data_parallel_to_the_same_weights(tmp_path):
    script = tmp_path / "node.py"
    script.write_text(NODE)
    port = free_port()
    nodes, logs = [], []
    try:
        for rank in (0, 1):
            log = tmp_path / f"node{rank}.log"
            logs.append(log)
            with open(log, "w") as out:
                nodes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            str(script),
                            json.dumps(TINY_RAM),
                            str(tmp_path / f"run{rank}"),  # no shared disk between machines
                            str(tmp_path / f"node{rank}.pt"),
                        ],
                        env=node_environment(rank, port),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        deadline = time.monotonic() + 240
        for node, log in zip(nodes, logs, strict=True):
            try:
                node.wait(timeout=max(deadline - time.monotonic(), 1))
            except subprocess.TimeoutExpired:
                pytest.fail(f"a node did not finish within 240 s:\n{tail(log)}")
            assert node.returncode == 0, tail(log)
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait()

    first, second = (torch.load(tmp_path / f"node{r}.pt") for r in (0, 1))
    # One process per node, two in all: each knows its place in the world of two.
    assert [first["world_size"], second["world_size"]] == [2, 2]
    assert [first["node_rank"], second["node_rank"]] == [0, 1]
    assert [first["global_rank"], second["global_rank"]] == [0, 1]
    assert first["global_step"] == second["global_step"] == 4
    # Each node drew its own training canvases; DDP averaged the gradients, so the replicas
    # stayed identical, bit for bit, and training moved them away from where they began.
    final, other = first["final"], second["final"]
    assert final.keys() == other.keys() == first["initial"].keys()
    assert all(torch.equal(final[k], other[k]) for k in final)
    assert all(torch.equal(first["initial"][k], second["initial"][k]) for k in final)
    unmoved = [k for k in final if torch.equal(final[k], first["initial"][k])]
    assert not unmoved, f"not trained: {unmoved}"
