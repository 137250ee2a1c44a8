"""Checkpoints across versions (issue 35, item 6): every checkpoint records the foveate version and
checkpoint format that wrote it; one of a format this foveate reads loads, one of another format
is refused in one line naming the version that wrote it and what to do.

``tests/data/checkpoint_format1.ckpt`` is a checkpoint of format 1 kept as written
(``scripts/build_test_checkpoint.py`` made it, and makes the one of each new format): once the
format moves on, it is the older checkpoint that this foveate must still read.
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_refusals import refused  # one check of what a refusal looks like

import foveate
from foveate.cli import main
from foveate.training import checkpointing
from foveate.training.checkpointing import (
    FORMAT,
    FORMAT_KEY,
    VERSION_KEY,
    CheckpointFormatError,
    read_checkpoint,
)
from foveate.training.fit import fit, load_config

ROOT = Path(__file__).resolve().parents[1]
KEPT = ROOT / "tests" / "data" / "checkpoint_format1.ckpt"


def rewritten(tmp_path, name: str, **changes) -> Path:
    """A copy of the kept checkpoint with its foveate keys changed (a value None: removed)."""
    checkpoint = torch.load(KEPT, map_location="cpu", weights_only=False)
    for key, value in changes.items():
        if value is None:
            checkpoint.pop(key, None)
        else:
            checkpoint[key] = value
    path = tmp_path / name
    torch.save(checkpoint, path)
    return path


def test_the_kept_checkpoint_is_small_and_of_format_1():
    assert KEPT.stat().st_size < 200_000
    checkpoint = read_checkpoint(KEPT)
    assert checkpoint[FORMAT_KEY] == 1 and checkpoint[VERSION_KEY] == "0.1.0"


def test_a_new_checkpoint_records_this_foveate_and_its_format(tmp_path):
    # The script that made the kept checkpoint still works, and what it writes says who wrote it.
    spec = importlib.util.spec_from_file_location(
        "build_test_checkpoint", ROOT / "scripts" / "build_test_checkpoint.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    fresh = script.build(tmp_path / "fresh.ckpt")
    checkpoint = read_checkpoint(fresh)
    assert checkpoint[VERSION_KEY] == foveate.__version__
    assert checkpoint[FORMAT_KEY] == FORMAT
    assert fresh.stat().st_size < 200_000


def test_the_kept_checkpoint_loads_and_evaluates(capsys):
    model, config = foveate.load(KEPT)
    assert config.model == "shallow_cnn"
    kept = torch.load(KEPT, map_location="cpu", weights_only=False)["state_dict"]
    for name, value in model.state_dict().items():
        assert torch.equal(value, kept[f"model.{name}"]), name
    assert main(["eval", str(KEPT)]) == 0
    assert "1000 test images" in capsys.readouterr().out


def test_a_checkpoint_written_before_formats_were_recorded_loads(tmp_path, capsys):
    """Format 0: a checkpoint of foveate 0.1.0 before it recorded its version and format."""
    older = rewritten(tmp_path, "older.ckpt", **{FORMAT_KEY: None, VERSION_KEY: None})
    assert load_config(older).model == "shallow_cnn"
    assert main(["eval", str(older)]) == 0
    capsys.readouterr()


def test_the_kept_checkpoint_resumes_under_this_foveate(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(KEPT, run / "checkpoints" / "last.ckpt")
    config = load_config(KEPT).updated({"trainer": {"max_epochs": 2}})
    config.to_yaml(run / "config.yaml")
    before = torch.load(KEPT, map_location="cpu", weights_only=False)["global_step"]
    result = fit(config, run, resume=True)
    after = read_checkpoint(result.last_checkpoint)
    assert after["global_step"] == before + 2  # one more epoch of two batches
    assert after[FORMAT_KEY] == FORMAT


def test_a_checkpoint_of_a_newer_format_is_refused_in_one_line(tmp_path, capsys):
    newer = rewritten(tmp_path, "newer.ckpt", **{FORMAT_KEY: FORMAT + 2, VERSION_KEY: "9.0.0"})
    said = (
        f"{newer} was written by foveate 9.0.0 (checkpoint format {FORMAT + 2}); this foveate "
        f"{foveate.__version__} reads formats 0-{FORMAT}: upgrade foveate to 9.0.0 or later, "
        "or train the run again with this one (--overwrite)"
    )
    with pytest.raises(CheckpointFormatError) as error:
        foveate.load(newer)
    assert str(error.value) == said
    refused(capsys, ["show", str(newer), "--out", str(tmp_path / "fig")], said)
    # as a run's last checkpoint: resuming names the format, not a truncated file
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(newer, run / "checkpoints" / "last.ckpt")
    load_config(KEPT).to_yaml(run / "config.yaml")
    resumed = refused(capsys, ["train", "shallow_cnn", "--run-dir", str(run), "--resume"])
    assert f"checkpoint format {FORMAT + 2}" in resumed and "truncated" not in resumed
    config = load_config(KEPT).updated({"trainer": {"init_from": str(newer)}})
    with pytest.raises(CheckpointFormatError, match="upgrade foveate"):
        fit(config, tmp_path / "second")
    # the command line, in a process of its own: one line on stderr, no traceback
    done = subprocess.run(
        [sys.executable, "-m", "foveate.cli", "eval", str(newer)],
        capture_output=True,
        text=True,
        timeout=300,  # importing foveate takes a few seconds; more on a busy machine
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [f"foveate: error: {said}"]


def test_a_format_older_than_this_foveate_reads_is_refused(capsys, monkeypatch):
    # a later foveate that writes format 3 and reads formats 2-3 meets the kept checkpoint
    monkeypatch.setattr(checkpointing, "FORMAT", 3)
    monkeypatch.setattr(checkpointing, "OLDEST_FORMAT", 2)
    refused(
        capsys,
        ["eval", str(KEPT)],
        f"{KEPT} was written by foveate 0.1.0 (checkpoint format 1)",
        "reads formats 2-3: read it with foveate 0.1.0, or train the run again",
    )


def test_a_format_that_is_not_a_number_is_refused(tmp_path, capsys):
    odd = rewritten(tmp_path, "odd.ckpt", **{FORMAT_KEY: "one"})
    refused(capsys, ["eval", str(odd)], "records checkpoint format 'one', not a number")
