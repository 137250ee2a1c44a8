"""End-to-end: training through the harness beats chance; a killed run resumes and finishes."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from foveate.training.checkpointing import CheckpointError, read_checkpoint
from foveate.training.config import RunConfig
from foveate.training.fit import evaluate, load_config, train_and_test

TINY = {
    "model": "ram",
    "model_args": {"glimpses": 4, "patch_size": 8, "scales": 2, "location_std": 0.15},
    "data": {"task": "mnist", "sample": True, "val_size": 500},
    "optim": {"lr": 2e-3},
    "trainer": {"max_epochs": 3, "progress_bar": False, "checkpoint_every_n_steps": 10},
}


@pytest.mark.slow
def test_tiny_training_beats_chance_by_a_wide_margin(tmp_path):
    summary = train_and_test(RunConfig.from_dict(TINY), tmp_path)
    # Chance is 90% error; a few epochs on 4,500 digits reach well under half of that.
    assert summary["test_error_pct"] < 40, summary
    assert (tmp_path / "checkpoints" / "best.ckpt").is_file()
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    assert json.loads((tmp_path / "results.json").read_text())["eval_samples"] == 1
    # The training losses are logged on every step Lightning writes (each 50th), in every
    # epoch, not only in the first (values logged on other steps are dropped at an epoch's end).
    trained = read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["global_step"]
    with open(tmp_path / "metrics.csv", newline="") as file:
        logged = [int(row["step"]) for row in csv.DictReader(file) if row["train/total"]]
    assert trained > 100 and logged == list(range(49, trained, 50))
    # Averaging M paths is an option of the evaluation; it gives an error of the same order.
    assert evaluate(summary["best_checkpoint"], eval_samples=4)["test_error_pct"] < 40
    # A checkpoint carries its run's config: copied out of its run directory, it still loads.
    alone = tmp_path / "elsewhere" / "model.ckpt"
    alone.parent.mkdir()
    shutil.copy(summary["best_checkpoint"], alone)
    assert (
        evaluate(alone)["test_error_pct"] == evaluate(summary["best_checkpoint"])["test_error_pct"]
    )


def _train_command(run_dir, *extra):
    return [
        sys.executable,
        "-m",
        "foveate.cli",
        "train",
        "ram",
        "--run-dir",
        str(run_dir),
        "--sample",
        "--val-size",
        "500",
        "--glimpses",
        "2",
        "--max-epochs",
        "2",
        "--checkpoint-every-n-steps",
        "3",
        "--no-progress-bar",
        *extra,
    ]


@pytest.mark.slow
def test_run_killed_mid_epoch_resumes_from_last_checkpoint(tmp_path):
    last = tmp_path / "checkpoints" / "last.ckpt"
    process = subprocess.Popen(
        _train_command(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert last.exists(), process.stderr.read().decode()[-2000:] if process.poll() else "timeout"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    before = torch.load(last, weights_only=False)
    batches_per_epoch = 4500 // 128
    assert 0 < before["global_step"] < 2 * batches_per_epoch  # killed before the run ended

    resumed = subprocess.run(
        _train_command(tmp_path, "--resume"), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    after = torch.load(last, weights_only=False)
    assert after["global_step"] > before["global_step"]
    assert after["epoch"] == 1 and "test error" in resumed.stdout
    # The throughput counters carried over the kill: every step's images counted exactly once.
    (speed,) = [v for k, v in after["callbacks"].items() if k.startswith("TrainingSpeed")]
    assert speed["images"] == after["global_step"] * 128
    assert (tmp_path / "results.json").is_file()


@pytest.mark.slow
def test_a_run_moved_to_another_directory_resumes_there(tmp_path):
    first, moved = tmp_path / "first", tmp_path / "moved"
    short = ["--max-epochs", "1", "--limit-train-batches", "4"]
    done = subprocess.run(
        _train_command(first, *short), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    shutil.move(first, moved)  # its checkpoints still record the best one under first/
    # a finished run resumed: nothing more to train, and its best checkpoint is tested again
    resumed = subprocess.run(
        _train_command(moved, *short, "--resume"), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    tested = json.loads((moved / "results.json").read_text())["best_checkpoint"]
    assert tested == str(moved / "checkpoints" / "best.ckpt")


@pytest.mark.slow
def test_data_parallel_training_over_two_processes(tmp_path):
    """--devices 2 trains with DDP over two CPU processes and then tests on one."""
    command = _train_command(tmp_path, "--devices", "2", "--batch-size", "64", "--threads", "1")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "test error" in done.stdout
    results = json.loads((tmp_path / "results.json").read_text())
    # Two epochs over 4,500 digits in global batches of 2 x 64: the step count shows both
    # processes shared each epoch.
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 2 * (4500 // 2 // 64)
    assert results["test_error_pct"] < 80  # chance is 90%


TINY_DRAW = {
    # Without attention: at this size an attentive read learns too slowly for a 15-second test
    # to tell a model that uses its latents from one that ignores them.
    "model": "draw",
    "model_args": {
        "steps": 4,
        "attention": False,
        "encoder_size": 128,
        "decoder_size": 128,
        "latent_size": 16,
    },
    "data": {
        "task": "mnist",
        "sample": True,
        "val_size": 500,
        "binarize": "fixed",
        "batch_size": 32,
    },
    "optim": {"lr": 2e-3},
    "trainer": {"max_epochs": 3, "progress_bar": False, "gradient_clip_val": 10.0},
}


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
def test_tiny_draw_training_learns_binarized_digits(tmp_path, precision):
    # bf16 with gradient clipping is how the DRAW benchmarks run (and once failed to start).
    config = RunConfig.from_dict(TINY_DRAW).updated(
        {"trainer": {"precision": precision}, "optim": {"eval_samples": 20}}
    )
    summary = train_and_test(config, tmp_path)
    # An untrained DRAW puts 1/2 on every pixel: 784 log 2 = 543 nats; a model that ignores its
    # latents (posterior collapse) learns the average digit, about 206 nats on these digits.
    # Three epochs must do better than that, through latents that carry information.
    assert summary["test_nll_nats"] < 190, summary
    assert summary["best_val_nll_nats"] < 190, summary
    assert summary["test_kl_nats"] > 2, summary
    # The importance-weighted estimate can only be tighter than the bound, and not by much.
    assert summary["test_nll_nats"] - 15 < summary["test_nll_iw_nats"] <= summary["test_nll_nats"]


@pytest.mark.slow
def test_tiny_draw_classifier_beats_chance(tmp_path):
    config = {
        "model": "draw_classifier",
        "model_args": {"image_size": 28, "glimpses": 3, "read_size": 8, "hidden_size": 64},
        "data": {"task": "mnist", "sample": True, "val_size": 500},
        "optim": {"lr": 3e-3},
        "trainer": {"max_epochs": 3, "progress_bar": False},
    }
    summary = train_and_test(RunConfig.from_dict(config), tmp_path)
    assert summary["test_error_pct"] < 40, summary  # chance is 90%


def test_checkpoint_without_config_is_refused_with_a_clear_error(tmp_path):
    stray = tmp_path / "stray.ckpt"
    torch.save({"state_dict": {}}, stray)
    with pytest.raises(CheckpointError, match="not a foveate checkpoint: it carries no run config"):
        load_config(stray)


def test_a_run_can_start_from_another_runs_weights_and_refuses_a_misfit(tmp_path):
    import lightning as L

    from foveate.training.fit import fit
    from foveate.training.schema import ConfigError

    quick = {**TINY, "trainer": {**TINY["trainer"], "max_epochs": 1, "limit_train_batches": 2}}
    first = fit(RunConfig.from_dict(quick), tmp_path / "first")
    trained = {k: v.clone() for k, v in first.module.model.state_dict().items()}

    class FirstWeights(L.Callback):
        def on_train_start(self, trainer, module):
            self.seen = {k: v.clone() for k, v in module.model.state_dict().items()}

    seen = FirstWeights()
    config = RunConfig.from_dict(quick).updated(
        {"trainer": {"init_from": str(first.last_checkpoint)}, "data": {"task": "translated"}}
    )
    fit(config, tmp_path / "second", callbacks=(seen,))
    assert all(torch.equal(seen.seen[k], v) for k, v in trained.items())

    other = RunConfig.from_dict(quick).updated(
        {"model_args": {"hidden_size": 32}, "trainer": {"init_from": str(first.last_checkpoint)}}
    )
    with pytest.raises(ConfigError, match="do not fit this model"):
        fit(other, tmp_path / "third")
