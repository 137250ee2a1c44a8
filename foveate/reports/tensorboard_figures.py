"""The model's figures in TensorBoard: those of ``foveate show``, logged as images at validation.

A run with ``trainer.logger: tensorboard`` logs its learning curves to TensorBoard
(``foveate.training.run_log``); ``TensorBoardFigures`` adds what the model can be seen doing as it
learns: the figures of every maker of ``foveate.reports.figures`` whose capabilities the model
has (glimpses, drawings, scenes, readings, code traversals, games), under ``figures/<name>``.
Stills only: TensorBoard's image panel shows one frame, so the makers are asked for no
animations (``FigureContext.animations``).

Training does not import this package; the commands that train (``foveate train``, the benchmark
runner) attach the callback, through ``figure_callbacks(config)``.
"""

from __future__ import annotations

import copy
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_warn
from PIL import Image

from foveate.reports.figures import FigureContext, figure_makers
from foveate.training.config import RunConfig
from foveate.training.run_log import logged_step

FIGURE_IMAGES = 4  # test images (or samples, games) per figure: enough to see, cheap to draw


@contextmanager
def random_state_kept() -> Iterator[None]:
    """Run the block and put back the state of every global random generator (Python's,
    NumPy's, torch's on the CPU and on each CUDA device in use), so that what it draws leaves
    the draws of training after it unchanged."""
    python, numpy = random.getstate(), np.random.get_state()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            random.setstate(python)
            np.random.set_state(numpy)


class TensorBoardFigures(L.Callback):
    """Log the model's figures to each TensorBoard logger of the run at the first validation and
    every ``every_n_validations``-th after it, on the first process only.

    config: the run's config (its data's test split gives the figures' images); images: test
    images per figure; seed: seeds the figures' draws (the same at every validation, so that
    two steps' figures differ by what the model learnt). ``seconds``: the time spent drawing
    and logging so far, the cost this adds to the run.

    The figures are drawn by a copy of the model on the CPU, in eval mode, inside
    ``random_state_kept``: the model that trains is not touched (its modes, its gradients, its
    device), and a run that logs figures trains exactly as one that does not.
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        every_n_validations: int = 1,
        images: int = FIGURE_IMAGES,
        seed: int = 0,
    ) -> None:
        if every_n_validations < 1:
            raise ValueError(f"every_n_validations must be at least 1, got {every_n_validations}")
        self.config = config
        self.every_n_validations = every_n_validations
        self.images, self.seed = images, seed
        self.validations = 0
        self.seconds = 0.0
        self._drawable = True  # whether any figure is registered for the model
        self._context: FigureContext | None = None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._drawable = bool(figure_makers(pl_module.model))
        if not self._drawable:
            rank_zero_warn(
                f"no figure is registered for a {type(pl_module.model).__name__}: TensorBoard "
                "gets its learning curves only"
            )

    # Inside the validation (at its epoch's end), not after it: a speed meter that leaves the
    # validation out of training's time leaves the figures out too.
    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.validations += 1
        boards = [logger for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]
        due = (self.validations - 1) % self.every_n_validations == 0
        if not (due and boards and self._drawable and trainer.is_global_zero):
            return
        started = time.perf_counter()
        step = logged_step(trainer)  # the validation curves' step
        with random_state_kept(), tempfile.TemporaryDirectory() as scratch:
            for path in self.draw(pl_module.model, Path(scratch)):
                if path.suffix != ".png":
                    continue  # a maker's animation, if it drew one anyway
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert("RGB"))  # (H, W, 3) uint8
                for board in boards:
                    board.experiment.add_image(
                        f"figures/{path.stem}", pixels, step, dataformats="HWC"
                    )
        self.seconds += time.perf_counter() - started

    def draw(self, model: torch.nn.Module, out: Path) -> list[Path]:
        """The model's figures, drawn by a copy of it on the CPU into ``out``; their paths."""
        if self._context is None:  # its data are built once, at the first figures
            self._context = FigureContext(
                out, images=self.images, seed=self.seed, config=self.config, animations=False
            )
        self._context.out = out
        copied = copy.deepcopy(model).cpu().eval()
        torch.manual_seed(self.seed)  # as foveate show does: the same draws at every validation
        makers = figure_makers(copied)
        return [path for maker in makers for path in maker.make(copied, self._context)]


def figure_callbacks(config: RunConfig) -> tuple[L.Callback, ...]:
    """The callbacks that log a run's figures, as its trainer settings ask: a
    ``TensorBoardFigures`` with ``trainer.logger: tensorboard`` (and figures not turned off by
    ``trainer.figures_every_n_validations: 0``), else none."""
    settings = config.trainer_settings()
    if settings.logger != "tensorboard" or settings.figures_every_n_validations == 0:
        return ()
    return (
        TensorBoardFigures(
            config, every_n_validations=settings.figures_every_n_validations, seed=settings.seed
        ),
    )
