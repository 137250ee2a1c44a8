"""The extension point: a model of a new kind (its own training module with two optimisers,
parameter groups with their own learning rates, manual optimisation, a metric to maximise; its
own data source) trains, evaluates and is described through the unchanged harness and command
line, and passes the per-model checks, by registering it and nothing else."""

import json
from typing import Protocol, runtime_checkable

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from foveate.cli import main
from foveate.data.sources import DATA_SOURCES
from foveate.models import MODELS, ModelEntry
from foveate.models.interface import Model
from foveate.training import checks
from foveate.training.config import RunConfig
from foveate.training.fit import build, train_and_test
from foveate.training.module import (
    TRAINING_MODULES,
    ContractError,
    Metric,
    check_training_module,
)


class Duo(nn.Module):
    """Two players over vectors: ``first`` scores, ``second`` scores the same points."""

    def __init__(self, *, size: int = 4) -> None:
        super().__init__()
        self.first, self.second = nn.Linear(size, 1), nn.Linear(size, 1)

    def forward(self, x):
        return self.first(x), self.second(x)

    def loss(self, output, targets):
        return output[0].pow(2).mean() + output[1].pow(2).mean()

    def scores(self, x):
        """Both players' scores of points (B, size) -> (B, 2): what its figure shows."""
        return torch.cat(self(x), -1)


@runtime_checkable
class Scores(Protocol):
    """A capability the new kind defines beside its model: it scores points."""

    def scores(self, x: torch.Tensor) -> torch.Tensor: ...


