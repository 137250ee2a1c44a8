"""``trainer.logger: tensorboard``: the curves and the model's figures go to TensorBoard beside
metrics.csv; logging them changes nothing the model learns; a resumed run keeps logging; a
logger that does not exist is refused in one line."""

import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from foveate.bench.record import read_record
from foveate.bench.runner import Invocation, run_benchmark
from foveate.bench.spec import BenchSpec
from foveate.cli import main
from foveate.models import list_models
from foveate.reports.figures import FigureContext, registered_makers
from foveate.reports.tensorboard_figures import (
    TensorBoardFigures,
    figure_callbacks,
    random_state_kept,
)
from foveate.training.checks import tiny_config
from foveate.training.config import RunConfig
from foveate.training.fit import build, fit
from foveate.training.run_log import TENSORBOARD, run_loggers
from foveate.training.schema import ConfigError

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the tensorboard package is not installed",
)

ROOT = Path(__file__).resolve().parents[1]
# RAM draws its glimpses at random: any draw the figures took from training's generators would
# change the second epoch's glimpses and order of batches.
TRAINER = {"max_epochs": 2, "limit_train_batches": 2, "accelerator": "cpu", "threads": 1}


def board(run_dir: Path) -> event_accumulator.EventAccumulator:
    """Every event a run logged to TensorBoard, every image kept."""
    events = event_accumulator.EventAccumulator(
        str(run_dir / "tensorboard"), size_guidance={event_accumulator.IMAGES: 0}
    )
    events.Reload()
    return events


