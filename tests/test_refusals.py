"""Every mistake a user can make at the command line ends in one line that names the file or flag,
what was wrong and what would be right; never a traceback, and nothing trained or lost."""

import shutil

import pytest
import torch
from torch import nn

from foveate.cli import main
from foveate.models import MODELS, ModelEntry
from foveate.models.cnn import cross_entropy_loss

TINY_RAM = ["--sample", "--glimpses", "2", "--hidden-size", "16", "--glimpse-size", "16"]
QUICK = ["--max-epochs", "1", "--limit-train-batches", "2", "--no-progress-bar"]


def refused(capsys, argv: list[str], *fragments: str) -> str:
    """Run the command; it must exit 2 with one line containing every fragment."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("foveate: error:"), err
    for fragment in fragments:
        assert fragment in err, err
    return err


def config_file(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_unknown_config_key_names_the_file_and_the_nearest_key(tmp_path, capsys):
    path = config_file(tmp_path, "model: ram\nmodel_args:\n  glimpse: 3\n")
    refused(
        capsys, ["train", "ram", "--config", path], path, "'glimpse'", "did you mean 'glimpses'"
    )
    path = config_file(tmp_path, "model: ram\noptim:\n  learning_rate: 0.1\n")
    refused(capsys, ["train", "ram", "--config", path], "unknown key 'learning_rate' in optim")
    path = config_file(tmp_path, "model: ram\ndata:\n  taks: translated\n")
    refused(capsys, ["train", "ram", "--config", path], "did you mean 'task'")
    path = config_file(tmp_path, "model: ram\ntrainer:\n  max_epoch: 3\n")
    refused(capsys, ["train", "ram", "--config", path], "did you mean 'max_epochs'")


def test_a_value_of_the_wrong_type_is_refused(tmp_path, capsys):
    path = config_file(tmp_path, "model: ram\nmodel_args:\n  glimpses: six\n")
    refused(capsys, ["train", "ram", "--config", path], "model_args.glimpses must be an int", "six")
    path = config_file(tmp_path, "model: ram\nmodel_args:\n  core: gru\n")
    refused(capsys, ["train", "ram", "--config", path], "one of 'rnn', 'lstm'")


def test_malformed_yaml_names_the_line(tmp_path, capsys):
    path = config_file(tmp_path, "model: ram\nmodel_args: {glimpses: 3\ntrainer: {}\n")
    refused(capsys, ["train", "ram", "--config", path], path, "not valid YAML (line")


def test_a_config_of_another_model_is_refused(tmp_path, capsys):
    path = config_file(tmp_path, "model: ram\nmodel_args:\n  glimpses: 3\n")
    refused(capsys, ["train", "draw", "--config", path], "a config of 'ram', not 'draw'")


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--devices", "0"], "--devices must be at least 1, got 0"),
        (["--max-epochs", "-3"], "--max-epochs must be at least 1, got -3"),
        (["--num-nodes", "0"], "--num-nodes must be at least 1"),
        (["--max-minutes", "0"], "--max-minutes must be positive"),
        (["--accelerator", "cpu", "--precision", "16-mixed"], "16-mixed needs a GPU"),
        (["--lr", "-1"], "lr must be positive"),
    ],
)
def test_impossible_trainer_settings_are_refused_before_training(tmp_path, capsys, flags, message):
    run = tmp_path / "run"
    refused(capsys, ["train", "ram", "--run-dir", str(run), *TINY_RAM, *flags], message)
    assert not (run / "checkpoints").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_an_accelerator_this_machine_lacks_is_refused(tmp_path, capsys):
    argv = ["train", "ram", "--run-dir", str(tmp_path / "run"), *TINY_RAM, "--accelerator", "gpu"]
    refused(capsys, argv, "--accelerator gpu: no CUDA GPU is available", "--accelerator cpu")


@pytest.mark.slow
def test_a_run_directory_in_use_is_refused_unless_resumed_or_overwritten(tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "ram", "--run-dir", str(run), *TINY_RAM, *QUICK]
    assert main(argv) == 0
    capsys.readouterr()
    last = run / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    refused(capsys, argv, str(run), "already holds a run", "--resume", "--overwrite")
    assert last.read_bytes() == before  # the first run is untouched
    assert main([*argv, "--overwrite"]) == 0
    assert "test error" in capsys.readouterr().out
    refused(capsys, [*argv, "--overwrite", "--resume"], "choose one")  # they contradict


def test_files_that_are_not_checkpoints_are_refused(tmp_path, capsys):
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint\n")
    refused(capsys, ["eval", str(text)], "is not a foveate checkpoint", "checkpoints/")
    refused(capsys, ["show", str(text)], "is not a foveate checkpoint")
    weights = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(3)}, weights)
    refused(capsys, ["eval", str(weights)], "not a checkpoint of a training run")
    refused(capsys, ["eval", str(tmp_path / "missing.ckpt")], "checkpoint not found")


@pytest.mark.slow
def test_a_truncated_checkpoint_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "ram", "--run-dir", str(run), *TINY_RAM, *QUICK]) == 0
    capsys.readouterr()
    whole = (run / "checkpoints" / "best.ckpt").read_bytes()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(whole[: len(whole) // 2])
    refused(capsys, ["eval", str(cut)], str(cut), "truncated or corrupt")
    copied = tmp_path / "copy.ckpt"
    shutil.copy(run / "checkpoints" / "best.ckpt", copied)
    assert main(["eval", str(copied)]) == 0  # the whole file, elsewhere, still evaluates


class NanAfter(nn.Module):
    """A linear classifier whose loss becomes NaN at its ``nan_at``-th training forward pass."""

    def __init__(self, *, nan_at: int = 4, num_classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        self.nan_at, self.num_classes = nan_at, num_classes
        self.classify = nn.Linear(image_size * image_size, num_classes)
        self.calls = 0

    def forward(self, images):
        if self.training:
            self.calls += 1
        return self.classify(images.flatten(1))

    def loss(self, logits, targets):
        loss = cross_entropy_loss(logits, targets)
        if self.training and self.calls >= self.nan_at:
            loss.total = loss.total * float("nan")
        return loss

    def predict_proba(self, images, *, samples=1):
        return self(images).softmax(-1)


@pytest.mark.slow
def test_a_diverging_run_stops_at_its_step_and_keeps_the_last_good_checkpoint(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(
        MODELS._entries, "nan_after", ModelEntry("nan_after", NanAfter, "classifier", "tasks")
    )
    run = tmp_path / "run"
    argv = ["train", "nan_after", "--run-dir", str(run), "--sample", "--nan-at", "5"]
    argv += ["--checkpoint-every-n-steps", "2", "--max-epochs", "1", "--no-progress-bar"]
    refused(capsys, argv, "training diverged", "nan at step 5", "last.ckpt (after step 4)")
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["global_step"] == 4
    assert all(torch.isfinite(t).all() for t in last["state_dict"].values())


def test_what_a_registered_name_fixes_is_neither_a_flag_nor_a_config_key(tmp_path, capsys):
    # DAIR is AIR with difference=True: neither a flag nor a config may set it back.
    with pytest.raises(SystemExit):
        main(["train", "dair", "--help"])
    assert "--difference" not in capsys.readouterr().out
    path = config_file(tmp_path, "model: dair\nmodel_args:\n  difference: false\n")
    refused(
        capsys, ["train", "dair", "--config", path], path, "model_args.difference cannot be set"
    )


def test_a_list_flag_of_the_wrong_items_is_refused(capsys):
    refused(capsys, ["train", "air", "--sample", "--counts", "0,one"], "data.counts", "'one'")
