"""``trainer.stop_at``: a run ends at the first validation where its watched metric reaches the
target, and its summary says after how many steps; a target never reached trains every epoch."""

import json

import pytest

from foveate.cli import main
from foveate.training.config import RunConfig, TrainerSettings
from foveate.training.schema import ConfigError
from foveate.training.stopping import StopAtTarget

# Addition sequences of 16 to 20 steps, 20 batches of 50 an epoch: a few seconds of CPU.
ARGV = [
    "train", "ffattention", "--no-progress-bar", "--hidden-size", "16",
    "--min-length", "16", "--length", "20", "--batch-size", "50", "--epoch-size", "1000",
    "--val-size", "200", "--test-size", "200", "--lr", "0.01", "--lr-schedule", "constant",
]  # fmt: skip


def _run(tmp_path, *extra):
    run_dir = tmp_path / "run"
    assert main([*ARGV, "--run-dir", str(run_dir), *extra]) == 0
    return json.loads((run_dir / "results.json").read_text())


def test_a_reached_target_ends_the_run_at_that_validation(tmp_path):
    # Every answer of a young model lies within 0.04 for some share of sequences above 1%:
    # the first validation reaches it, after the first epoch's 20 steps.
    results = _run(
        tmp_path, "--max-epochs", "5", "--stop-at", "1", "--stop-metric", "val_within_pct"
    )
    assert results["epochs"] == 1 and results["steps"] == 20
    assert results["stopped_at_target"] == 20
    assert "val_within_pct reached 1 after 20 steps" in results["summary"]
    assert "cut_short" not in results


def test_a_target_never_reached_trains_every_epoch_and_says_so(tmp_path):
    results = _run(tmp_path, "--max-epochs", "2", "--stop-at", "1e-9")  # val_mse <= 1e-9
    assert results["epochs"] == 2 and results["steps"] == 40
    assert results["stopped_at_target"] is None
    assert "val_mse never reached 1e-09 in 40 steps" in results["summary"]


def test_the_watched_metric_sense_decides_which_side_reaches():
    more = StopAtTarget("val_within_pct", 99, "max")
    assert more.reached(99.0) and more.reached(100.0) and not more.reached(98.9)
    less = StopAtTarget("val_mse", 0.01, "min")
    assert less.reached(0.01) and not less.reached(0.011)
    restored = StopAtTarget("val_mse", 0.01, "min")
    more.reached_at = 120
    restored.load_state_dict(more.state_dict())
    assert restored.reached_at == 120


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"stop_metric": "val_mse"}, "c.yaml: trainer.stop_metric needs c.yaml: trainer.stop_at"),
        ({"stop_at": float("nan")}, "c.yaml: trainer.stop_at must be a finite number, got nan"),
    ],
)
def test_impossible_settings_are_refused_in_one_line(settings, message):
    with pytest.raises(ConfigError) as error:
        TrainerSettings(**settings).check(source="c.yaml")
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
    with pytest.raises(ConfigError, match="--stop-metric needs --stop-at"):
        RunConfig(model="ffattention", trainer={"stop_metric": "val_mse"}).trainer_settings()
    TrainerSettings(stop_at=99.0, stop_metric="val_within_pct").check()  # the valid pair


def test_a_metric_the_module_does_not_declare_is_refused_before_training(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = main([*ARGV, "--run-dir", str(run_dir), "--stop-at", "99", "--stop-metric", "val_acc"])
    said = capsys.readouterr().err
    assert code != 0 and "trainer.stop_metric must be one of val_mse" in said, said
    assert "val_within_pct" in said and not (run_dir / "checkpoints" / "last.ckpt").exists()
