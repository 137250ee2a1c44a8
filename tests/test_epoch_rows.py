"""What a checkpoint covers: an epoch's training-error row is on disk before the end-of-epoch
checkpoint that closes the epoch, a resumed epoch counts its training error over all its
batches, and a resumed run clears the files of saves its killed predecessor cut short.

The kills of tests/test_random_kills.py find these by chance; here each is shown outright.
"""

import csv
from pathlib import Path

import pytest

from foveate.cli import main
from foveate.training import checkpointing
from foveate.training.checkpointing import batches_trained, read_checkpoint
from foveate.training.classification import TRAINING_ERROR_COUNTS, ClassifierModule

BATCHES = 6  # training batches an epoch


class Killed(Exception):
    """Raised where a kill would strike."""


def train(run_dir: Path, *extra: str) -> None:
    argv = [
        "train",
        "ram",
        "--run-dir",
        str(run_dir),
        "--sample",
        "--val-size",
        "32",
        "--batch-size",
        "16",
        "--glimpses",
        "2",
        "--limit-train-batches",
        str(BATCHES),
        "--limit-eval-batches",
        "2",
        "--threads",
        "1",
        "--no-progress-bar",
        *extra,
    ]
    assert main(argv) == 0


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def training_errors(path: Path) -> dict[str, float]:
    """Each epoch's logged training error, by epoch."""
    return {r["epoch"]: float(r["train/error_pct"]) for r in rows(path) if r["train/error_pct"]}


def test_the_end_of_epoch_checkpoint_finds_the_epochs_training_error_on_disk(tmp_path, monkeypatch):
    seen = []  # (batches trained, the training errors on disk) at each save of last.ckpt
    save = checkpointing.AtomicCheckpointIO.save_checkpoint

    def save_and_look(self, checkpoint, path, storage_options=None):
        save(self, checkpoint, path, storage_options)
        if Path(path).name == "last.ckpt":
            log = Path(path).parent.parent / "metrics.csv"
            seen.append((batches_trained(checkpoint), training_errors(log)))

    monkeypatch.setattr(checkpointing.AtomicCheckpointIO, "save_checkpoint", save_and_look)
    train(tmp_path / "run", "--max-epochs", "2")
    ends = {batches: errors for batches, errors in seen if batches % BATCHES == 0}
    # Killed right after epoch 0's checkpoint, the run resumes in epoch 1: epoch 0's row must
    # already be there, since nothing would log it again.
    assert set(ends) == {BATCHES, 2 * BATCHES}
    assert list(ends[BATCHES]) == ["0"] and list(ends[2 * BATCHES]) == ["0", "1"]
    assert all(0 <= e <= 100 for e in ends[2 * BATCHES].values())


def test_an_epoch_resumed_midway_counts_its_training_error_over_all_its_batches(tmp_path):
    run = tmp_path / "run"
    train(run, "--max-epochs", "1", "--checkpoint-every-n-steps", "4")
    whole = training_errors(run / "metrics.csv")["0"]
    last = run / "checkpoints" / "last.ckpt"
    saved = read_checkpoint(last)
    # The run's end-of-epoch checkpoint has logged and reset its counts.
    assert saved[TRAINING_ERROR_COUNTS][1:] == (0, 0)

    # The same run killed after 4 of its 6 batches: the checkpoint it resumes from.
    again = tmp_path / "again"
    seen = []
    save = checkpointing.AtomicCheckpointIO.save_checkpoint

    def save_and_stop(self, checkpoint, path, storage_options=None):
        save(self, checkpoint, path, storage_options)
        if Path(path).name == "last.ckpt" and batches_trained(checkpoint) == 4:
            seen.append(checkpoint[TRAINING_ERROR_COUNTS])
            raise Killed  # stands for the kill: nothing after this save happens

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkpointing.AtomicCheckpointIO, "save_checkpoint", save_and_stop)
        with pytest.raises(Killed):
            train(again, "--max-epochs", "1", "--checkpoint-every-n-steps", "4")
    (epoch, errors, images) = seen[0]
    assert (epoch, images) == (0, 4 * 16) and 0 <= errors <= images
    counted = []  # the images counted when the epoch's row is written
    row = ClassifierModule.on_train_batch_end

    def count_and_row(self, outputs, batch, batch_idx):
        if batch_idx + 1 == self.trainer.num_training_batches:
            counted.append(self._train_images)
        row(self, outputs, batch, batch_idx)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ClassifierModule, "on_train_batch_end", count_and_row)
        train(again, "--max-epochs", "1", "--checkpoint-every-n-steps", "4", "--resume")
    assert counted == [BATCHES * 16]  # not only the 2 batches trained after resuming
    assert list(training_errors(again / "metrics.csv")) == ["0"]
    assert 0 <= whole <= 100


def test_a_resumed_run_removes_the_files_of_saves_cut_short(tmp_path):
    run = tmp_path / "run"
    train(run, "--max-epochs", "1")
    checkpoints = run / "checkpoints"
    cut_short = [checkpoints / ".best.ckpt.4242.partial", checkpoints / ".last.ckpt.99.partial"]
    for path in cut_short:
        path.write_bytes(b"half a checkpoint")
    train(run, "--max-epochs", "2", "--resume")
    assert not list(checkpoints.glob(".*.partial"))
    assert (checkpoints / "best.ckpt").is_file()
