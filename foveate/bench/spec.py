"""A benchmark spec: one named result, everything needed to measure it and to say what it means.

A spec is a YAML file in ``benchmarks/specs/`` (its name is the file's stem) or a ``BenchSpec``
registered from Python with ``register_benchmark``; adding a benchmark means adding a file. It
names a run config, the seeds, overrides of that config (a budget, another setting), the
evaluations run on each seed's best checkpoint beyond its own test (``foveate.bench.evaluations``),
the metric the results table shows with its sense, and the paper's figure with its source::

    title: "RAM, MNIST 28x28, 6 glimpses of 8x8, 1 scale: test error, M=1"
    config: ram/mnist.yaml            # under configs/ (or a whole config, inline)
    seeds: [0, 1, 2]
    overrides: {trainer: {max_minutes: 42}}
    evaluations: [{name: samples, samples: 10}, {name: hit_rate}]
    metric: test_error_pct            # the headline figure; sense: min (lower is better)
    summary: "{test_error_pct:.2f}% (M=10: {test_error_pct_M10:.2f}%)"
    paper: {value: 1.12, source: "Mnih et al., NIPS 2014 proceedings, table 1 (a)"}
    used_labels: "the checkpoint is chosen on the error of 5,000 labelled validation digits"
    kind: headline                    # or probe: an ablation, its record kept apart
    row: 2                            # its place in the README's results table (none: not shown)
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

import foveate
from foveate.registry import Registry
from foveate.training.config import RunConfig

BENCHMARKS: Registry[BenchSpec] = Registry("benchmark")
SPECS_FOLDER = Path("benchmarks") / "specs"


@dataclass(frozen=True)
class PaperFigure:
    """A published figure: its value (in the record's metric's unit) and where it is printed
    (paper, version, table or figure)."""

    value: float
    source: str


@dataclass(frozen=True)
class FirstAttempt:
    """A test figure that missed its target before the configuration was changed: shown beside
    the row, never hidden. figure: as printed; record: the record that holds it (or 'docs/...');
    what_changed: what was changed after it, and on what evidence."""

    figure: str
    record: str
    what_changed: str


@dataclass(frozen=True)
class BenchSpec:
    """A named benchmark; see the module's docstring for the YAML form.

    name: the record's name. title: the results table's first column.
    config: a config file under ``configs/`` (or an absolute path), or a whole config as a dict.
    seeds: the seeds a full run trains, each on its own.
    overrides: config sections laid over the file's (``{"trainer": {"max_minutes": 42}}``).
    evaluations: ``{"name": ..., **arguments}`` of registered evaluations run on each seed's best
        checkpoint; their metrics join the seed's.
    metric: the headline metric; sense: 'min' when lower is better, else 'max'.
    aggregate: how seeds combine into the record's figure: 'mean' or 'median'.
    target: a figure each seed should reach (the record counts ``seeds_at_target``), or None.
    summary: a ``str.format`` template over the record's metrics, the table's 'ours' cell.
    paper: the published figure of ``metric``, or None where the paper prints none.
    first_attempt: a first test figure that missed its target before a change, or None.
    used_labels: what used labels in choosing settings and checkpoints, one sentence.
    kind: 'headline' (its record in records/headline) or 'probe' (records/probes).
    row: its place in the README's results table (None: not in the table).
    notes: what the figures mean, for a reader of the record alone.
    start_from: ``{"benchmark": name, "checkpoint": "last" or "best"}``: each seed starts from
        the weights of that benchmark's run of the same seed (a curriculum's earlier stage),
        which the runner trains first if it has not.
    beside: other benchmarks whose records' metrics the summary quotes, as ``{name[metric]}``
        (a baseline trained on its own, in the same budget).
    pretrained: the name seed 0's weights are loaded by, 'model/row' ('ram/mnist_6g'), or None
        (``foveate.bench.pretrained``).
    also_named: further names of the record's metrics, ``{name: metric}``, for the names an
        issue or a reader asks for (``code_accuracy_pct_worst: test_code_accuracy_pct_min``);
        the record then holds both.
    no_pretrained: why a headline benchmark ships no pretrained weights (its row's pretrained
        cell says it), where ``pretrained`` is None.
    shipped_dtype: 'float16' to ship the pretrained weights as a half-precision copy of seed
        0's (InfoGAN's 53 MB would take most of the repository's budget for weights), or None
        to ship them as trained; ``pretrained_check`` measures what the copy gives.
    """

    name: str
    title: str
    config: str | dict[str, Any]
    metric: str
    seeds: tuple[int, ...] = (0,)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluations: tuple[dict[str, Any], ...] = ()
    sense: Literal["min", "max"] = "min"
    aggregate: Literal["mean", "median"] = "mean"
    target: float | None = None
    summary: str = ""
    paper: PaperFigure | None = None
    first_attempt: FirstAttempt | None = None
    used_labels: str = ""
    kind: Literal["headline", "probe"] = "headline"
    row: int | None = None
    notes: str = ""
    start_from: dict[str, str] | None = None
    beside: tuple[str, ...] = ()
    pretrained: str | None = None
    also_named: dict[str, str] = field(default_factory=dict)
    shipped_dtype: Literal["float16"] | None = None
    no_pretrained: str = ""

    def __post_init__(self) -> None:
        where = f"benchmark {self.name!r}"
        if self.sense not in ("min", "max"):
            raise ValueError(f"{where}: sense must be 'min' or 'max', got {self.sense!r}")
        if self.aggregate not in ("mean", "median"):
            raise ValueError(f"{where}: aggregate must be 'mean' or 'median'")
        if self.kind not in ("headline", "probe"):
            raise ValueError(f"{where}: kind must be 'headline' or 'probe', got {self.kind!r}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"{where}: seeds must be distinct and at least one")
        if self.start_from is not None and (
            set(self.start_from) - {"benchmark", "checkpoint"}
            or self.start_from.get("checkpoint", "best") not in ("last", "best")
            or "benchmark" not in self.start_from
        ):
            raise ValueError(f"{where}: start_from is {{benchmark: NAME, checkpoint: last|best}}")
        if self.pretrained is not None and (
            self.kind != "headline" or self.pretrained.count("/") != 1
        ):
            raise ValueError(f"{where}: pretrained is 'model/row' of a headline benchmark")
        if self.shipped_dtype not in (None, "float16"):
            raise ValueError(f"{where}: shipped_dtype is float16 or absent")
        if self.no_pretrained and self.pretrained is not None:
            raise ValueError(f"{where}: no_pretrained says why there is no pretrained name")
        if self.shipped_dtype is not None and self.pretrained is None:
            raise ValueError(f"{where}: shipped_dtype needs a pretrained name")
        for evaluation in self.evaluations:
            if "name" not in evaluation:
                raise ValueError(f"{where}: every evaluation needs a name ({evaluation})")

    @classmethod
    def from_dict(cls, name: str, raw: dict[str, Any], *, source: str = "spec") -> BenchSpec:
        """A spec from its YAML mapping; unknown keys are refused at once, all of them."""
        known = {f.name for f in dataclasses.fields(cls)} - {"name"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(
                f"{source}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        values = dict(raw)
        for key, kind in (("paper", PaperFigure), ("first_attempt", FirstAttempt)):
            if values.get(key) is not None:
                try:
                    values[key] = kind(**values[key])
                except TypeError as error:
                    raise ValueError(f"{source}: {key}: {error}") from None
        for key in ("seeds", "evaluations", "beside"):
            if key in values:
                values[key] = tuple(values[key])
        try:
            return cls(name=name, **values)
        except TypeError as error:
            raise ValueError(f"{source}: {error}") from None

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> BenchSpec:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise ValueError(f"{path}: not a readable spec ({error})") from None
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: a spec is a mapping of its fields")
        return cls.from_dict(path.stem, raw, source=str(path))

    def run_config(self, root: str | os.PathLike) -> RunConfig:
        """The spec's config with its overrides; a file is looked up under ``root``/configs."""
        if isinstance(self.config, dict):
            config = RunConfig.from_dict(self.config, source=f"benchmark {self.name}")
        else:
            path = Path(self.config)
            config = RunConfig.from_yaml(
                path if path.is_absolute() else Path(root) / "configs" / path
            )
        return config.updated(self.overrides)


def register_benchmark(spec: BenchSpec) -> BenchSpec:
    """Make a spec runnable by name (from Python, e.g. a package outside foveate)."""
    return BENCHMARKS.add(spec.name, spec)


def project_root() -> Path:
    """Where ``benchmarks/`` and ``configs/`` are: the working directory if it has them, else
    the checkout foveate is installed from."""
    here = Path.cwd()
    if (here / SPECS_FOLDER).is_dir():
        return here
    return Path(foveate.__file__).resolve().parents[1]


_loaded: set[Path] = set()


def load_specs(root: str | os.PathLike | None = None) -> Registry[BenchSpec]:
    """``BENCHMARKS`` with every spec file of ``root``/benchmarks/specs registered (once)."""
    folder = (Path(root) if root is not None else project_root()) / SPECS_FOLDER
    if folder.resolve() not in _loaded and folder.is_dir():
        for path in sorted(folder.glob("*.yaml")):
            register_benchmark(BenchSpec.from_yaml(path))
        _loaded.add(folder.resolve())
    return BENCHMARKS
