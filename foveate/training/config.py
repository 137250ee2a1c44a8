"""A run's configuration: which model, data, optimiser and trainer settings, as plain keyword dicts.

Each section holds keyword arguments of one typed ``__init__`` (the model's, ``TaskDataModule``'s,
``TrainingModule``'s) or of ``TrainerSettings``; those signatures are the schema and their
defaults apply to whatever a YAML file or a flag leaves out. The resolved config is saved beside
each run as ``config.yaml``, its record.

A config that cannot run is refused with a ``ConfigError`` of one line naming the file or flag:
malformed YAML and misshapen sections when it is read (``RunConfig.from_yaml``, ``from_dict``),
unknown trainer keys, wrong types and impossible trainer settings there and again when
``RunConfig.trainer_settings`` is asked for them, after flags have overridden the file.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_type_hints

import yaml

from foveate.training.schema import ConfigError, check_section, check_value, nearest, show_value

SECTIONS = ("model_args", "data", "optim", "trainer")


@dataclass
class TrainerSettings:
    """How to run the training loop.

    max_epochs: passes over the training digits (also the length of the lr schedule).
    accelerator: 'cpu', 'gpu' (CUDA), 'mps' (Apple silicon), or 'auto': a GPU where there is
        one, else the CPU.
    devices: processes per machine, one per device (CPU processes, or GPUs); more than one
        trains data-parallel (DDP), each with batch_size images.
    num_nodes: machines; more than one trains data-parallel (Lightning's DDP) across them, each
        with ``devices`` processes.
    seed: seeds model initialisation, training canvases and glimpse sampling.
    checkpoint_every_n_steps: how often ``last.ckpt`` is refreshed mid-epoch (0: only at the
        end of each epoch).
    max_minutes: stop training after this wall time (None: no limit). The schedules that follow
        training's progress (the learning rate, a model's annealed exploration) stay sized for
        ``max_epochs``; a run stopped before it says so in its summary and ``results.json``.
    limit_train_batches: batches per epoch (None: all), for smoke runs.
    limit_eval_batches: validation and test batches (None: all), for smoke runs (a test's
        ``test_images`` still counts the whole set).
    progress_bar: show Lightning's progress bar.
    threads: torch intra-op threads per process (None: torch's default).
    gradient_clip_val: clip the gradient's norm to this (None: no clipping).
    init_from: start from the model weights of this checkpoint (an earlier stage of a
        curriculum, trained on an easier task); the optimiser, its schedule and the epochs start
        afresh. Ignored when a run resumes (its own last checkpoint has the weights).
    precision: Lightning's precision: '32-true'; 'bf16-mixed' (matrix products in bfloat16,
        faster on CPUs with AVX-512 BF16 and on recent GPUs; losses and weights stay in
        float32); or '16-mixed' (float16 with loss scaling, GPUs only).
    test_checkpoint: which weights the run's test measures (and the benchmark runner evaluates
        and exports): 'best', those of the best validation score of the training module's
        monitor (``checkpoints/best.ckpt``); or 'last', those at the end of training
        (``checkpoints/last.ckpt``; no best checkpoint is kept), for a fixed recipe that chooses
        nothing on validation or has no validation split.
    logger: where the learning curves go: 'csv', ``metrics.csv`` in the run directory; or
        'tensorboard', ``metrics.csv`` too and TensorBoard's event files in
        ``<run_dir>/tensorboard/`` (``tensorboard --logdir <run_dir>/tensorboard``), where the
        commands that train (``foveate train``, ``foveate bench``) also log the model's figures,
        those of ``foveate show``, at each validation.
    figures_every_n_validations: with the tensorboard logger, log the figures at the first
        validation and every n-th after it (0: never).
    stop_at: stop training at the first validation where ``stop_metric`` reaches this value
        (at least it, for a metric where more is better; at most it, otherwise): a problem
        counted solved ends its run, and the run's summary says at which step (None: train
        for ``max_epochs``).
    stop_metric: the validation metric ``stop_at`` watches, named as logged
        (``val_within_pct``); None: the training module's monitor.

    ``check()`` refuses settings no run could use; ``RunConfig.trainer_settings()`` returns
    only checked settings.
    """

    max_epochs: int = 100
    accelerator: Literal["auto", "cpu", "gpu", "mps"] = "auto"
    devices: int = 1
    num_nodes: int = 1
    seed: int = 0
    checkpoint_every_n_steps: int = 200
    max_minutes: float | None = None
    limit_train_batches: int | None = None
    limit_eval_batches: int | None = None
    progress_bar: bool = True
    threads: int | None = None
    gradient_clip_val: float | None = None
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = "32-true"
    init_from: str | None = None
    test_checkpoint: Literal["best", "last"] = "best"
    logger: Literal["csv", "tensorboard"] = "csv"
    figures_every_n_validations: int = 1
    stop_at: float | None = None
    stop_metric: str | None = None

    def check(self, *, source: str | None = None) -> TrainerSettings:
        """These settings, if a run could use them; ints in float fields made floats.

        source: the file the settings came from: messages then name ``<source>:
            trainer.<key>``; None names the flag, ``--<key>``, as a user types it.

        Raises ConfigError of one line, e.g. ``--devices must be at least 1, got 0``, for a
        value of the wrong type, out of range, or a precision the accelerator cannot run.
        """

        def name(key: str) -> str:
            return f"{source}: trainer.{key}" if source else "--" + key.replace("_", "-")

        for key, annotation in get_type_hints(TrainerSettings).items():
            setattr(self, key, check_value(getattr(self, key), annotation, name=name(key)))
        at_least = {
            "max_epochs": (1, ""),
            "devices": (1, ""),
            "num_nodes": (1, ""),
            "checkpoint_every_n_steps": (0, " (0: only at the end of each epoch)"),
            "limit_train_batches": (1, " (or left out for all batches)"),
            "limit_eval_batches": (1, " (or left out for all batches)"),
            "threads": (1, " (or left out for torch's default)"),
            "figures_every_n_validations": (0, " (0: never)"),
        }
        for key, (least, note) in at_least.items():
            value = getattr(self, key)
            if value is not None and value < least:
                raise ConfigError(f"{name(key)} must be at least {least}{note}, got {value}")
        positive = {"max_minutes": "no limit", "gradient_clip_val": "no clipping"}
        for key, meaning in positive.items():
            value = getattr(self, key)
            # NaN fails both comparisons; an infinite max_minutes overflows Lightning's timedelta.
            if value is not None and not 0 < value < math.inf:
                raise ConfigError(
                    f"{name(key)} must be positive (or left out for {meaning}), got {value}"
                )
        if self.stop_at is not None and not math.isfinite(self.stop_at):
            raise ConfigError(f"{name('stop_at')} must be a finite number, got {self.stop_at}")
        if self.stop_metric is not None and self.stop_at is None:
            raise ConfigError(
                f"{name('stop_metric')} needs {name('stop_at')}, the value to stop at"
            )
        if self.precision == "16-mixed" and self.accelerator == "cpu":
            raise ConfigError(
                f"{name('precision')} 16-mixed needs a GPU; use bf16-mixed on a CPU "
                f"(accelerator is 'cpu')"
            )
        return self


@dataclass
class RunConfig:
    """model: registered model name; the other fields are keyword dicts, one per section;
    source: where it was read from, named in messages (not part of the record)."""

    model: str = "ram"
    model_args: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    optim: dict[str, Any] = field(default_factory=dict)
    trainer: dict[str, Any] = field(default_factory=dict)
    source: str = field(default="config", repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "config") -> RunConfig:
        """The config of ``raw`` (a parsed YAML file, or a checkpoint's record of one).

        source: the file ``raw`` came from, named in messages.

        Guarantees: ``model`` is a string; each section is a dict (one left empty in YAML reads
        as null and becomes an empty dict); the trainer section's keys and types match
        ``TrainerSettings`` (ints made floats where floats are wanted) and a run could use
        them. The other sections are checked against their model's and modules' signatures by
        the harness, which knows which those are.

        Raises ConfigError (one line, beginning ``<source>:``) otherwise.
        """
        known = ("model", *SECTIONS)
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{source}: a config must be a mapping of sections ({', '.join(known)}), "
                f"got {show_value(raw)}"
            )
        for key in raw:
            if key not in known:
                guess = nearest(key, known)
                hint = f"; did you mean {guess!r}?" if guess else ""
                raise ConfigError(
                    f"{source}: unknown section {key!r}{hint} (known: {', '.join(known)})"
                )
        if "model" in raw and not isinstance(raw["model"], str):
            raise ConfigError(
                f"{source}: model must be a registered model name (a string, e.g. ram), "
                f"got {show_value(raw['model'])}"
            )
        sections = {}
        for name in SECTIONS:
            value = raw.get(name)
            if value is not None and not isinstance(value, dict):
                raise ConfigError(
                    f"{source}: section {name!r} must be a mapping (indented key: value "
                    f"lines), got {show_value(value)}"
                )
            sections[name] = dict(value or {})
        model = {"model": raw["model"]} if "model" in raw else {}
        if not set(sections["trainer"]) <= {f.name for f in dataclasses.fields(TrainerSettings)}:
            # Every unknown key at once, those of the model's sections too: only the harness
            # knows their schemas.
            from foveate.training.fit import check_keys

            check_keys(cls(**model, **sections, source=source))
        trainer = check_section(
            sections["trainer"], TrainerSettings, section="trainer", source=source
        )
        TrainerSettings(**trainer).check(source=source)
        sections["trainer"] = trainer
        return cls(**model, **sections, source=source)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> RunConfig:
        """The config of a YAML file; as ``from_dict``, with the file's path as the source.

        Raises FileNotFoundError if there is no such file, ConfigError (one line) if it is not
        UTF-8 text or not valid YAML (with the line and column of the problem) or not a config.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise ConfigError(
                f"{path}: not UTF-8 text (byte {error.start}): a config is a YAML text file"
            ) from None
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML{_yaml_problem(error)}") from None
        return cls.from_dict({} if raw is None else raw, source=str(path))

    def updated(self, overrides: dict[str, dict[str, Any]]) -> RunConfig:
        """A copy with each section's keys replaced by ``overrides[section]``."""
        merged = dataclasses.replace(self, **{s: dict(getattr(self, s)) for s in SECTIONS})
        for section, values in overrides.items():
            getattr(merged, section).update(values)
        return merged

    def trainer_settings(self) -> TrainerSettings:
        """The trainer section over ``TrainerSettings``' defaults, checked.

        Raises ConfigError (one line) for an unknown key (with the nearest known one), a wrong
        type, or an impossible setting, named as the flag that sets it (``--devices``): a value
        from a file has been checked, under the file's name, when the file was read.
        """
        if not set(self.trainer) <= {f.name for f in dataclasses.fields(TrainerSettings)}:
            # No flag sets an unknown key: name the config and the nearest key instead.
            check_section(self.trainer, TrainerSettings, section="trainer", source="config")
        return TrainerSettings(**self.trainer).check()

    def as_dict(self) -> dict[str, Any]:
        """The record: model and sections, as plain data (what ``from_dict`` reads back)."""
        return {"model": self.model, **{s: dict(getattr(self, s)) for s in SECTIONS}}

    def to_yaml(self, path: str | os.PathLike) -> None:
        Path(path).write_text(yaml.safe_dump(self.as_dict(), sort_keys=False))


def _yaml_problem(error: yaml.YAMLError) -> str:
    """' (line L, column C): <problem>' from a PyYAML error, counted from 1 as editors do."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{where}: {problem}"
