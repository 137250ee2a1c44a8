"""Train, resume and test a run: a directory holding its config, checkpoints and CSV logs.

run_dir/
    config.yaml          the resolved config, the run's record
    checkpoints/last.ckpt  refreshed every few hundred steps and at each epoch's end
    checkpoints/best.ckpt  lowest validation error
    metrics.csv          the CSV log, every session of a resumed run
    results.json         test error and speed, written by ``train_and_test``
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from foveate.data.datamodule import TaskDataModule
from foveate.models import model_class
from foveate.training.checkpointing import (
    CONFIG_KEY,
    AtomicCheckpointIO,
    LastCheckpoint,
    RunRecord,
)
from foveate.training.classification import ClassifierModule
from foveate.training.config import RunConfig
from foveate.training.generation import GenerativeModule
from foveate.training.module import TrainingModule
from foveate.training.run_log import ResumableCSVLogger
from foveate.training.speed import TrainingSpeed

# Lightning's advice that does not apply here, silenced so that real warnings stand out.
_HARMLESS = (
    ".*does not have many workers.*",  # batches come from memory; workers would only add overhead
    ".*isinstance\\(treespec, LeafSpec\\).*",  # a deprecation inside Lightning itself
    ".*is smaller than the logging interval.*",  # tiny smoke runs
)


@contextmanager
def _quiet_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        for pattern in _HARMLESS:
            warnings.filterwarnings("ignore", pattern)
        yield


@dataclass
class FitResult:
    """What a training run produced."""

    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    monitor: str
    best_val: float
    epochs: int
    train_images_per_s: float
    train_seconds: float
    earlier_fit_seconds: float  # training and validation in earlier sessions of a resumed run
    global_rank: int


def module_class(model: str) -> type[TrainingModule]:
    """The LightningModule that trains a registered model, by the model's ``objective``."""
    objective = getattr(model_class(model), "objective", "classification")
    return {"classification": ClassifierModule, "generation": GenerativeModule}[objective]


def build(config: RunConfig) -> tuple[TaskDataModule, TrainingModule]:
    """The data and the LightningModule of a config, checked against each other.

    Raises ValueError (unknown task or model, bad sizes) before anything is trained.
    """
    settings = config.trainer_settings()
    data = TaskDataModule(**config.data)
    module = module_class(config.model)(
        model=config.model,
        model_args=config.model_args,
        max_epochs=settings.max_epochs,
        **config.optim,
    )
    check_input = getattr(module.model, "check_input_size", None)
    if check_input is not None:
        check_input(data.image_size, data.image_size)
    return data, module


def _trainer(config: RunConfig, run_dir: Path, speed: TrainingSpeed, monitor: str) -> L.Trainer:
    settings = config.trainer_settings()
    checkpoints = run_dir / "checkpoints"
    best = ModelCheckpoint(
        dirpath=checkpoints,
        filename="best",
        monitor=monitor,
        mode="min",
        save_top_k=1,
        enable_version_counter=False,
    )
    last = LastCheckpoint(checkpoints, every_n_steps=settings.checkpoint_every_n_steps)
    return L.Trainer(
        accelerator="cpu",
        devices=settings.devices,
        strategy="ddp" if settings.devices > 1 else "auto",
        max_epochs=settings.max_epochs,
        max_time={"minutes": settings.max_minutes} if settings.max_minutes else None,
        limit_train_batches=settings.limit_train_batches,
        gradient_clip_val=settings.gradient_clip_val,
        precision=settings.precision,
        # speed first: the checkpoints written after it then count the current batch
        callbacks=[speed, RunRecord(dataclasses.asdict(config)), best, last],
        plugins=[AtomicCheckpointIO()],
        logger=ResumableCSVLogger(run_dir, name="", version=""),
        enable_progress_bar=settings.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=50,
        num_sanity_val_steps=0,
        default_root_dir=run_dir,
    )


