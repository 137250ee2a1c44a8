"""Train, resume and test a run: a directory holding its config, checkpoints and CSV logs.

run_dir/
    config.yaml          the resolved config, the run's record
    checkpoints/last.ckpt  refreshed every few hundred steps and at each epoch's end
    checkpoints/best.ckpt  the best validation score (the training module's ``monitor``); none
                           with ``trainer.test_checkpoint: last``, which tests last.ckpt
    metrics.csv          the CSV log, every session of a resumed run
    tensorboard/         TensorBoard's event files, with ``trainer.logger: tensorboard``
    results.json         test metrics and speed, written by ``train_and_test``

Everything model-specific comes from the registry: the model's entry names its training module
and its data source, and the training module says what it monitors and what its test reports.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from foveate.data.sources import DATA_SOURCES
from foveate.models import model_entry
from foveate.training.checkpointing import (
    CONFIG_KEY,
    WEIGHTS_SUFFIX,
    AtomicCheckpointIO,
    CheckpointError,
    CheckpointFormatError,
    LastCheckpoint,
    RunRecord,
    batches_trained,
    read_checkpoint,
    read_weights_config,
    remove_partial_saves,
)
from foveate.training.config import RunConfig, TrainerSettings
from foveate.training.divergence import StopOnNonFiniteLoss, stop_on_invalid_distribution
from foveate.training.module import TRAINING_MODULES, check_training_module
from foveate.training.run_lock import hold_run_dir
from foveate.training.run_log import TENSORBOARD, run_loggers
from foveate.training.schema import (
    ConfigError,
    check_section,
    describe_unknown,
    signature_of,
    unknown_keys,
)
from foveate.training.speed import TrainingSpeed
from foveate.training.stopping import stop_at_target

# Lightning's advice that does not apply here, silenced so that real warnings stand out.
_HARMLESS = (
    ".*does not have many workers.*",  # batches come from memory; workers would only add overhead
    ".*isinstance\\(treespec, LeafSpec\\).*",  # a deprecation inside Lightning itself
    ".*is smaller than the logging interval.*",  # tiny smoke runs
    ".*Total length of `list` across ranks is zero.*",  # a data source with no validation split
    ".*module\\(s\\) in eval mode at the start of training.*",  # a frozen part (an encoder)
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
    best_checkpoint: Path  # the one tested: last_checkpoint with trainer.test_checkpoint 'last'
    last_checkpoint: Path
    monitor: str
    best_val: float
    epochs: int
    train_images_per_s: float
    train_seconds: float
    earlier_fit_seconds: float  # training and validation in earlier sessions of a resumed run
    global_rank: int
    module: L.LightningModule  # the trained module, as at the end of training (not the best)
    cut_short: str | None = None  # what a run stopped by max_minutes left unfinished
    steps: int = 0  # training steps (batches) taken, over every session of a resumed run
    stopped_at_target: int | None = None  # trainer.stop_at: the step at which it was reached


class RunExistsError(FileExistsError):
    """The run directory already holds a run (and neither resume nor overwrite was asked)."""


# Settings the harness passes to every training module itself, not from the optim section.
HARNESS_ARGS = ("model", "model_args", "max_epochs")
BEST = "best"  # the file name (before .ckpt) of the best checkpoint in run_dir/checkpoints
log = logging.getLogger(__name__)


def training_module_class(model: str) -> type[L.LightningModule]:
    """The LightningModule that trains a registered model, named by its registry entry; one
    that does not keep the contract (``foveate.training.module``) is refused in one line."""
    cls = TRAINING_MODULES[model_entry(model).training]
    check_training_module(cls)
    return cls


def data_source_class(model: str) -> type[L.LightningDataModule]:
    """The DataModule a registered model learns from, named by its registry entry."""
    return DATA_SOURCES[model_entry(model).data]


def build_data(config: RunConfig) -> L.LightningDataModule:
    """The data source of a config, its section checked against the source's signature."""
    cls = data_source_class(config.model)
    return cls(**check_section(config.data, cls, section="data", source=config.source))


