"""A run stopped by ``max_minutes`` before ``max_epochs`` says that its schedules were cut short;
a schedule sized by minutes (``schedule_minutes``) follows the wall clock instead."""

import json
import re

import pytest
import torch

from foveate.cli import main
from foveate.training.config import TrainerSettings
from foveate.training.fit import time_budget_note


def test_the_note_names_the_epochs_the_schedules_were_sized_for_and_where_they_stopped():
    note = time_budget_note(TrainerSettings(max_epochs=300, max_minutes=20), 57)
    assert "sized for 300 epochs" in note and "stopped at epoch 57" in note
    assert "max_minutes (20)" in note
    # No budget, or a budget that let every epoch run: nothing was cut short.
    assert time_budget_note(TrainerSettings(max_epochs=300), 57) is None
    assert time_budget_note(TrainerSettings(max_epochs=300, max_minutes=20), 300) is None


def test_a_run_stopped_by_its_time_budget_says_so_in_its_summary_and_results(
    tmp_path, capsys, caplog
):
    run_dir = tmp_path / "run"
    argv = ["train", "ram", "--sample", "--run-dir", str(run_dir), "--no-progress-bar"]
    tiny = ["--glimpses", "2", "--what-size", "8", "--where-size", "8", "--hidden-size", "16"]
    # 0.01 minutes is 0.6 s: a few of 50 epochs.
    budget = ["--max-epochs", "50", "--max-minutes", "0.01", "--val-size", "500"]
    assert main([*argv, *tiny, *budget]) == 0
    printed = capsys.readouterr().out
    said = re.search(r"sized for 50 epochs \(max_epochs\) and stopped at epoch (\d+)", printed)
    assert said, printed
    results = json.loads((run_dir / "results.json").read_text())
    assert int(said[1]) == results["epochs"] < 50
    assert results["cut_short"] in results["summary"]
    assert any("sized for 50 epochs" in record.getMessage() for record in caplog.records)


def test_a_schedule_sized_by_minutes_follows_the_wall_clock_and_survives_a_resume(monkeypatch):
    from foveate.training import module as module_file
    from foveate.training.classification import ClassifierModule

    clock = [100.0]
    monkeypatch.setattr(module_file.time, "monotonic", lambda: clock[0])
    module = ClassifierModule(model="cnn", model_args={}, schedule_minutes=10.0)
    assert module.training_progress() == 0.0  # not started
    module.on_train_start()
    clock[0] += 150  # 2.5 of 10 minutes
    assert module.training_progress() == pytest.approx(0.25)
    saved = {}
    module.on_save_checkpoint(saved)
    resumed = ClassifierModule(model="cnn", model_args={}, schedule_minutes=10.0)
    resumed.on_load_checkpoint(saved)
    resumed.on_train_start()
    clock[0] += 300  # 5 more minutes in the next session
    assert resumed.training_progress() == pytest.approx(0.75)
    clock[0] += 600
    assert resumed.training_progress() == 1.0
    with pytest.raises(ValueError, match="schedule_minutes must be positive"):
        ClassifierModule(model="cnn", model_args={}, schedule_minutes=0.0)


def test_the_cosine_follows_the_progress_it_is_given():
    from foveate.training.optim import adam_with_schedule

    done = [0.0]
    weight = torch.nn.Parameter(torch.zeros(1))
    configured = adam_with_schedule(
        [weight], lr=1.0, weight_decay=0.0, schedule="cosine", final_lr_fraction=0.01,
        epochs=1000, progress=lambda: done[0],
    )  # fmt: skip
    optimizer, scheduler = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    assert configured["lr_scheduler"]["interval"] == "step"
    seen = []
    for share in (0.5, 1.0, 1.0):
        done[0] = share
        optimizer.step()
        scheduler.step()
        seen.append(optimizer.param_groups[0]["lr"])
    assert seen == pytest.approx([0.505, 0.01, 0.01])  # half-way, then the end, wherever epochs are


def test_a_run_sized_by_minutes_is_not_said_to_be_cut_short(tmp_path, capsys):
    run_dir = tmp_path / "run"
    argv = ["train", "ram", "--sample", "--run-dir", str(run_dir), "--no-progress-bar"]
    tiny = ["--glimpses", "2", "--what-size", "8", "--where-size", "8", "--hidden-size", "16"]
    budget = ["--max-epochs", "50", "--max-minutes", "0.01", "--schedule-minutes", "0.01"]
    assert main([*argv, *tiny, *budget, "--val-size", "500"]) == 0
    results = json.loads((run_dir / "results.json").read_text())
    assert results["epochs"] < 50 and "cut_short" not in results
    assert "sized for 50 epochs" not in capsys.readouterr().out
