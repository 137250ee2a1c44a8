"""Faults and odd input that once ended in a traceback, a wall of text or silent damage (issue 35):
each now ends in one line that names what went wrong and what to do, and damages nothing."""

import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from test_refusals import refused  # one check of what a refusal looks like
from torch import nn
from torch.distributions import Normal

from foveate.models import MODELS, ModelEntry, create_model, list_models
from foveate.models.cnn import cross_entropy_loss
from foveate.training.run_lock import LOCK_FILE, RunDirInUse, hold_run_dir

TINY_RAM = ["--sample", "--glimpses", "2", "--hidden-size", "16", "--glimpse-size", "16"]


# 1. A run directory is one process's at a time.

# Another process holding a run directory's lock as foveate does: flock, then its pid.
HOLDER = textwrap.dedent(
    """
    import fcntl, os, sys, time
    file = open(os.path.join(sys.argv[1], ".lock"), "a+")
    fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    file.truncate(0); file.write(f"{os.getpid()} on elsewhere"); file.flush()
    print("held", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def held_by_another_process(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "held"
    yield run, holder
    holder.kill()
    holder.wait()


def test_a_run_directory_another_process_trains_in_is_refused(held_by_another_process, capsys):
    run, holder = held_by_another_process
    argv = ["train", "ram", "--run-dir", str(run), *TINY_RAM, "--max-epochs", "1"]
    refused(capsys, argv, f"{run} is in use", f"process {holder.pid} on elsewhere")
    assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]  # nothing written beside it


def test_the_lock_of_a_killed_process_is_free(held_by_another_process):
    run, holder = held_by_another_process
    with pytest.raises(RunDirInUse), hold_run_dir(run):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with hold_run_dir(run):  # no stale lock to remove by hand
        assert (run / LOCK_FILE).read_text().startswith(f"{os.getpid()} on ")


def test_a_held_run_directory_is_refused_to_another_process_and_nested_blocks_share_it(tmp_path):
    run = tmp_path / "new"
    tries = "import fcntl, sys\nf = open(sys.argv[1], 'a+')\ntry:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    print('took it')\nexcept BlockingIOError:\n    print('refused')\n"
    with hold_run_dir(run), hold_run_dir(run):  # fit inside train_and_test: one lock
        other = subprocess.run(
            [sys.executable, "-c", tries, str(run / LOCK_FILE)], capture_output=True, text=True
        )
        assert other.stdout.strip() == "refused"
    with pytest.raises(KeyError), hold_run_dir(tmp_path / "failed"):
        raise KeyError("a refused config")
    assert not (tmp_path / "failed").exists()  # no empty run directory left behind


# 2. Resuming from a truncated last.ckpt.


def test_resuming_from_a_truncated_last_checkpoint_names_it_and_the_ways_on(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("model: ram\n")
    whole = tmp_path / "whole.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}, "global_step": 4}, whole)
    data = whole.read_bytes()
    (run / "checkpoints" / "best.ckpt").write_bytes(data)
    for cut in (0, 100, len(data) // 2):  # empty, a cut header, a missing central directory
        (run / "checkpoints" / "last.ckpt").write_bytes(data[:cut])
        refused(
            capsys,
            ["train", "ram", "--run-dir", str(run), "--resume"],
            f"cannot resume: {run / 'checkpoints' / 'last.ckpt'} is truncated or corrupt",
            "copy best.ckpt over it",
            "--overwrite",
        )


# 3. A run diverging inside a distribution, or in its weights with a finite loss.


class InvalidAfter(nn.Module):
    """A linear classifier that, at its ``bad_at``-th training forward pass, either builds a
    Normal of NaN loc (``how='distribution'``: what a diverged location policy does), or spoils
    a weight the loss does not read (``how='weights'``: the loss stays finite)."""

    def __init__(
        self, *, bad_at: int = 5, how: str = "distribution", num_classes: int = 10
    ) -> None:
        super().__init__()
        self.bad_at, self.how, self.num_classes = bad_at, how, num_classes
        self.classify = nn.Linear(28 * 28, num_classes)
        self.unread = nn.Parameter(torch.zeros(3))
        self.calls = 0

    def forward(self, images):
        logits = self.classify(images.flatten(1))
        if self.training:
            self.calls += 1
            if self.calls == self.bad_at and self.how == "weights":
                with torch.no_grad():
                    self.unread.fill_(float("nan"))
            if self.calls == self.bad_at and self.how == "distribution":
                Normal(logits * float("nan"), 1.0, validate_args=True)  # a ValueError
        return logits

    def loss(self, logits, targets):
        return cross_entropy_loss(logits, targets)

    def predict_proba(self, images, *, samples=1):
        return self(images).softmax(-1)


@pytest.fixture
def invalid_after(monkeypatch):
    entry = ModelEntry("invalid_after", InvalidAfter, "classifier", "tasks")
    monkeypatch.setitem(MODELS._entries, "invalid_after", entry)


@pytest.mark.slow
@pytest.mark.parametrize(
    "how,bad_at,said,kept",
    [
        ("distribution", 5, ["a Normal's loc was NaN", "at step 5"], 4),
        ("weights", 3, ["the weights became NaN or infinite", "at step 4"], 2),
    ],
)
def test_a_run_diverging_without_a_nan_loss_stops_with_its_step(
    tmp_path, capsys, invalid_after, how, bad_at, said, kept
):
    run = tmp_path / "run"
    argv = ["train", "invalid_after", "--run-dir", str(run), "--sample", "--how", how]
    argv += ["--bad-at", str(bad_at), "--checkpoint-every-n-steps", "2"]
    # eager: the forward's side effects (its call count) are Python's, not a compiled graph's
    argv += ["--max-epochs", "1", "--no-progress-bar", "--no-compile"]
    refused(capsys, argv, "training diverged", *said, f"last.ckpt (after step {kept}) is intact")
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["global_step"] == kept
    assert all(torch.isfinite(t).all() for t in last["state_dict"].values())


# 4. A model given images of another size than it was built for.


def wrong_input(name: str) -> tuple[torch.Tensor, dict]:
    """An input of 3 channels and 13 x 13 pixels (the models are built for 1 channel and other
    sizes), laid out as the model reads it, and the keyword arguments its forward needs."""
    if MODELS[name].data in ("digit_bags", "pointer_sets"):  # sets of items (B, K, C, h, w)
        kwargs = {"query": torch.zeros(2, dtype=torch.long)} if name.startswith("pointer") else {}
        return torch.rand(2, 4, 3, 13, 13), kwargs
    return torch.rand(2, 3, 13, 13), {}


@pytest.mark.parametrize("name", list_models())
def test_every_model_refuses_an_input_of_another_size(name):
    model = create_model(name)
    images, kwargs = wrong_input(name)
    if name == "ram_agent":  # one step of a game: screens and the core's state
        kwargs = {"state": model.initial_state(2, torch.device("cpu"))}
    with pytest.raises(ValueError, match="was built for") as caught:
        model(images, **kwargs)
    message = str(caught.value)
    # what it expects, as a shape (B, ...), and what it got
    assert re.search(r"was built for \w+ of shape \(B, [^)]+\), got ", message), message
    assert message.endswith(str(tuple(images.shape))), message
    size = getattr(model, "image_size", None)
    if size is not None:  # its size, where it was built for one
        height, width = size if isinstance(size, tuple) else (size, size)
        assert f", {height}, {width})" in message, message


# 5. A mistyped flag value.


@pytest.mark.parametrize(
    "flags,said",
    [
        (["--glimpses", "2.5"], "argument --glimpses: invalid int value: '2.5'"),
        (["--precision", "half"], "argument --precision: invalid choice: 'half'"),
        (["--resume", "--overwrite"], "choose one"),
    ],
)
def test_a_flag_error_is_one_line_not_the_usage(tmp_path, capsys, flags, said):
    run = tmp_path / "run"
    refused(capsys, ["train", "ram", "--run-dir", str(run), *flags], said, "foveate train --help")
    assert not run.exists()


# 6. A data folder that does not exist.


def test_a_missing_data_dir_is_refused_not_made_a_download_folder(tmp_path, capsys):
    missing = tmp_path / "mnsit"
    run = tmp_path / "run"
    argv = ["train", "ram", "--run-dir", str(run), "--data-dir", str(missing)]
    refused(capsys, argv, f"data directory {missing} (--data-dir) does not exist", "create it")
    assert not missing.exists() and not run.exists()


# 7. Every unknown key at once; a run directory for a checkpoint; the nearest model name.


def test_every_unknown_key_of_a_config_is_named_at_once(tmp_path, capsys):
    path = tmp_path / "two.yaml"
    path.write_text(
        "model: ram\nmodel_args: {glimpse: 3, patch_sise: 8}\ntrainer: {max_epoch: 2}\n"
    )
    refused(
        capsys,
        ["train", "ram", "--config", str(path)],
        "3 unknown keys",
        "'glimpse' in model_args of 'ram' (did you mean 'glimpses'?)",
        "'patch_sise' in model_args of 'ram' (did you mean 'patch_size'?)",
        "'max_epoch' in trainer (did you mean 'max_epochs'?)",
    )


def test_a_run_directory_stands_for_its_best_checkpoint(tmp_path, capsys):
    from foveate.bench.pretrained import resolve

    run = tmp_path / "c60"
    (run / "checkpoints").mkdir(parents=True)
    refused(capsys, ["eval", str(run)], str(run / "checkpoints" / "best.ckpt"), "last.ckpt")
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    assert resolve(run) == run / "checkpoints" / "last.ckpt"  # a run that keeps no best
    (run / "checkpoints" / "best.ckpt").write_bytes(b"")
    assert resolve(run) == run / "checkpoints" / "best.ckpt"
    assert resolve(str(run)) == run / "checkpoints" / "best.ckpt"


@pytest.mark.parametrize("typed,meant", [("RAM", "ram"), ("draw_clasifier", "draw_classifier")])
def test_a_mistyped_model_name_gets_the_nearest(capsys, typed, meant):
    refused(capsys, ["train", typed], f"unknown model {typed!r}; did you mean {meant!r}?")