def train(config: RunConfig, run_dir: Path, *, resume: bool = False):
    """A run as ``foveate train`` makes it: with the figure callbacks its settings ask for."""
    callbacks = figure_callbacks(config)
    return fit(config, run_dir, resume=resume, overwrite=not resume, callbacks=callbacks)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same tiny RAM run with the CSV log and with TensorBoard: (csv, tensorboard) results."""
    root = tmp_path_factory.mktemp("runs")
    config = tiny_config("ram", **TRAINER)
    plain = train(config, root / "csv")
    logged = train(config.updated({"trainer": {"logger": "tensorboard"}}), root / "tensorboard")
    return plain, logged


def test_a_tensorboard_run_logs_its_curves_and_the_models_figures(runs):
    _, logged = runs
    assert (logged.run_dir / "metrics.csv").stat().st_size > 0  # reports read it: still there
    assert list((logged.run_dir / "tensorboard").glob("events.out.tfevents.*"))
    events = board(logged.run_dir)
    assert "val_error_pct" in events.Tags()["scalars"]
    tags = events.Tags()["images"]
    assert "figures/glimpses" in tags and "figures/salience" in tags  # a Classifier's figures
    for tag in tags:
        images = events.Images(tag)
        assert len(images) == 2  # one per validation, at the step of its curves
        assert [i.step for i in images] == [e.step for e in events.Scalars("val_error_pct")]
        assert images[1].step == logged.module.global_step - 1
        assert all(80 < image.height < 4000 and 80 < image.width < 4000 for image in images)


def test_logging_figures_changes_nothing_the_model_learns(runs):
    plain, logged = runs
    assert not (plain.run_dir / "tensorboard").exists()
    trained = plain.module.state_dict()
    for name, tensor in logged.module.state_dict().items():
        torch.testing.assert_close(tensor, trained[name], rtol=0, atol=0, msg=name)


def test_a_resumed_tensorboard_run_adds_its_figures_to_the_same_log(runs, tmp_path):
    _, logged = runs
    run_dir = Path(shutil.copytree(logged.run_dir, tmp_path / "run"))
    config = RunConfig.from_yaml(run_dir / "config.yaml")
    resumed = train(config.updated({"trainer": {"max_epochs": 3}}), run_dir, resume=True)
    assert resumed.epochs == 3
    assert len(list((run_dir / "tensorboard").glob("events.out.tfevents.*"))) == 2
    glimpses = board(run_dir).Images("figures/glimpses")
    # on the step of the validation curves: the index of the last training batch
    assert [image.step for image in glimpses][-1] == resumed.module.global_step - 1
    assert [image.step for image in glimpses] == [
        e.step for e in board(run_dir).Scalars("val_error_pct")
    ]
    assert len(glimpses) == 3


def test_figures_are_stills_drawn_by_a_copy_on_the_cpu(runs, tmp_path):
    _, logged = runs
    drawer = TensorBoardFigures(RunConfig.from_yaml(logged.run_dir / "config.yaml"))
    model = logged.module.model
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    paths = drawer.draw(model.train(), tmp_path)
    assert paths and all(path.suffix == ".png" for path in paths)  # no animation drawn
    assert model.training and all(p.grad is None for p in model.parameters())
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, before[name], rtol=0, atol=0)


def test_every_figure_maker_draws_its_stills_alone_when_asked(tmp_path):
    """What a training log shows: each registered maker, on the first registered model it
    applies to, draws with ``animations=False`` the same files less its animations."""
    makers = registered_makers()
    covered: set[int] = set()
    for name in list_models():
        if len(covered) == len(makers):
            break
        _, module, config = build(tiny_config(name))
        model = module.model.eval()
        found = [i for i, maker in enumerate(makers) if i not in covered and maker.applies(model)]
        drawn = {}
        for animations in (True, False):
            out = tmp_path / f"{name}-{animations}"
            out.mkdir()
            context = FigureContext(out, images=2, seed=0, config=config, animations=animations)
            torch.manual_seed(0)
            drawn[animations] = [p.name for i in found for p in makers[i].make(model, context)]
        assert drawn[False] == [n for n in drawn[True] if not n.endswith(".gif")], name
        covered.update(found)
    assert covered == set(range(len(makers)))


def test_the_random_state_is_put_back():
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    expected = torch.rand(3), np.random.rand(3), random.random()
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    with random_state_kept():
        torch.rand(5), np.random.rand(5), random.random()
        torch.manual_seed(7)
    after = torch.rand(3), np.random.rand(3), random.random()
    torch.testing.assert_close(after[0], expected[0])
    assert np.array_equal(after[1], expected[1]) and after[2] == expected[2]


def test_figures_follow_the_settings():
    config = tiny_config("ram")
    assert figure_callbacks(config) == ()  # the CSV log alone: no figures
    logged = config.updated({"trainer": {"logger": "tensorboard"}})
    (drawer,) = figure_callbacks(logged.updated({"trainer": {"figures_every_n_validations": 3}}))
    assert drawer.every_n_validations == 3
    assert figure_callbacks(logged.updated({"trainer": {"figures_every_n_validations": 0}})) == ()


def test_a_logger_that_does_not_exist_is_refused_in_one_line(capsys):
    with pytest.raises(ConfigError, match=r"^x.yaml: trainer.logger must be one of 'csv', 'ten"):
        RunConfig.from_dict({"trainer": {"logger": "wandb"}}, source="x.yaml")
    with pytest.raises(ConfigError, match="--logger must be one of 'csv', 'tensorboard'"):
        RunConfig(trainer={"logger": "wandb"}).trainer_settings()
    with pytest.raises(ConfigError, match="figures-every-n-validations must be at least 0"):
        RunConfig(trainer={"figures_every_n_validations": -1}).trainer_settings()
    assert main(["train", "ram", "--logger", "wandb"]) == 2
    said = capsys.readouterr().err.strip()
    assert "invalid choice: 'wandb'" in said and len(said.splitlines()) == 1


@pytest.mark.slow
def test_the_benchmark_runner_logs_figures_without_making_a_probe(tmp_path):
    # Where a run logs changes no measurement: --set trainer.logger needs no --probe.
    spec = BenchSpec(
        name="tiny_stn_board",
        title="the STN on the shipped digits",
        config={
            "model": "stn",
            "model_args": {"image_size": 28},
            "data": {"task": "mnist", "sample": True},
            "trainer": {"max_epochs": 1, "limit_train_batches": 2, "accelerator": "cpu"},
        },
        metric="test_error_pct",
        summary="**{test_error_pct:.2f}%**",
        seeds=(0,),
    )
    invocation = Invocation(
        settings=("trainer.logger=tensorboard",), records=tmp_path / "records", runs=tmp_path
    )
    record = read_record(run_benchmark(spec, invocation, root=ROOT))
    assert record["kind"] == "headline"
    assert "--set trainer.logger=tensorboard" in record["seeds"][0]["command"]
    assert "figures/glimpses" in board(tmp_path / spec.name / "seed0").Tags()["images"]
    with pytest.raises(ValueError, match="--set optim.lr=0.1 changes the benchmark"):
        run_benchmark(spec, Invocation(settings=("optim.lr=0.1",)), root=ROOT)


def test_a_resumed_runs_tensorboard_log_forgets_the_steps_after_its_checkpoint(tmp_path):
    # the first session logged steps 0 to 9 and was killed after a checkpoint of 6 batches
    first = run_loggers(TENSORBOARD, tmp_path)[1]
    for step in range(10):
        first.log_metrics({"train/total": float(step)}, step=step)
    first.finalize("killed")
    second = run_loggers(TENSORBOARD, tmp_path, resumed_at=6)[1]
    for step in range(6, 12):
        second.log_metrics({"train/total": 100.0 + step}, step=step)
    second.finalize("success")
    events = board(tmp_path).Scalars("train/total")
    assert [e.step for e in events] == list(range(12))  # each step once
    assert [e.value for e in events][5:7] == [5.0, 106.0]  # the resumed session's from 6 on
