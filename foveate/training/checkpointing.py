"""Checkpoints that a crash cannot leave half-written, that carry their run's config and the
foveate version and format that wrote them, and a 'last' checkpoint kept fresh mid-epoch."""

from __future__ import annotations

import glob
import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write each checkpoint to a temporary file beside it, then rename it into place.

    A process killed while saving leaves the previous checkpoint intact (rename is atomic), and
    its hidden ``.<name>.<pid>.partial`` file beside it, which the next save of that checkpoint
    removes (the run lock, ``run_lock.py``, keeps any other process from writing there). The file
    and then its directory are synced, so a machine that loses power keeps one whole version.
    """

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            with open(partial, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
            raise
        os.replace(partial, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself reaches the disk
        finally:
            os.close(directory)
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):
            stale.unlink(missing_ok=True)  # left by a process killed while writing


def remove_partial_saves(dirpath: str | os.PathLike) -> int:
    """Remove the ``.<name>.<pid>.partial`` files of saves cut short in ``dirpath``; returns how
    many went. Called as a run resumes (its lock held): a checkpoint that is not saved again, a
    best one never bettered, would otherwise keep its dead writer's file for good."""
    stale = list(Path(dirpath).glob(".*.partial"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


CONFIG_KEY = "foveate_config"  # where a checkpoint keeps its run's config (a plain dict)
VERSION_KEY = "foveate_version"  # the foveate release that wrote it ('0.1.0'), for messages
FORMAT_KEY = "foveate_format"  # the layout of what foveate keeps in it: FORMAT below

# The checkpoint format this code writes, and the oldest it still reads. Bump FORMAT when a change
# makes the checkpoints written from then on unreadable by the code before it, or makes this code
# read older ones differently: a foveate key renamed, removed or given another meaning, a training
# module's state (its state dict's names, its hyperparameters) changed incompatibly. Raise
# OLDEST_FORMAT when the code stops reading the formats below it. A checkpoint that records no
# format is format 0: written before checkpoints recorded one (foveate 0.1.0), it is a format 1
# checkpoint less these two keys, so this code reads it.
FORMAT = 1
OLDEST_FORMAT = 0


def foveate_version() -> str:
    """The version of this foveate (``foveate.__version__``); imported when asked, the package
    having finished importing by the time a checkpoint is saved or read."""
    import foveate

    return foveate.__version__


class CheckpointError(ValueError):
    """A file that is not a foveate checkpoint, or one that is truncated (one-line message)."""


class CheckpointFormatError(CheckpointError):
    """A whole checkpoint, written by a foveate whose format this one does not read (one line
    naming the version that wrote it and what to do)."""


def check_format(checkpoint: dict[str, Any], path: str | os.PathLike) -> None:
    """Refuse a checkpoint (read from ``path``) whose recorded format lies outside
    ``OLDEST_FORMAT``..``FORMAT``, in one line: the foveate version and format that wrote it,
    the formats this foveate reads, and what to do. Raises CheckpointFormatError."""
    written = checkpoint.get(FORMAT_KEY, 0)
    if isinstance(written, int) and OLDEST_FORMAT <= written <= FORMAT:
        return
    version = checkpoint.get(VERSION_KEY)
    by = f"foveate {version}" if version else "an unknown foveate"
    this = f"this foveate {foveate_version()} reads formats {OLDEST_FORMAT}-{FORMAT}"
    if not isinstance(written, int):
        raise CheckpointFormatError(
            f"{path} records checkpoint format {written!r}, not a number ({by}); {this}: "
            "train the run again with --overwrite"
        )
    if written > FORMAT:
        todo = f"upgrade foveate to {version} or later" if version else "upgrade foveate"
    else:
        todo = f"read it with {by}"
    raise CheckpointFormatError(
        f"{path} was written by {by} (checkpoint format {written}); {this}: {todo}, or train "
        "the run again with this one (--overwrite)"
    )


class RunRecord(L.Callback):
    """Put the run's resolved config into every checkpoint, so one file is enough to load, test
    or show a model (copied away from its run directory, or shared); and the foveate version and
    checkpoint format that wrote it, so that a later foveate can tell whether it reads it.
    Every run's trainer has one (``fit._trainer``), whatever its training module.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint[CONFIG_KEY] = self.config
        checkpoint[VERSION_KEY] = foveate_version()
        checkpoint[FORMAT_KEY] = FORMAT


class LastCheckpoint(L.Callback):
    """Save ``last.ckpt`` every ``every_n_steps`` training steps and at the end of each epoch.

    Lightning's ModelCheckpoint saves either by step or by epoch; a run killed mid-epoch should
    lose at most ``every_n_steps`` steps, and one stopped between epochs nothing.
    """

    def __init__(self, dirpath: str | os.PathLike, *, every_n_steps: int = 200) -> None:
        self.path = Path(dirpath) / "last.ckpt"
        self.every_n_steps = every_n_steps

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, idx: int
    ) -> None:
        # Not after an epoch's last batch: Lightning (2.6) resumes a checkpoint saved there, before
        # the epoch's end, with its epoch counter one behind, and a run resumed from a save in the
        # next epoch then starts that epoch again (tests/test_random_kills.py found it). The save
        # at the epoch's end, moments later, stands for it.
        if idx + 1 >= trainer.num_training_batches:
            return
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            self.save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.save(trainer)

    def save(self, trainer: L.Trainer) -> None:
        # The logs first: rows a logger still holds in memory, written after the checkpoint,
        # would be lost to a kill between the two, and a run resumed from the checkpoint would
        # not log them again. Rows written and then not covered by a checkpoint are dropped
        # on resuming (run_log.forget_rows_from).
        for logger in trainer.loggers:
            logger.save()
        trainer.save_checkpoint(self.path, weights_only=False)


def batches_trained(checkpoint: dict[str, Any]) -> int:
    """How many training batches the run of a Lightning checkpoint had trained on when it was
    saved, over all epochs (its global step counts optimiser steps: two a batch for a model with
    two optimisers)."""
    progress = checkpoint["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]
    return int(progress["processed"])


def run_checkpoint(run_dir: str | os.PathLike) -> Path:
    """The checkpoint that stands for a run directory: ``checkpoints/best.ckpt``, else
    ``checkpoints/last.ckpt`` (a run that tests its last weights keeps no best). Raises
    FileNotFoundError (one line, naming the files looked for) if it holds neither."""
    kept = [Path(run_dir) / "checkpoints" / f"{name}.ckpt" for name in ("best", "last")]
    for path in kept:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{run_dir} is a directory without a checkpoint: looked for {kept[0]} and {kept[1].name} "
        "beside it; pass a .ckpt file"
    )


# Weights alone: a model's state dict in a safetensors file, the run config in its metadata
# (exported from a checkpoint by the benchmark runner; what pretrained models ship).
WEIGHTS_SUFFIX = ".safetensors"
WEIGHTS_CONFIG_KEY = "foveate_config"


def read_weights_config(path: str | os.PathLike) -> dict[str, Any]:
    """The run config (as a dict) carried in a weights file's metadata, without its
    ``data.data_dir``: the folder the digits were read from on the machine that trained it means
    nothing where the weights are loaded (the data are found as for any run: ``--data-dir``,
    ``$FOVEATE_DATA``, the cache).

    Raises FileNotFoundError if there is no such file, CheckpointError if it is not a
    safetensors file or carries no foveate config.
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as file:
            saved = (file.metadata() or {}).get(WEIGHTS_CONFIG_KEY)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None
    if saved is None:
        raise CheckpointError(f"{path}: no foveate config in its metadata (not written by foveate)")
    config = yaml.safe_load(saved)
    config.get("data", {}).pop("data_dir", None)
    return config


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """A Lightning checkpoint's contents, read on the CPU, its format checked: every command that
    reads a checkpoint (eval, show, report, --resume, --init-from, the weights export) reads it
    here first.

    Raises FileNotFoundError if there is no such file, CheckpointError if it is truncated or
    corrupt, is not a PyTorch file, or is a PyTorch file without a model's weights, and
    CheckpointFormatError if a foveate whose format this one does not read wrote it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError) as error:
        with open(path, "rb") as file:
            archive = file.read(4) == b"PK\x03\x04"  # torch.save writes a zip archive
        if archive:
            raise CheckpointError(
                f"{path} is truncated or corrupt: a PyTorch archive that cannot be read "
                f"({type(error).__name__}); use another checkpoint, e.g. last.ckpt or best.ckpt"
            ) from None
        raise CheckpointError(
            f"{path} is not a foveate checkpoint (not a PyTorch file); pass a .ckpt file from a "
            "run's checkpoints/ directory"
        ) from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(
            f"{path} is a PyTorch file but not a checkpoint of a training run (no state_dict); "
            "pass a .ckpt file from a run's checkpoints/ directory"
        )
    check_format(checkpoint, path)
    return checkpoint