def fit(config: RunConfig, run_dir: str | os.PathLike, *, resume: bool = False) -> FitResult:
    """Train ``config`` in ``run_dir``; with ``resume``, continue from its ``last.ckpt``."""
    run_dir = Path(run_dir)
    settings = config.trainer_settings()
    last_path = run_dir / "checkpoints" / "last.ckpt"
    if resume and not last_path.is_file():
        raise FileNotFoundError(f"nothing to resume: {last_path} does not exist")
    if settings.threads:
        torch.set_num_threads(settings.threads)
    L.seed_everything(settings.seed, workers=True, verbose=False)
    data, module = build(config)
    data.prepare_data()  # a missing or corrupt data file fails here, before training starts
    run_dir.mkdir(parents=True, exist_ok=True)
    config.to_yaml(run_dir / "config.yaml")
    speed = TrainingSpeed()
    trainer = _trainer(config, run_dir, speed, module.monitor)
    with _quiet_warnings():
        trainer.fit(module, datamodule=data, ckpt_path=last_path if resume else None)
    if torch.distributed.is_initialized():
        # Testing happens on one process afterwards; a live process group would make its
        # metric syncs wait for the workers, which have finished.
        torch.distributed.destroy_process_group()
    best = trainer.checkpoint_callback
    score = best.best_model_score
    return FitResult(
        run_dir=run_dir,
        best_checkpoint=Path(best.best_model_path) if best.best_model_path else last_path,
        last_checkpoint=last_path,
        monitor=module.monitor,
        best_val=float(score) if score is not None else float("nan"),
        epochs=trainer.current_epoch,
        train_images_per_s=speed.images_per_s,
        train_seconds=speed.seconds,
        earlier_fit_seconds=speed.earlier_wall_seconds,
        global_rank=trainer.global_rank,
    )


def load_config(checkpoint: str | os.PathLike) -> RunConfig:
    """The run config a checkpoint carries, else the one saved beside it (run_dir/config.yaml for
    run_dir/checkpoints/x.ckpt, the record of checkpoints written before configs were kept inside).
    """
    path = Path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    carried = torch.load(path, map_location="cpu", weights_only=False).get(CONFIG_KEY)
    if carried is not None:
        return RunConfig.from_dict(carried, source=str(path))
    beside = path.resolve().parent.parent / "config.yaml"
    if not beside.is_file():
        raise FileNotFoundError(
            f"{path} carries no run config and there is no {beside} beside it: "
            "pass a checkpoint from its run directory (run_dir/checkpoints/)"
        )
    return RunConfig.from_yaml(beside)


def load_module(checkpoint: str | os.PathLike, config: RunConfig | None = None) -> TrainingModule:
    """The trained module of a checkpoint; ``config``, if the caller has already loaded it."""
    config = config or load_config(checkpoint)
    cls = module_class(config.model)
    return cls.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=False)


def evaluate(
    checkpoint: str | os.PathLike, *, samples: int = 1, data_overrides: dict | None = None
) -> dict[str, float]:
    """Test metrics of a checkpoint on its task's fixed test set.

    A classifier's test error averages M = ``samples`` glimpse paths per image; a generative
    model's bound is reported beside an importance-weighted estimate with K = ``samples``.

    Returns {"test_error_pct": ...} or {"test_nll_nats": ..., "test_nll_iw_nats": ...}, with
    "samples" and "test_images".
    """
    config = load_config(checkpoint).updated({"data": data_overrides or {}})
    module = load_module(checkpoint, config)
    module.hparams.eval_samples = samples
    data = TaskDataModule(**config.data)
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    L.seed_everything(config.trainer_settings().seed, verbose=False)
    with _quiet_warnings():
        (metrics,) = trainer.test(module, datamodule=data, verbose=False)
    return {**metrics, "samples": samples, "test_images": len(data.datasets["test"])}


def train_and_test(
    config: RunConfig, run_dir: str | os.PathLike, *, resume: bool = False, samples: int = 1
) -> dict:
    """Fit, then test the best checkpoint; write and return run_dir/results.json."""
    started = time.perf_counter()
    result = fit(config, run_dir, resume=resume)
    if result.global_rank != 0:
        return {}  # under DDP, the other processes only train
    summary = {
        **evaluate(result.best_checkpoint, samples=samples),
        f"best_{result.monitor}": result.best_val,
        "epochs": result.epochs,
        "train_images_per_s": result.train_images_per_s,
        "train_seconds": result.train_seconds,
        # a resumed run counts the sessions before this one too
        "wall_s": result.earlier_fit_seconds + time.perf_counter() - started,
        "best_checkpoint": str(result.best_checkpoint),
    }
    (Path(run_dir) / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