def score_figure(model, context):
    """The new kind's figure: each test point's two scores, one against the other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (x,) = next(iter(context.data.test_dataloader()))
    with torch.no_grad():
        scores = model.scores(x[: context.images])
    figure, axes = plt.subplots(figsize=(3, 3))
    axes.scatter(scores[:, 0], scores[:, 1])
    path = context.out / "scores.png"
    figure.savefig(path)
    plt.close(figure)
    return [path]


class Points(L.LightningDataModule):
    """Random points, no labels worth the name: a data source that is not a task of images."""

    def __init__(self, *, count: int = 64, size: int = 4) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.points = TensorDataset(torch.randn(count, size, generator=generator))

    def _loader(self):
        return DataLoader(self.points, batch_size=16)

    train_dataloader = val_dataloader = test_dataloader = _loader


class TwoPlayers(L.LightningModule):
    """Manual optimisation with two optimisers, the first with two parameter groups."""

    metrics = {"score": Metric("max", "duo score")}
    monitor = "val_score"

    def __init__(self, *, model, model_args, max_epochs, lr_first: float = 0.1, lr_second=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.model = Duo(**model_args)

    def configure_optimizers(self):
        hp, first = self.hparams, self.model.first
        groups = [
            {"params": [first.weight], "lr": hp.lr_first},
            {"params": [first.bias], "lr": hp.lr_first / 10},
        ]
        return [
            torch.optim.Adam(groups),
            torch.optim.SGD(self.model.second.parameters(), hp.lr_second),
        ]

    def batch_losses(self, batch):
        (x,) = batch
        first, second = (output.pow(2).mean() for output in self.model(x))
        return {"first": first, "second": second, "total": first + second}

    def training_step(self, batch, batch_idx):
        (x,) = batch
        for optimiser, output in zip(self.optimizers(), self.model(x), strict=True):
            optimiser.zero_grad()
            self.manual_backward(output.pow(2).mean())
            optimiser.step()

    def validation_step(self, batch, batch_idx):
        # Best at epoch 1 when maximised; a harness that minimised would keep epoch 0 or 2.
        self.log("val_score", -abs(float(self.current_epoch) - 1.0))

    def test_step(self, batch, batch_idx):
        self.log("test_score", float(self.current_epoch) + 41.0)

    @classmethod
    def describe(cls, metrics):
        return f"duo score {metrics['test_score']:.1f}"


@pytest.fixture
def duo(monkeypatch):
    monkeypatch.setitem(MODELS._entries, "duo", ModelEntry("duo", Duo, "two_players", "points"))
    monkeypatch.setitem(TRAINING_MODULES._entries, "two_players", TwoPlayers)
    monkeypatch.setitem(DATA_SOURCES._entries, "points", Points)


def test_a_model_of_a_new_kind_trains_through_the_harness(duo, tmp_path):
    assert isinstance(Duo(), Model)
    config = RunConfig.from_dict(
        {
            "model": "duo",
            "model_args": {"size": 4},
            "data": {"count": 32},
            "optim": {"lr_first": 0.05},
            "trainer": {"max_epochs": 3, "progress_bar": False},
        }
    )
    summary = train_and_test(config, tmp_path)
    best = torch.load(summary["best_checkpoint"], weights_only=False)
    assert best["epoch"] == 1  # chosen by the module's monitor, maximised
    assert summary["best_val_score"] == 0.0
    assert summary["summary"].startswith("duo score")
    assert "test_score" in json.loads((tmp_path / "results.json").read_text())
    (adam, sgd) = best["optimizer_states"]
    assert [g["lr"] for g in adam["param_groups"]] == [0.05, 0.005]
    assert sgd["param_groups"][0]["lr"] == 0.01


def test_the_command_line_knows_the_new_model_from_the_registry(duo, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "duo", "--run-dir", str(run), "--lr-second", "0.02", "--count", "16"]
    assert main([*argv, "--max-epochs", "2", "--no-progress-bar"]) == 0
    assert "duo score" in capsys.readouterr().out
    assert main(["eval", str(run / "checkpoints" / "best.ckpt")]) == 0
    assert "duo score" in capsys.readouterr().out
    # Settings the new module does not have are refused by name, as for any model.
    assert main([*argv, "--overwrite", "--gradient-clip-val", "1.0"]) == 2
    assert "optimises manually" in capsys.readouterr().err


def test_the_per_model_checks_run_on_a_model_registered_outside_the_package(duo):
    checks.check_trains_every_parameter("duo")
    checks.check_compiled_matches_eager("duo")
    checks.check_reports_its_metrics("duo")
    config = RunConfig.from_dict({"model": "duo", "data": {"count": 16}})
    checks.check_config_trains_one_step(config)


def test_a_check_names_the_model_and_the_parameter_that_does_not_train(duo, monkeypatch):
    class Frozen(TwoPlayers):
        def batch_losses(self, batch):
            (x,) = batch
            return {"total": self.model.first(x).pow(2).mean()}  # the second player is left out

    monkeypatch.setitem(TRAINING_MODULES._entries, "two_players", Frozen)
    with pytest.raises(checks.CheckFailed, match="duo: model.second.weight gets no gradient"):
        checks.check_trains_every_parameter("duo")


def test_a_training_module_that_monitors_no_declared_metric_is_refused_in_one_line(
    duo, monkeypatch, tmp_path, capsys
):
    class Unmonitored(TwoPlayers):
        monitor = "val_loss"

    monkeypatch.setitem(TRAINING_MODULES._entries, "two_players", Unmonitored)
    assert main(["train", "duo", "--run-dir", str(tmp_path / "run")]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "Unmonitored: monitor 'val_loss' is not 'val_' + one of its metrics (score)" in error
    with pytest.raises(ContractError, match="not 'val_' \\+ one of its metrics"):
        build(RunConfig.from_dict({"model": "duo"}))
    assert not (tmp_path / "run").exists()


def test_the_monitored_sense_is_declared_once_by_the_metric(duo):
    assert check_training_module(TwoPlayers) == Metric("max", "duo score")

    class Contradicts(TwoPlayers):
        monitor_mode = "min"

    class Undeclared(TwoPlayers):
        metrics = {"score": "higher is better"}

    with pytest.raises(ContractError, match="monitor_mode 'min' disagrees with the sense"):
        check_training_module(Contradicts)
    with pytest.raises(ContractError, match="must map each metric's bare name to a"):
        check_training_module(Undeclared)


def test_a_new_kind_brings_its_figure_and_benchmark_and_is_covered_by_show_and_the_runner(
    duo, monkeypatch, tmp_path
):
    """Everything a new kind needs, registered from outside the package, no file of it edited:
    its model, training module and data source (the ``duo`` fixture), a capability of its own
    with a figure for it, and a benchmark spec; then ``foveate show``, the per-model checks and
    the runner cover it."""
    from foveate.bench import BENCHMARKS, BenchSpec, Invocation, read_record, run_benchmark
    from foveate.reports.figures import FIGURES, FigureMaker
    from foveate.reports.show import show_checkpoint

    monkeypatch.setitem(
        FIGURES._entries, "outside.score_figure", FigureMaker((Scores,), score_figure)
    )
    spec = BenchSpec(
        name="duo_points",
        title="Two players over random points: the best validation score",
        config={"model": "duo", "data": {"count": 32}, "trainer": {"max_epochs": 3}},
        metric="test_score",
        sense="max",
        seeds=(0, 1),
        summary="{test_score:.1f}",
        used_labels="none",
    )
    monkeypatch.setitem(BENCHMARKS._entries, "duo_points", spec)

    checks.check_trains_every_parameter("duo")
    record_path = run_benchmark(
        BENCHMARKS["duo_points"],
        Invocation(records=tmp_path / "records", runs=tmp_path / "runs"),
        root=tmp_path,
    )
    record = read_record(record_path)
    assert record["num_seeds"] == 2 and record["metrics"]["test_score"] == 41.0
    assert record["seeds"][1]["command"] == "foveate bench duo_points --seeds 1"

    checkpoint = tmp_path / "runs" / "duo_points" / "seed0" / "checkpoints" / "best.ckpt"
    (figure,) = show_checkpoint(checkpoint, tmp_path / "figures", images=5)
    assert figure.name == "scores.png" and figure.stat().st_size > 1_000
