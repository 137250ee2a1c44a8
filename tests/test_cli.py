"""The command line: bad configs are refused in one line before training; eval and show work."""

import os
from pathlib import Path

import pytest

from foveate.cli import main


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--task", "mnist", "--patch-size", "40"], "larger than the 28x28 images"),
        (["--glimpses", "0"], "at least one glimpse"),
        (["--task", "cifar"], "unknown task 'cifar'"),
        (["--data-dir", "{missing}", "--no-download"], "does not exist"),
        (["--lr-schedule", "cosine", "--eval-samples", "0"], "eval_samples"),
    ],
)
def test_bad_configs_are_refused_in_one_line_before_training(tmp_path, capsys, flags, message):
    flags = [f.format(missing=tmp_path / "nowhere") for f in flags]
    run_dir = tmp_path / "run"
    assert main(["train", "ram", "--run-dir", str(run_dir), *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("foveate: error:") and message in err
    assert len(err.splitlines()) == 1
    assert not (run_dir / "checkpoints").exists()  # nothing was trained


def test_unknown_config_section_and_missing_config(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: ram\nmodle_args: {glimpses: 2}\n")
    assert main(["train", "ram", "--config", str(bad)]) == 2
    assert "unknown section" in capsys.readouterr().err
    assert main(["train", "ram", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_resume_without_a_run_is_refused(tmp_path, capsys):
    assert main(["train", "ram", "--resume"]) == 2  # one line, not argparse's usage
    assert "--resume needs the --run-dir" in capsys.readouterr().err
    assert main(["train", "ram", "--resume", "--run-dir", str(tmp_path)]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_help_lists_the_flags_of_the_model_named_or_of_the_configs(capsys):
    root = Path(__file__).resolve().parents[1]
    for argv in (["reader"], ["--config", str(root / "configs/reader/rows.yaml")]):
        with pytest.raises(SystemExit):
            main(["train", *argv, "--help"])
        out = capsys.readouterr().out
        assert "--doubly-stochastic" in out and "--glimpses" not in out


def test_list_names_models_and_tasks(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "ram" in out and "draw" in out and "draw_classifier" in out and "cluttered100" in out


@pytest.mark.slow
def test_train_eval_show_on_the_sample(tmp_path, capsys):
    run = tmp_path / "run"
    flags = [
        "--sample",
        "--val-size",
        "500",
        "--glimpses",
        "3",
        "--max-epochs",
        "1",
        "--limit-train-batches",
        "5",
        "--no-progress-bar",
    ]
    assert main(["train", "ram", "--run-dir", str(run), *flags]) == 0
    assert "test error" in capsys.readouterr().out
    checkpoint = run / "checkpoints" / "best.ckpt"
    assert main(["eval", str(checkpoint), "--eval-samples", "3"]) == 0
    assert "(M=3, 1000 test images)" in capsys.readouterr().out
    assert main(["show", str(checkpoint), "--images", "4", "--out", str(tmp_path / "fig")]) == 0
    png, gif = tmp_path / "fig" / "glimpses.png", tmp_path / "fig" / "glimpses.gif"
    assert png.stat().st_size > 10_000
    from PIL import Image

    with Image.open(gif) as animation:
        assert animation.n_frames == 3  # one frame per glimpse


@pytest.mark.slow
def test_draw_train_eval_show_writes_samples_and_the_drawing(tmp_path, capsys):
    run = tmp_path / "run"
    flags = ["--sample", "--val-size", "500", "--binarize", "fixed", "--steps", "5"]
    flags += ["--encoder-size", "32", "--decoder-size", "32", "--latent-size", "4"]
    flags += ["--max-epochs", "1", "--limit-train-batches", "5", "--no-progress-bar"]
    assert main(["train", "draw", "--run-dir", str(run), *flags]) == 0
    assert "test NLL bound" in capsys.readouterr().out
    checkpoint = run / "checkpoints" / "best.ckpt"
    assert main(["eval", str(checkpoint), "--eval-samples", "3"]) == 0
    assert "importance-weighted (K=3)" in capsys.readouterr().out
    assert main(["show", str(checkpoint), "--images", "6", "--out", str(tmp_path / "fig")]) == 0
    from PIL import Image

    assert (tmp_path / "fig" / "samples.png").stat().st_size > 1_000
    with Image.open(tmp_path / "fig" / "drawing.gif") as animation:
        assert animation.n_frames == 6  # one per step, then the finished drawings


@pytest.mark.slow
def test_draw_classifier_shows_its_glimpses(tmp_path, capsys):
    run = tmp_path / "run"
    flags = ["--sample", "--val-size", "500", "--image-size", "28", "--glimpses", "2"]
    flags += ["--read-size", "6", "--max-epochs", "1", "--limit-train-batches", "3"]
    assert (
        main(["train", "draw_classifier", "--run-dir", str(run), *flags, "--no-progress-bar"]) == 0
    )
    assert "test error" in capsys.readouterr().out
    checkpoint = run / "checkpoints" / "best.ckpt"
    assert main(["show", str(checkpoint), "--images", "4", "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig" / "glimpses.png").stat().st_size > 10_000


FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(FASHION), reason="apt-get install dataset-fashion-mnist")
def test_ram_trains_on_fashion_mnist_canvases_through_the_same_code(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # nothing cached: the package
    monkeypatch.delenv("FOVEATE_DATA", raising=False)
    run = tmp_path / "run"
    flags = ["--dataset", "fashion-mnist", "--task", "translated", "--glimpses", "2"]
    flags += ["--max-epochs", "1", "--limit-train-batches", "3", "--no-progress-bar"]
    assert main(["train", "ram", "--run-dir", str(run), *flags]) == 0, capsys.readouterr().err
    assert "(M=1, 10000 test images)" in capsys.readouterr().out
    config = (run / "config.yaml").read_text()
    assert "dataset: fashion-mnist" in config and "task: translated" in config


@pytest.mark.slow
def test_a_configs_eval_samples_is_the_one_the_test_uses(tmp_path, capsys):
    config = tmp_path / "ram.yaml"
    config.write_text("model: ram\nmodel_args: {glimpses: 2}\noptim: {eval_samples: 3}\n")
    run = tmp_path / "run"
    flags = ["--sample", "--max-epochs", "1", "--limit-train-batches", "2", "--no-progress-bar"]
    assert main(["train", "ram", "--config", str(config), "--run-dir", str(run), *flags]) == 0
    assert "(M=3, 1000 test images)" in capsys.readouterr().out
    checkpoint = str(run / "checkpoints" / "best.ckpt")
    assert main(["eval", checkpoint]) == 0  # the run's own M, unless asked for another
    assert "(M=3," in capsys.readouterr().out
    assert main(["eval", checkpoint, "--eval-samples", "5"]) == 0
    assert "(M=5," in capsys.readouterr().out


def test_list_settings_are_flags_written_with_commas_or_as_yaml():
    from foveate.cli import _list_flag

    assert _list_flag("0,1,3") == [0, 1, 3]
    assert _list_flag("[-0.5, 0.1]") == [-0.5, 0.1]
    assert _list_flag("2") == [2]
