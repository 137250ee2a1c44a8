"""How long a default ``foveate train MODEL`` takes on this machine: every registered model, its
defaults (no config file), timed over a few training batches and scaled to its epochs.

A default run trains ``max_epochs`` (the trainer's default, 100) epochs of its data source's
default epoch, and validates after each; this measures the training steps alone (the speed meter
leaves validation out) after a few warm-up batches, so the hours it prints are a floor. Measure
with nothing else running: two timed runs at once on two cores measure each other.

    python benchmarks/default_train_times.py --data-dir ../shared/data/mnist --threads 2
"""

from __future__ import annotations

import argparse
import math
import time

import lightning as L
import torch
from common import write_results
from tqdm import tqdm

import foveate
from foveate.training.config import RunConfig
from foveate.training.fit import build
from foveate.training.speed import TrainingSpeed

WARM_UP = 3  # batches before the clock starts: the first ones pay for allocation and compiling


class AfterWarmUp(TrainingSpeed):
    """The speed meter, started only after ``WARM_UP`` batches."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx + 1 == WARM_UP:
            self.images, self.seconds = 0, 0.0
            self._start()
        elif batch_idx + 1 > WARM_UP:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


def time_model(name: str, data_dir: str | None, batches: int) -> dict[str, float]:
    """Seconds per training image and per default epoch, and the default run's hours."""
    config = RunConfig.from_dict(
        {"model": name, "data": {"data_dir": data_dir} if data_dir else {}}
    )
    data, module, config = build(config)
    epochs = config.trainer_settings().max_epochs
    speed = AfterWarmUp()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=-1,
        max_epochs=1,
        limit_train_batches=WARM_UP + batches,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[speed],
    )
    trainer.fit(module, datamodule=data)
    epoch_batches = len(data.train_dataloader())
    per_image = speed.seconds / speed.images
    per_epoch = per_image * speed.images / batches * epoch_batches
    return {
        "images_per_s": round(speed.images / speed.seconds, 1),
        "epoch_min": round(per_epoch / 60, 2),
        "default_epochs": epochs,
        "default_run_h": round(per_epoch * epochs / 3600, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="registered models (default: every one)")
    parser.add_argument("--data-dir", help="the datasets' directory (MNIST's)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--batches", type=int, default=20, help="timed batches per model")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.models or foveate.list_models()
    started = time.perf_counter()
    timed, refused = {}, {}
    for name in tqdm(names, desc="models"):
        try:
            timed[name] = time_model(name, args.data_dir, args.batches)
        except (ValueError, FileNotFoundError) as error:  # a model with no default data
            refused[name] = str(error).splitlines()[0]
    for name, got in timed.items():
        print(
            f"{name:16s} {got['images_per_s']:9.1f} img/s  epoch {got['epoch_min']:7.2f} min  "
            f"{got['default_epochs']} epochs: {got['default_run_h']:6.2f} h"
        )
    for name, why in refused.items():
        print(f"{name:16s} no default run: {why}")
    write_results(
        "default_train_times",
        metrics={f"{n}_{k}": v for n, got in timed.items() for k, v in got.items()},
        seed=0,
        wall_s=time.perf_counter() - started,
        title="How long a default `foveate train MODEL` takes on this machine",
        notes=(
            f"Each registered model with no config (its defaults), {args.threads} torch "
            f"thread(s), {args.batches} training batches timed after {WARM_UP} warm-up ones, "
            "validation left out; <model>_epoch_min the default epoch scaled from them, "
            "<model>_default_run_h the default max_epochs of them (a floor: validation and "
            "testing come on top). "
            + (
                f"No default run: {'; '.join(f'{n}: {w}' for n, w in refused.items())}."
                if refused
                else ""
            )
        ),
        details={"timed": timed, "refused": refused},
    )
    if not math.isfinite(sum(t["default_run_h"] for t in timed.values())):
        raise SystemExit("a model timed no images")


if __name__ == "__main__":
    main()
