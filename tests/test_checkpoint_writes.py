"""Atomic checkpoints (issue 35): a save cut short, by a full disk or by a kill in the middle of
writing, leaves the previous checkpoint whole, and no half-written file for long."""

import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from foveate.training import checkpointing
from foveate.training.checkpointing import AtomicCheckpointIO, read_checkpoint

# A process that starts saving a checkpoint over the one at argv[1] and is killed (SIGKILL, no
# cleanup) half-way through writing it.
KILLED_WHILE_SAVING = textwrap.dedent(
    """
    import os, signal, sys
    from foveate.training import checkpointing

    def dying_save(obj, file):
        file.write(b"PK\\x03\\x04" + bytes(5000))  # the start of a zip archive, as torch.save
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    checkpointing.torch.save = dying_save
    checkpointing.AtomicCheckpointIO().save_checkpoint({"state_dict": {}}, sys.argv[1])
    """
)


def saved(path, step: int) -> None:
    AtomicCheckpointIO().save_checkpoint(
        {"state_dict": {"w": torch.ones(3)}, "global_step": step}, path
    )


def test_a_process_killed_while_saving_leaves_the_previous_checkpoint_whole(tmp_path):
    last = tmp_path / "last.ckpt"
    saved(last, 4)
    whole = last.read_bytes()
    killed = subprocess.run([sys.executable, "-c", KILLED_WHILE_SAVING, str(last)], timeout=300)
    assert killed.returncode == -signal.SIGKILL
    assert last.read_bytes() == whole
    assert read_checkpoint(last)["global_step"] == 4
    (left,) = tmp_path.glob(".last.ckpt.*.partial")  # hidden, beside it, of the killed process
    assert left.stat().st_size > 5000
    saved(last, 5)  # the next save of the checkpoint clears it away
    assert read_checkpoint(last)["global_step"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_a_save_that_fails_leaves_the_previous_checkpoint_and_no_partial_file(
    tmp_path, monkeypatch
):
    last = tmp_path / "last.ckpt"
    saved(last, 4)
    whole = last.read_bytes()

    def full_disk(obj, file):
        file.write(b"PK\x03\x04" + bytes(100))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpointing.torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        saved(last, 5)
    assert last.read_bytes() == whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]
