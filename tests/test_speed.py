"""The throughput meter counts training time only: a fit's validation, which Lightning runs
inside the training epoch, is left out."""

import time

import lightning as L
import torch
from torch import nn

from foveate.training.speed import TrainingSpeed

VALIDATION_SECONDS = 0.4


class SlowToValidate(L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 1)

    def training_step(self, batch, index):
        return self.layer(batch).pow(2).mean()

    def validation_step(self, batch, index):
        time.sleep(VALIDATION_SECONDS)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.randn(8, 4), batch_size=4)

    def val_dataloader(self):
        return torch.utils.data.DataLoader(torch.randn(4, 4), batch_size=4)


def test_validation_inside_an_epoch_is_not_training_time():
    speed = TrainingSpeed()
    trainer = L.Trainer(
        max_epochs=2,
        num_sanity_val_steps=0,
        callbacks=[speed],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(SlowToValidate())
    assert speed.images == 16  # two epochs of two batches of 4
    # two validations slept 0.8 s; the eight training steps of a linear layer take milliseconds
    assert speed.seconds < VALIDATION_SECONDS / 2, speed.seconds
    assert speed.wall_seconds > 2 * VALIDATION_SECONDS
