"""A run's configuration: which model, data, optimiser and trainer settings, as plain keyword dicts.

Each section holds keyword arguments of one typed ``__init__`` (the model's, ``TaskDataModule``'s,
``TrainingModule``'s) or of ``TrainerSettings``; those signatures are the schema and their
defaults apply to whatever a YAML file or a flag leaves out. The resolved config is saved beside
each run as ``config.yaml``, its record.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

SECTIONS = ("model_args", "data", "optim", "trainer")


@dataclass
class TrainerSettings:
    """How to run the training loop.

    max_epochs: passes over the training digits (also the length of the lr schedule).
    devices: CPU processes; more than one trains data-parallel (DDP), each with batch_size images.
    seed: seeds model initialisation, training canvases and glimpse sampling.
    checkpoint_every_n_steps: how often ``last.ckpt`` is refreshed mid-epoch.
    max_minutes: stop training after this wall time (None: no limit).
    limit_train_batches: batches per epoch (None: all), for smoke runs.
    progress_bar: show Lightning's progress bar.
    threads: torch intra-op threads per process (None: torch's default).
    gradient_clip_val: clip the gradient's norm to this (None: no clipping).
    precision: Lightning's precision: '32-true', or 'bf16-mixed' (matrix products in bfloat16,
        faster on CPUs with AVX-512 BF16; losses and weights stay in float32).
    """

    max_epochs: int = 100
    devices: int = 1
    seed: int = 0
    checkpoint_every_n_steps: int = 200
    max_minutes: float | None = None
    limit_train_batches: int | None = None
    progress_bar: bool = True
    threads: int | None = None
    gradient_clip_val: float | None = None
    precision: Literal["32-true", "bf16-mixed"] = "32-true"


@dataclass
class RunConfig:
    """model: registered model name; the other fields are keyword dicts, one per section."""

    model: str = "ram"
    model_args: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    optim: dict[str, Any] = field(default_factory=dict)
    trainer: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "config") -> RunConfig:
        unknown = set(raw) - {"model", *SECTIONS}
        if unknown:
            raise ValueError(
                f"{source}: unknown section(s) {sorted(unknown)}; known: model, {', '.join(SECTIONS)}"
            )
        for name in SECTIONS:
            if not isinstance(raw.get(name, {}), dict):
                raise ValueError(f"{source}: section {name!r} must be a mapping")
        return cls(**{k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()})

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        return cls.from_dict(yaml.safe_load(path.read_text()) or {}, source=str(path))

    def updated(self, overrides: dict[str, dict[str, Any]]) -> RunConfig:
        """A copy with each section's keys replaced by ``overrides[section]``."""
        merged = dataclasses.replace(self, **{s: dict(getattr(self, s)) for s in SECTIONS})
        for section, values in overrides.items():
            getattr(merged, section).update(values)
        return merged

    def trainer_settings(self) -> TrainerSettings:
        return TrainerSettings(**self.trainer)

    def to_yaml(self, path: str | os.PathLike) -> None:
        Path(path).write_text(yaml.safe_dump(dataclasses.asdict(self), sort_keys=False))