def resolve(config: RunConfig, data: L.LightningDataModule) -> RunConfig:
    """The config with the model arguments its data decides (``image_size``, ``channels``,
    ``num_classes``: the data source's ``model_defaults()``) filled in where the model takes them
    and the config leaves them out, so the saved record builds the same model; and with what the
    data source says identifies its data (``record()``: the dataset and task), so that every
    run record names them."""
    defaults = getattr(data, "model_defaults", dict)()
    accepted = inspect.signature(model_entry(config.model).cls).parameters
    filled = {k: v for k, v in defaults.items() if k in accepted and k not in config.model_args}
    named = {k: v for k, v in getattr(data, "record", dict)().items() if k not in config.data}
    return config.updated({"model_args": filled, "data": named})


def check_keys(config: RunConfig) -> None:
    """Refuse every unknown key of every section at once, each with the nearest known key (a
    config with two misspelt keys is not refused one key per run). Raises ConfigError (one
    line); a config of a model that is not registered is left to ``build`` to refuse."""
    from foveate.models import MODELS

    # section -> (its schema, how messages name it, what the harness fills in itself)
    targets: dict[str, tuple[Any, str, tuple[str, ...]]] = {
        "trainer": (TrainerSettings, "trainer", ())
    }
    if config.model in MODELS:
        entry = model_entry(config.model)
        targets = {
            "model_args": (entry.cls, f"model_args of {config.model!r}", tuple(entry.fixed)),
            "data": (data_source_class(config.model), "data", ()),
            "optim": (training_module_class(config.model), "optim", HARNESS_ARGS),
            **targets,
        }
    found = []
    for section, (target, where, skip) in targets.items():
        unknown = unknown_keys(getattr(config, section), target)
        if unknown:
            known, _ = signature_of(target)
            found.append((where, unknown, [k for k in known if k not in skip]))
    if found:
        raise ConfigError(f"{config.source}: {describe_unknown(found)}")


def build(config: RunConfig) -> tuple[L.LightningDataModule, L.LightningModule, RunConfig]:
    """The data, the training module and the resolved config, checked against each other.

    Raises ConfigError or ValueError (one line: unknown model, keys or task, wrong types, bad
    sizes) before anything is trained.
    """
    check_keys(config)
    settings = config.trainer_settings()
    entry = model_entry(config.model)
    data = build_data(config)
    config = resolve(config, data)
    source = config.source
    model_args = check_section(
        config.model_args,
        entry.cls,
        section="model_args",
        source=source,
        owner=config.model,
        skip=tuple(entry.fixed),
    )
    cls = training_module_class(config.model)
    optim = check_section(config.optim, cls, section="optim", source=source, skip=HARNESS_ARGS)
    module = cls(model=config.model, model_args=model_args, max_epochs=settings.max_epochs, **optim)
    shape = getattr(data, "input_shape", None)
    check_input = getattr(module.model, "check_input_size", None)
    if shape is not None and check_input is not None:
        check_input(*shape[-2:])
    if not module.automatic_optimization and settings.gradient_clip_val:
        raise ConfigError(
            f"--gradient-clip-val: {cls.__name__} optimises manually; Lightning cannot clip "
            "its gradients (leave the setting out)"
        )
    return data, module, config


def check_accelerator(settings: TrainerSettings) -> None:
    """Refuse an accelerator this machine does not have, in one line, before Lightning does."""
    wanted = {"gpu": ("CUDA GPU", torch.cuda.is_available, torch.cuda.device_count)}
    mps = getattr(torch.backends, "mps", None)
    if mps is not None:
        wanted["mps"] = ("MPS device", mps.is_available, lambda: 1)
    if settings.accelerator not in wanted:
        return
    what, available, count = wanted[settings.accelerator]
    if not available():
        raise ConfigError(
            f"--accelerator {settings.accelerator}: no {what} is available on this machine; "
            "use --accelerator cpu (or auto)"
        )
    if settings.devices > count():
        raise ConfigError(
            f"--devices {settings.devices}: this machine has {count()} {what} device(s)"
        )


