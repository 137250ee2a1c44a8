"""benchmarks/ram_curves.py: validation errors read per epoch, from a kept log or a runner's run,
and the comparison it prints."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ram_curves  # noqa: E402


def test_window_mean_and_best_known_answer(tmp_path, monkeypatch, capsys):
    # Lightning's CSV logger writes training rows with an empty val_error_pct between epochs.
    lines = ["epoch,step,train/total,val_error_pct"]
    for epoch, error in enumerate([9.0, 5.0, 3.0, 4.0]):
        lines += [f"{epoch},{epoch * 10},1.0,", f"{epoch},{epoch * 10 + 9},,{error}"]
    (tmp_path / "run.metrics.csv").write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(ram_curves, "RECORDS", tmp_path)
    monkeypatch.setattr(ram_curves, "RUNS", tmp_path / "runs")
    assert ram_curves.validation_errors("run") == [9.0, 5.0, 3.0, 4.0]
    (tmp_path / "runs" / "a_probe" / "seed0").mkdir(parents=True)
    (tmp_path / "run.metrics.csv").rename(tmp_path / "runs" / "a_probe" / "seed0" / "metrics.csv")
    assert ram_curves.validation_errors("a_probe") == [9.0, 5.0, 3.0, 4.0]
    with pytest.raises(SystemExit, match="run"):
        ram_curves.validation_errors("run")
    (tmp_path / "runs" / "a_probe" / "seed0" / "metrics.csv").rename(tmp_path / "run.metrics.csv")
    monkeypatch.setattr(sys, "argv", ["ram_curves", "run", "--epochs", "1", "3", "--best-by", "2"])
    ram_curves.main()
    assert "epochs 1-3: 4.00%; best in the first 2 epochs: 5.00%" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["ram_curves", "run", "--epochs", "1", "4", "--best-by", "2"])
    with pytest.raises(SystemExit, match="has 4 epochs"):
        ram_curves.main()
