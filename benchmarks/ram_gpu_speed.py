"""RAM's training throughput on a CUDA GPU: images per second of the training step.

    python benchmarks/ram_gpu_speed.py

The model of configs/ram/mnist.yaml (6 glimpses of 8x8, the paper's sizes), trained by the
step the harness runs (``TrainingModule``): forward pass and hybrid loss (optionally through
``torch.compile``, as ``optim.compile`` does), backward pass, fused Adam step, with the glimpse
noise drawn outside the compiled function. Batches of 128 and 1024 digits of the shipped MNIST
sample are taken from GPU memory, so data loading is not timed. Each configuration warms up
first (compilation included), then times ``--steps`` steps between ``torch.cuda.synchronize``
calls, ``--repeats`` times; the median is reported. Writes benchmarks/records/probes/ram_gpu_speed.json,
whose machine string names the GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from common import write_results

from foveate.data.mnist import load_mnist_sample
from foveate.models.interface import loss_parts
from foveate.models.ram import RecurrentAttentionModel
from foveate.training.config import RunConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "ram" / "mnist.yaml"
BATCH_SIZES = (128, 1024)


def throughput(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    model_args: dict,
    lr: float,
    batch_size: int,
    compiled: bool,
    warmup: int,
    steps: int,
    repeats: int,
    seed: int,
) -> tuple[float, float]:
    """Train a fresh RAM on (N, 1, 28, 28) images on the GPU; returns the median training
    images/s over ``repeats`` timings of ``steps`` steps, and the warm-up's seconds (which
    include compilation)."""
    torch.manual_seed(seed)
    torch._dynamo.reset()  # each configuration compiles its own graph, for its own batch size
    model = RecurrentAttentionModel(**model_args).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)

    def losses(images: torch.Tensor, labels: torch.Tensor, noise: torch.Tensor) -> dict:
        return loss_parts(model.loss(model(images, noise), labels))

    train_losses = torch.compile(losses) if compiled else losses
    picks = torch.randint(0, len(labels), (warmup + steps, batch_size), device="cuda")

    def step(i: int) -> None:
        batch, targets = images[picks[i]], labels[picks[i]]
        loss = train_losses(batch, targets, model.sample_noise(batch))["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    torch.cuda.synchronize()
    started = time.perf_counter()
    for i in range(warmup):
        step(i)
    torch.cuda.synchronize()
    warmup_s = time.perf_counter() - started
    rates = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        started = time.perf_counter()
        for i in range(warmup, warmup + steps):
            step(i)
        torch.cuda.synchronize()
        rates.append(steps * batch_size / (time.perf_counter() - started))
    return statistics.median(rates), warmup_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="timed steps per repeat")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("ram_gpu_speed: needs a CUDA GPU, and torch.cuda.is_available() is False")
    started = time.perf_counter()
    config = RunConfig.from_yaml(CONFIG)
    lr = config.optim.get("lr", 1e-3)
    digits, labels = load_mnist_sample("train")
    images = digits[:, None].float().div_(255).cuda()  # (N, 1, 28, 28) in [0, 1]
    labels = labels.cuda()
    metrics = {}
    for compiled in (False, True):
        for batch_size in BATCH_SIZES:
            name = f"b{batch_size}" + ("_compiled" if compiled else "")
            rate, warmup_s = throughput(
                images,
                labels,
                model_args=config.model_args,
                lr=lr,
                batch_size=batch_size,
                compiled=compiled,
                warmup=args.warmup,
                steps=args.steps,
                repeats=args.repeats,
                seed=args.seed,
            )
            metrics[f"train_images_per_s_{name}"] = round(rate, 1)
            metrics[f"warmup_s_{name}"] = round(warmup_s, 1)
            print(f"{name:16s} {rate:10.0f} images/s (warm-up {warmup_s:.1f} s)", flush=True)
    path = write_results(
        "ram_gpu_speed",
        metrics=metrics,
        seed=args.seed,
        wall_s=time.perf_counter() - started,
        config={"model_args": config.model_args, "lr": lr, **vars(args)},
        notes=(
            f"RAM of {CONFIG.relative_to(ROOT)} on one CUDA GPU (named in machine), float32 "
            f"(matmul precision {torch.get_float32_matmul_precision()!r}): images/s of the "
            "training step alone (forward, hybrid loss, backward, fused Adam), batches of the "
            f"shipped MNIST sample already in GPU memory; median of {args.repeats} timings of "
            f"{args.steps} steps after {args.warmup} warm-up steps. '_compiled': forward and "
            "loss through torch.compile, as optim.compile does; warmup_s_* is the warm-up's "
            "wall time, compilation included."
        ),
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