def _trainer(
    settings: TrainerSettings,
    record: dict,
    run_dir: Path,
    speed: TrainingSpeed,
    module: L.LightningModule,
    extra: tuple[L.Callback, ...] = (),
    resumed_at: int | None = None,
) -> L.Trainer:
    """The trainer of a run; ``resumed_at``: the batches its checkpoint had trained on, where it
    resumes (the logs forget what was logged from there on)."""
    checkpoints = run_dir / "checkpoints"
    # Testing the last weights (``test_checkpoint: last``), nothing is chosen on validation.
    keep_best = settings.test_checkpoint == "best"
    best = ModelCheckpoint(
        dirpath=checkpoints,
        filename=BEST,
        monitor=module.monitor,
        mode=check_training_module(type(module)).sense,
        save_top_k=1,
        enable_version_counter=False,
    )
    last = LastCheckpoint(checkpoints, every_n_steps=settings.checkpoint_every_n_steps)
    processes = settings.devices * settings.num_nodes
    return L.Trainer(
        accelerator=settings.accelerator,
        devices=settings.devices,
        num_nodes=settings.num_nodes,
        strategy="ddp" if processes > 1 else "auto",
        max_epochs=settings.max_epochs,
        max_time={"minutes": settings.max_minutes} if settings.max_minutes else None,
        limit_train_batches=settings.limit_train_batches,
        limit_val_batches=settings.limit_eval_batches,
        gradient_clip_val=settings.gradient_clip_val,
        precision=settings.precision,
        # speed first: the checkpoints written after it then count the current batch;
        # the divergence guard before the checkpoints: a spoilt step is never saved
        callbacks=[
            speed,
            RunRecord(record),
            StopOnNonFiniteLoss(last.path),
            *([best] if keep_best else []),
            last,
            *extra,
        ],
        enable_checkpointing=keep_best,  # True with no ModelCheckpoint: Lightning adds its own
        plugins=[AtomicCheckpointIO()],
        logger=run_loggers(settings.logger, run_dir, resumed_at=resumed_at),
        enable_progress_bar=settings.progress_bar,
        enable_model_summary=False,
        log_every_n_steps=50,
        num_sanity_val_steps=0,
        default_root_dir=run_dir,
    )


def claim_run_dir(run_dir: Path, *, resume: bool, overwrite: bool) -> dict[str, Any] | None:
    """Make sure a new run does not silently replace an old one.

    With ``resume``, ``run_dir`` must hold a readable ``last.ckpt``, whose contents are returned
    (a big model's checkpoint is then read once more, by Lightning, not twice); otherwise it must
    hold no run, unless ``overwrite``, which removes the old run's checkpoints, logs and results
    first, and None is returned. Raises FileNotFoundError, CheckpointError or RunExistsError (one
    line).
    """
    last = run_dir / "checkpoints" / "last.ckpt"
    if resume:
        if not last.is_file():
            raise FileNotFoundError(f"nothing to resume: {last} does not exist")
        resumable = check_resumable(last)
        if os.environ.get("LOCAL_RANK", "0") == "0":
            remove_partial_saves(last.parent)
        return resumable
    if os.environ.get("LOCAL_RANK", "0") != "0":
        # a DDP worker started by Lightning: the first process has claimed the directory
        return None
    held = [run_dir / name for name in RUN_FILES if (run_dir / name).exists()]
    if not held:
        return None
    if not overwrite:
        raise RunExistsError(
            f"{run_dir} already holds a run ({held[0].name}); pass --resume to continue it, "
            "--overwrite to replace it, or another --run-dir"
        )
    for path in held:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return None


