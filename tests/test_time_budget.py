"""A run stopped by ``max_minutes`` before ``max_epochs`` says that its schedules were cut short."""

import json
import re

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
