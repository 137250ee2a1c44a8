"""Training throughput: images per second of training, validation excluded."""

from __future__ import annotations

import time
from typing import Any

import lightning as L


class TrainingSpeed(L.Callback):
    """Count training images and the wall time spent in training epochs (not in validation).

    ``images_per_s`` covers every process: under data parallelism, each batch is multiplied by
    the world size. ``wall_seconds`` is the whole fit, validation included. All three are saved
    in checkpoints, so a resumed run reports its totals over every session.
    """

    def __init__(self) -> None:
        self.images = 0
        self.seconds = 0.0
        self._started: float | None = None
        self._wall_before = 0.0  # fit time before this session's current fit
        self.earlier_wall_seconds = 0.0  # the fit time of earlier sessions of a resumed run
        self._fit_started: float | None = None
        self._paused = False

    @property
    def wall_seconds(self) -> float:
        now = time.perf_counter()
        return self._wall_before + (now - self._fit_started if self._fit_started else 0.0)

    def state_dict(self) -> dict[str, float]:
        seconds = self.seconds
        if self._started is not None:  # a checkpoint saved mid-epoch
            seconds += time.perf_counter() - self._started
        return {"images": self.images, "seconds": seconds, "wall_seconds": self.wall_seconds}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.images, self.seconds = int(state["images"]), float(state["seconds"])
        self._wall_before = self.earlier_wall_seconds = float(state["wall_seconds"])

    def on_train_start(self, *args: Any) -> None:
        self._fit_started = time.perf_counter()
        self._start()  # a run resumed mid-epoch gets no on_train_epoch_start

    def on_train_end(self, *args: Any) -> None:
        self._stop()
        self._wall_before = self.wall_seconds
        self._fit_started = None

    def _start(self) -> None:
        self._started = time.perf_counter()

    def _stop(self) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None

    def on_train_epoch_start(self, *args: Any) -> None:
        self._start()

    # Lightning runs a fit's validation inside the training epoch, with ``trainer.training``
    # false: whether the epoch's clock was running is what says that this validation interrupts
    # training (before commit 9247f9f, validation time was counted as training time).
    def on_validation_start(self, *args: Any) -> None:
        self._paused = self._started is not None
        self._stop()

    def on_validation_end(self, *args: Any) -> None:
        if self._paused:
            self._start()
        self._paused = False

    def on_train_epoch_end(self, *args: Any) -> None:
        self._stop()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        # A batch is a tensor, or a tuple whose first member holds one row per example.
        first = batch[0] if isinstance(batch, tuple | list) else batch
        self.images += len(first) * trainer.world_size

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds else float("nan")