def check_resumable(last: Path) -> dict[str, Any]:
    """``last.ckpt``'s contents, read; refuse to resume from one that cannot be read (cut short
    by a full disk or an interrupted copy), in one line naming it and the ways on: the best
    checkpoint beside it put in its place, or the run started again; and one of a format this
    foveate does not read."""
    try:
        return read_checkpoint(last)
    except CheckpointFormatError:
        raise  # whole, but written by a foveate of another format: its own message says so
    except CheckpointError:
        best = last.with_name(f"{BEST}.ckpt")
        instead = (
            f"copy {best.name} over it to resume from the best checkpoint, "
            if best.is_file()
            else ""
        )
        raise CheckpointError(
            f"cannot resume: {last} is truncated or corrupt; {instead}or start the run again "
            "with --overwrite instead of --resume"
        ) from None


RUN_FILES = (
    "config.yaml",
    "checkpoints",
    "metrics.csv",
    "results.json",
    "hparams.yaml",
    TENSORBOARD,
)


def fit(
    config: RunConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: tuple[L.Callback, ...] = (),
) -> FitResult:
    """Train ``config`` in ``run_dir``; with ``resume``, continue from its ``last.ckpt``; with
    ``overwrite``, replace a run that is already there (else that is refused). ``callbacks``:
    more Lightning callbacks, after the harness's own (a benchmark's measurements)."""
    run_dir = Path(run_dir)
    check_keys(config)
    settings = config.trainer_settings()
    check_accelerator(settings)
    with hold_run_dir(run_dir):
        return _fit(
            config, run_dir, settings, resume=resume, overwrite=overwrite, callbacks=callbacks
        )


def _fit(
    config: RunConfig,
    run_dir: Path,
    settings: TrainerSettings,
    *,
    resume: bool,
    overwrite: bool,
    callbacks: tuple[L.Callback, ...],
) -> FitResult:
    """``fit`` in a run directory this process holds, its settings checked."""
    resumed = claim_run_dir(run_dir, resume=resume, overwrite=overwrite)
    last_path = run_dir / "checkpoints" / "last.ckpt"
    if settings.threads:
        torch.set_num_threads(settings.threads)
    L.seed_everything(settings.seed, workers=True, verbose=False)
    data, module, config = build(config)
    data.prepare_data()  # a missing or corrupt data file fails here, before training starts
    if settings.init_from and not resume:
        start_from(module, settings.init_from)
    run_dir.mkdir(parents=True, exist_ok=True)
    config.to_yaml(run_dir / "config.yaml")
    resumed_at = batches_trained(resumed) if resumed is not None else None
    speed = TrainingSpeed()
    target = (
        stop_at_target(module, settings.stop_metric, settings.stop_at)
        if settings.stop_at is not None
        else None
    )
    extra = (*callbacks, *([target] if target is not None else []))
    trainer = _trainer(
        settings, config.as_dict(), run_dir, speed, module, extra, resumed_at=resumed_at
    )
    with _quiet_warnings(), stop_on_invalid_distribution(trainer, last_path):
        trainer.fit(module, datamodule=data, ckpt_path=last_path if resume else None)
    if torch.distributed.is_initialized():
        # Testing happens on one process afterwards; a live process group would make its
        # metric syncs wait for the workers, which have finished.
        torch.distributed.destroy_process_group()
    reached = target.reached_at if target is not None else None
    # a run that reached its target stopped on purpose, and one whose schedules are sized by
    # its time budget (``schedule_minutes``) was not cut short by it
    sized_by_time = config.optim.get("schedule_minutes") is not None
    cut_short = (
        time_budget_note(settings, trainer.current_epoch)
        if reached is None and not sized_by_time
        else None
    )
    if cut_short and trainer.global_rank == 0:
        log.warning("%s: %s", run_dir, cut_short)
    best = trainer.checkpoint_callback
    score = best.best_model_score if best is not None else None
    best_path = Path(best.best_model_path) if best is not None and best.best_model_path else None
    if settings.test_checkpoint == "last":
        best_path = last_path
    elif best_path is None or not best_path.exists():
        # a run resumed in a directory it was moved to: Lightning forgets (or keeps the old
        # path of) the best checkpoint an earlier session wrote; it lies here
        kept = run_dir / "checkpoints" / f"{BEST}.ckpt"
        best_path = kept if kept.exists() else last_path
    return FitResult(
        run_dir=run_dir,
        best_checkpoint=best_path,
        last_checkpoint=last_path,
        monitor=module.monitor,
        best_val=float(score) if score is not None else float("nan"),
        epochs=trainer.current_epoch,
        train_images_per_s=speed.images_per_s,
        train_seconds=speed.seconds,
        earlier_fit_seconds=speed.earlier_wall_seconds,
        global_rank=trainer.global_rank,
        module=module,
        cut_short=cut_short,
        steps=trainer.global_step,
        stopped_at_target=reached,
    )


