"""Gradients that agree across processes (issue 35, item 4): data-parallel training over two CPU
processes, each with half of a batch, takes the same step as one process with the whole batch.

Each process wraps the training module in ``DistributedDataParallel`` (over gloo, as Lightning's
``--devices 2`` does on the CPU) with a forward that is the training step's own loss,
``batch_losses(batch)["total"]``, and backpropagates it on its half; DDP averages the two halves'
gradients. One process on the whole batch must get those gradients, up to float rounding: a loss
that is a mean over the batch averages correctly across processes, and anything computed over the
batch as a whole (a normaliser, a running statistic) would show here as a disagreement.

The random draws of the training step (RAM's glimpse locations, AIR's z_pres, z_where, z_what)
are drawn once for the whole batch and handed to each process with its half of the images
(``draw_noise`` returns them), so both sides sample the same glimpses for the same images.
"""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from foveate.training.module import TRAINING_MODULES

BATCH = 16  # two processes of 8
WORLD = 2

# name -> (training module, model, model arguments): RAM as [1] trains it and with the clutter
# recipe's options (a reward at every step, REINFORCE into the core, an annealed std); AIR with
# each estimator of z_pres's gradient, and DAIR.
RAM = dict(glimpses=3, patch_size=6, what_size=16, where_size=16, glimpse_size=32, hidden_size=32)
SCENES = dict(image_size=24, steps=2, z_what_size=4, lstm_size=16, hidden_size=16, embed_size=16)
CASES = {
    "ram": ("classifier", "ram", RAM),
    "ram_recipe": (
        "classifier",
        "ram",
        {
            **RAM,
            "classify_every_step": True,
            "reward": "step_probability",
            "policy_to_core": True,
            "reinforce_weight": 0.1,
            "location_hidden": 16,
            "location_std_schedule": "annealed",
        },
    ),
    "air_enumerate": ("scenes", "air", {**SCENES, "window": 8, "estimator": "enumerate"}),
    "air_concrete": ("scenes", "air", {**SCENES, "window": 8, "estimator": "concrete"}),
    "air_reinforce": ("scenes", "air", {**SCENES, "window": 8, "estimator": "reinforce"}),
    "dair_enumerate": ("scenes", "dair", {**SCENES, "window": 8, "estimator": "enumerate"}),
}


def case(name: str):
    """The training module of case ``name`` (its weights seeded), a batch of BATCH inputs and
    the training step's random draws for it, all the same in every process."""
    training, model, model_args = CASES[name]
    torch.manual_seed(0)
    module = TRAINING_MODULES[training](model=model, model_args=model_args, max_epochs=1)
    generator = torch.Generator().manual_seed(1)
    if training == "classifier":
        images = torch.rand(BATCH, 1, 28, 28, generator=generator)
        batch = (images, torch.randint(0, 10, (BATCH,), generator=generator))
    else:
        # sparse scenes: a few bright blobs on black, in [0, 1] as the scenes' pixels are
        images = torch.rand(BATCH, 1, 24, 24, generator=generator).pow(8)
        batch = (images, {})  # the truth never reaches the loss
    torch.manual_seed(2)
    (draws,) = module.draw_noise(images)
    return module, batch, draws


def part(batch, rows: slice):
    """Rows ``rows`` of a batch (images, labels or truth)."""
    images, other = batch
    return images[rows], other[rows] if isinstance(other, torch.Tensor) else other


class TrainingLoss(nn.Module):
    """A training module whose forward is its training step's loss, as Lightning's strategy
    wraps it for DDP; ``draws``: the random draws of the batch it is given."""

    def __init__(self, module: nn.Module, draws: torch.Tensor) -> None:
        super().__init__()
        self.module = module
        module.draw_noise = lambda images: (draws,)

    def forward(self, batch) -> torch.Tensor:
        return self.module.batch_losses(batch)["total"]


def step(module: nn.Module, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    """The gradients of ``loss`` and the buffers after it (a running statistic a step moves)."""
    module.zero_grad()
    loss.backward()
    grads = {f"grad {n}": p.grad.clone() for n, p in module.named_parameters()}
    return {**grads, **{f"buffer {n}": b.clone() for n, b in module.named_buffers()}}


def ddp_worker(rank: int, init_file: str, out_dir: str) -> None:
    """Process ``rank`` of WORLD: each case's step on its half of the batch, through DDP."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        results = {}
        for name in CASES:
            module, batch, draws = case(name)
            rows = slice(rank * BATCH // WORLD, (rank + 1) * BATCH // WORLD)
            ddp = DistributedDataParallel(TrainingLoss(module, draws[rows]))
            results[name] = step(module, ddp(part(batch, rows)))
        torch.save(results, f"{out_dir}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def ddp_steps(tmp_path_factory) -> list[dict]:
    """Each case's step in each of the two processes (spawned once for every case)."""
    where = tmp_path_factory.mktemp("ddp")
    mp.spawn(ddp_worker, args=(str(where / "init"), str(where)), nprocs=WORLD, join=True)
    return [torch.load(where / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def one_process_step(name: str, rows: slice = slice(None)) -> dict[str, torch.Tensor]:
    module, batch, draws = case(name)
    return step(module, TrainingLoss(module, draws[rows])(part(batch, rows)))


def agree(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal up to float32 rounding, relative to the tensor's size."""
    scale = max(a.abs().max().item(), b.abs().max().item(), 1e-3)
    return torch.allclose(a, b, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("name", list(CASES))
def test_two_processes_on_half_batches_take_one_process_step_on_the_whole(ddp_steps, name):
    whole = one_process_step(name)
    first_half = one_process_step(name, slice(0, BATCH // WORLD))
    grads = [k for k in whole if k.startswith("grad ")]
    # Every parameter is trained, and half of the batch alone would take another step: the
    # comparison below can tell the whole batch's gradient from a half's.
    assert all(whole[k].abs().sum() > 0 for k in grads), [k for k in grads if not whole[k].any()]
    assert not all(agree(whole[k], first_half[k]) for k in grads)
    for rank, steps in enumerate(ddp_steps):
        ours = steps[name]
        assert ours.keys() == whole.keys()
        differ = [k for k in whole if not agree(ours[k], whole[k])]
        assert not differ, f"process {rank} of {WORLD}: {differ}"
