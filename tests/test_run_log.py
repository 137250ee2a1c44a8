"""A resumed run's CSV log keeps the rows of its earlier sessions."""

import csv

import lightning as L
import pytest
import torch

from foveate.training.run_log import (
    ResumableCSVLogger,
    forget_rows_from,
    logger_writes_this_step,
)


def _rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_a_second_session_appends_to_the_log_and_widens_its_columns(tmp_path):
    first = ResumableCSVLogger(tmp_path, name="", version="")
    first.log_metrics({"train/total": 2.0}, step=0)
    first.log_metrics({"val_error_pct": 50.0}, step=9)
    first.save()

    second = ResumableCSVLogger(tmp_path, name="", version="")
    second.log_metrics({"train/total": 1.0}, step=10)  # the header survives a narrower row
    second.save()
    second.log_metrics({"test_error_pct": 7.0}, step=20)  # a new column rewrites the header
    second.save()

    rows = _rows(tmp_path / "metrics.csv")
    assert [r["step"] for r in rows] == ["0", "9", "10", "20"]
    assert rows[0]["train/total"] == "2.0" and rows[1]["val_error_pct"] == "50.0"
    assert rows[3]["test_error_pct"] == "7.0" and rows[0]["test_error_pct"] == ""


def test_rows_logged_after_the_resumed_checkpoint_are_forgotten_and_the_header_kept(tmp_path):
    log = ResumableCSVLogger(tmp_path, name="", version="")
    for step in (9, 19, 29):
        log.log_metrics({"train/total": float(step)}, step=step)
    log.log_metrics({"val_error_pct": 40.0}, step=29)
    log.save()
    path = tmp_path / "metrics.csv"
    header = path.read_text().splitlines()[0]

    # resumed from a checkpoint after 20 batches: the rows of steps 20 on are logged again
    assert forget_rows_from(path, 20) == 2
    assert [r["step"] for r in _rows(path)] == ["9", "19"]
    assert path.read_text().splitlines()[0] == header
    assert forget_rows_from(path, 20) == 0  # nothing more to forget
    assert forget_rows_from(tmp_path / "none.csv", 0) == 0  # a run that had logged nothing
    assert list(tmp_path.glob(".metrics.csv.*")) == []  # no temporary file left


class _Players(L.LightningModule):
    """A module of one or two optimisers stepped by hand, as a GAN's are, asking at each
    training step both ours and Lightning's own question: does the logger write this step?"""

    def __init__(self, optimisers: int):
        super().__init__()
        self.automatic_optimization = False
        self.weights = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.ones(1)) for _ in range(optimisers)]
        )
        self.answers: list[tuple[bool, bool]] = []

    def training_step(self, batch, batch_idx):
        optimisers = self.optimizers()
        optimisers = optimisers if isinstance(optimisers, list) else [optimisers]
        for optimiser, weight in zip(optimisers, self.weights, strict=True):
            optimiser.zero_grad()
            self.manual_backward((weight * batch).sum())
            optimiser.step()
        self.answers.append(
            (
                logger_writes_this_step(self.trainer),
                self.trainer._logger_connector.should_update_logs,
            )
        )

    def configure_optimizers(self):
        return [torch.optim.SGD([w], lr=0.01) for w in self.weights]


@pytest.mark.parametrize("optimisers", [1, 2])
def test_logger_writes_this_step_answers_as_lightning_does(optimisers, tmp_path):
    module = _Players(optimisers)
    trainer = L.Trainer(
        max_epochs=2,
        log_every_n_steps=4,
        logger=ResumableCSVLogger(tmp_path, name="", version=""),
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(module, torch.utils.data.DataLoader(torch.ones(10, 1), batch_size=1))
    assert trainer.global_step == 20 * optimisers  # Lightning counts each optimiser's steps
    ours, lightnings = zip(*module.answers, strict=True)
    assert list(ours) == list(lightnings)
    # the 4th, 8th, ... batch over both epochs (of 10 batches each), whatever the optimisers
    assert [i for i, writes in enumerate(ours) if writes] == [3, 7, 11, 15, 19]