def target_note(settings: TrainerSettings, result: FitResult) -> str:
    """Whether and when a run with ``trainer.stop_at`` reached its target, in one phrase."""
    watched = settings.stop_metric or result.monitor
    if result.stopped_at_target is None:
        return f"{watched} never reached {settings.stop_at:g} in {result.steps} steps"
    return f"{watched} reached {settings.stop_at:g} after {result.stopped_at_target} steps"


def time_budget_note(settings: TrainerSettings, epochs: int) -> str | None:
    """What a run that ``max_minutes`` stopped after ``epochs`` epochs, before ``max_epochs``,
    left unfinished, in one phrase; None for a run that was not stopped so.

    The schedules that follow training's progress (the learning rate's cosine, a model's
    annealed exploration) are sized for ``max_epochs``; a run stopped by its time budget never
    reaches their ends. Sizing them to the budget instead would change what existing configs
    (and the benchmark records made with them) train, so the run says it instead.
    """
    if settings.max_minutes is None or epochs >= settings.max_epochs:
        return None
    N = settings.max_epochs
    return (
        f"max_minutes ({settings.max_minutes:g}) stopped training at epoch {epochs} of {N}: the "
        f"learning-rate and exploration schedules were sized for {N} epochs (max_epochs) and "
        f"stopped at epoch {epochs}"
    )


def start_from(module: L.LightningModule, checkpoint: str | os.PathLike) -> None:
    """Load the model weights of ``checkpoint`` into ``module`` (``--init-from``); a checkpoint
    of another model, or of other sizes, is refused in one line."""
    state = read_checkpoint(Path(checkpoint)).get("state_dict")
    if state is None:
        raise ConfigError(f"--init-from {checkpoint}: it holds no model weights")
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        detail = first[1].strip() if len(first) > 1 else first[0]
        raise ConfigError(
            f"--init-from {checkpoint}: its weights do not fit this model ({detail})"
        ) from None


def load_config(checkpoint: str | os.PathLike) -> RunConfig:
    """The run config a checkpoint carries, else the one saved beside it (run_dir/config.yaml for
    run_dir/checkpoints/x.ckpt, the record of checkpoints written before configs were kept inside);
    or the one in a weights file's metadata (``.safetensors``, a pretrained model's).

    Raises FileNotFoundError or CheckpointError (one line) for a missing file, a truncated one,
    or one that is not a foveate checkpoint.
    """
    path = Path(checkpoint)
    if path.suffix == WEIGHTS_SUFFIX:
        return RunConfig.from_dict(read_weights_config(path), source=str(path))
    carried = read_checkpoint(path).get(CONFIG_KEY)
    if carried is not None:
        return RunConfig.from_dict(carried, source=str(path))
    beside = path.resolve().parent.parent / "config.yaml"
    if not beside.is_file():
        raise CheckpointError(
            f"{path} is not a foveate checkpoint: it carries no run config and there is no "
            f"{beside} beside it"
        )
    return RunConfig.from_yaml(beside)


def load_module(
    checkpoint: str | os.PathLike, config: RunConfig | None = None
) -> L.LightningModule:
    """The trained module of a checkpoint, on the CPU; ``config``, if the caller has already
    loaded it. A weights file (``.safetensors``) gives its model inside a training module built
    from its config, for testing and figures (no optimiser state)."""
    config = config or load_config(checkpoint)
    cls = training_module_class(config.model)
    if Path(checkpoint).suffix == WEIGHTS_SUFFIX:
        from safetensors.torch import load_model

        max_epochs = config.trainer_settings().max_epochs
        module = cls(
            model=config.model, model_args=config.model_args, max_epochs=max_epochs, **config.optim
        )
        load_model(module.model, str(checkpoint))
        return module
    return cls.load_from_checkpoint(checkpoint, map_location="cpu", weights_only=False)


def describe(model: str, metrics: dict) -> str:
    """One line of a run's test metrics, in the words of the model's training module."""
    return training_module_class(model).describe(metrics)


def evaluate(
    checkpoint: str | os.PathLike,
    *,
    eval_samples: int | None = None,
    data_overrides: dict | None = None,
    accelerator: str = "auto",
    limit_batches: int | float | None = None,
) -> dict:
    """Test metrics of a checkpoint on its data's fixed test set: whatever its training module's
    ``test_step`` logs (e.g. ``test_error_pct``; ``test_nll_nats``), with ``eval_samples`` (M
    glimpse paths averaged per image, or K importance samples; None: the run's own setting),
    ``test_images``, ``model`` and ``summary``, one line for people. ``limit_batches``: test
    on the first that many batches only, or that fraction of them (a quick check;
    ``test_images`` still counts the whole set).
    """
    config = load_config(checkpoint).updated({"data": data_overrides or {}})
    module = load_module(checkpoint, config)
    if eval_samples is not None:
        if "eval_samples" not in module.hparams:
            raise ConfigError(
                f"--eval-samples: {type(module).__name__} ({config.model}) averages no samples"
            )
        if eval_samples < 1:
            raise ConfigError(f"--eval-samples must be at least 1, got {eval_samples}")
        module.hparams.eval_samples = eval_samples
    data = build_data(config)
    settings = TrainerSettings(accelerator=accelerator, devices=1)
    check_accelerator(settings)
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_test_batches=limit_batches,
    )
    L.seed_everything(config.trainer_settings().seed, verbose=False)
    with _quiet_warnings():
        (metrics,) = trainer.test(module, datamodule=data, verbose=False)
    loader = trainer.test_dataloaders
    result = {
        **metrics,
        "eval_samples": module.hparams.get("eval_samples"),
        "test_images": len(loader.dataset) if hasattr(loader, "dataset") else None,
        "model": config.model,
    }
    return {**result, "summary": describe(config.model, result)}


def train_and_test(
    config: RunConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: tuple[L.Callback, ...] = (),
) -> dict:
    """Fit, then test the best checkpoint (the last with ``trainer.test_checkpoint: last``);
    write and return run_dir/results.json. ``callbacks``: as ``fit``'s (figures logged at each
    validation).

    Returns {} on the other processes of a data-parallel run (they only train).
    """
    with hold_run_dir(run_dir):  # through the test and results.json, not only the training
        started = time.perf_counter()
        result = fit(config, run_dir, resume=resume, overwrite=overwrite, callbacks=callbacks)
        if result.global_rank != 0:
            return {}
        settings = config.trainer_settings()
        tested = evaluate(
            result.best_checkpoint,
            accelerator=settings.accelerator,
            limit_batches=settings.limit_eval_batches,
        )
        chose = settings.test_checkpoint == "best"
        summary = {
            **tested,
            **({f"best_{result.monitor}": result.best_val} if chose else {}),
            "epochs": result.epochs,
            "steps": result.steps,
            "train_images_per_s": result.train_images_per_s,
            "train_seconds": result.train_seconds,
            # a resumed run counts the sessions before this one too
            "wall_s": result.earlier_fit_seconds + time.perf_counter() - started,
            "best_checkpoint": str(result.best_checkpoint),
        }
        summary["summary"] = describe(config.model, summary)
        if settings.stop_at is not None:
            summary["stopped_at_target"] = result.stopped_at_target
            summary["summary"] += "; " + target_note(settings, result)
        if result.cut_short:
            summary["cut_short"] = result.cut_short
            summary["summary"] += f"; {result.cut_short}"
        (Path(run_dir) / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary
