"""Feed-forward attention on long sequences: the data's known answers, the models' invariants,
the metrics of the training module, a tiny training that must learn, and its figure.

The models are also covered by ``tests/test_zoo.py`` (every parameter trains, the declared
metrics, every config trains a step).
"""

import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from torch import nn

from foveate.data.long_sequences import LongSequenceDataModule, as_batch, marked_sequences
from foveate.models import create_model
from foveate.models.ffattention import AnswersSequences, SequenceOutput
from foveate.reports.figures import FigureContext, figure_makers
from foveate.training.checks import tiny_config
from foveate.training.fit import build
from foveate.training.long_memory import TOLERANCE, LongMemoryModule

MODELS = ("ffattention", "ffmeanpool", "lstm_sequence")


def _draw(problem="addition", number=3000, *, max_length=64, min_length=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return marked_sequences(
        problem, number, max_length=max_length, min_length=min_length, generator=generator
    )


@pytest.mark.parametrize("problem", ["addition", "multiplication"])
def test_each_sequence_has_two_marks_where_the_problem_says_and_the_right_target(problem):
    s = _draw(problem)
    N, T = s.values.shape
    L_ = s.lengths
    assert L_.min() == 8 and L_.max() == 64  # both ends of [min_length, length] are drawn
    steps = torch.arange(T)
    real = steps < L_[:, None]
    ones = s.markers == 1
    assert (ones.sum(1) == 2).all()
    where = ones.float().argsort(dim=1, descending=True, stable=True)[:, :2]  # (N, 2)
    first, second = where.min(1).values, where.max(1).values
    half = L_ // 2 - 2  # the last step a mark may take
    assert (first >= 1).all() and (second <= half).all()
    # the earlier mark is among steps 1..9 (so is the first drawn: the other one, if earlier,
    # is too); over long sequences every one of those steps is taken
    assert (first <= 9).all()
    long = L_ >= 40
    assert set(first[long].tolist()) == set(range(1, 10))
    assert (second[long] > 9).any()  # the second reaches beyond the first ten
    rows = torch.arange(N)
    assert (s.markers[:, 0] == -1).all() and (s.markers[rows, L_ - 1] == -1).all()
    assert ((s.markers == -1).sum(1) == 2).all()
    assert (s.markers[~real] == 0).all() and (s.values[~real] == 0).all()
    low = -1.0 if problem == "addition" else 0.0
    assert s.values[real].min() >= low and s.values[real].max() <= 1.0
    assert s.values[real].min() < low + 0.01 and s.values[real].max() > 0.99
    a, b = s.values[rows, first], s.values[rows, second]
    expected = 0.5 + (a + b) / 4 if problem == "addition" else a * b
    torch.testing.assert_close(s.target, expected)


def test_without_a_shortest_length_every_sequence_is_full_and_unpadded():
    s = _draw(number=50, max_length=30, min_length=None)
    assert (s.lengths == 30).all()
    steps, truth = as_batch(s)
    assert steps.shape == (50, 30, 2) and truth["mask"].all()
    assert torch.equal(steps[..., 1], s.markers.float())
    assert torch.equal(truth["marked"], s.markers == 1)


def test_the_batch_mask_is_the_lengths_and_padding_is_zero():
    s = _draw(number=200, max_length=40, min_length=10)
    steps, truth = as_batch(s)
    assert torch.equal(truth["mask"].sum(1), s.lengths)
    assert torch.equal(truth["mask"], truth["mask"].cummin(1).values)  # a prefix of each row
    assert (steps[~truth["mask"]] == 0).all()


@pytest.mark.parametrize(
    "settings",
    [{"length": 7}, {"length": 20, "min_length": 21}, {"problem": "division"}],
)
def test_impossible_settings_are_refused(settings):
    with pytest.raises(ValueError):
        LongSequenceDataModule(**settings)


def _sets(data_seed):
    data = LongSequenceDataModule(
        length=30,
        min_length=12,
        val_size=40,
        test_size=50,
        epoch_size=64,
        batch_size=16,
        data_seed=data_seed,
    )
    data.setup("fit")
    return data


def test_validation_and_test_sets_are_fixed_by_the_seed_and_training_is_drawn_afresh():
    one, again, other = _sets(0), _sets(0), _sets(1)
    for split in ("val", "test"):
        x, y = one.datasets[split].examples, again.datasets[split].examples
        assert torch.equal(x.values, y.values) and torch.equal(x.target, y.target)
        assert not torch.equal(x.values, other.datasets[split].examples.values)
    assert one.datasets["val"].size == 40 and one.datasets["test"].size == 50
    assert not torch.equal(
        one.datasets["val"].examples.values[:40], one.datasets["test"].examples.values[:40]
    )
    batches = iter(one.train_dataloader())
    (first, _), (second, _) = next(batches), next(batches)
    assert first.shape == (16, 30, 2) and not torch.equal(first, second)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_answers_a_number_a_sequence_and_ignores_the_padding(name):
    torch.manual_seed(0)
    model = create_model(name, hidden_size=12)
    assert isinstance(model, AnswersSequences)
    steps, truth = as_batch(_draw(number=6, max_length=25, min_length=9))
    mask = truth["mask"]
    output = model.answer_sequence(steps, mask=mask)
    assert output.prediction.shape == (6,)
    # whatever lies in the padding, the answer and the weights are the same
    noisy = steps + 50 * torch.randn_like(steps) * ~mask[..., None]
    again = model.answer_sequence(noisy, mask=mask)
    torch.testing.assert_close(again.prediction, output.prediction)
    if name == "lstm_sequence":
        assert output.weights is None
        return
    assert output.weights.shape == (6, 25)
    assert (output.weights[~mask] == 0).all()  # exactly zero, not small
    torch.testing.assert_close(output.weights.sum(1), torch.ones(6))
    torch.testing.assert_close(again.weights, output.weights)


def test_mean_pooling_weighs_every_real_step_alike_and_the_papers_score_is_bounded():
    torch.manual_seed(0)
    steps, truth = as_batch(_draw(number=5, max_length=20, min_length=10))
    mask = truth["mask"]
    mean = create_model("ffmeanpool", hidden_size=6).answer_sequence(steps, mask=mask)
    torch.testing.assert_close(mean.weights, mask.float() / mask.sum(1, keepdim=True))
    model = create_model("ffattention", hidden_size=6)
    with torch.no_grad():
        model.score.weight.mul_(1000)  # e_t = tanh(w^T h_t + b) stays in [-1, 1] ...
        scores = model.scores(model.embed_steps(steps))
        weights = model.answer_sequence(steps, mask=mask).weights
    assert scores.abs().max() <= 1.0 and scores.abs().max() > 0.99
    # ... so within a sequence no step outweighs another by more than e^2
    ratio = weights.max(1).values / weights.masked_fill(~mask, 1.0).min(1).values
    assert (ratio <= torch.e**2 * (1 + 1e-5)).all() and ratio.max() > 7  # and reaches it
    # hidden tanh units (AttentionPooling) instead of the paper's single one
    pooled = create_model("ffattention", hidden_size=6, attention_size=4)
    assert pooled.score is None and pooled.pool is not None
    assert pooled.answer_sequence(steps, mask=mask).weights.shape == (5, 20)


class _Oracle(nn.Module):
    """Answers the addition problem exactly, off by ``miss`` where the first mark is at step 1."""

    def __init__(self, miss: float) -> None:
        super().__init__()
        self.miss = miss

    def answer_sequence(self, steps, *, mask=None):
        marks = steps[..., 1] == 1
        exact = 0.5 + (steps[..., 0] * marks).sum(1) / 4
        early = marks[:, 1]
        return SequenceOutput(exact + self.miss * early, weights=marks.float() / 2)


@pytest.mark.parametrize("miss", [0.0, 0.03, 0.05])
def test_solved_means_every_answer_of_the_set_within_the_tolerance(miss):
    data = LongSequenceDataModule(length=40, val_size=300, eval_batch_size=50)
    module = LongMemoryModule(model="ffattention", model_args={"hidden_size": 4})
    module.model = _Oracle(miss)
    trainer = L.Trainer(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False
    )
    (metrics,) = trainer.validate(module, datamodule=data, verbose=False)
    early = data.datasets["val"].examples.markers[:, 1] == 1  # a ninth of the sequences
    assert 0 < early.float().mean() < 0.3
    right = miss < TOLERANCE
    assert metrics["val_solved"] == (1.0 if right else 0.0)  # all six batches, not a share
    expected = 100.0 if right else 100 * (1 - early.float().mean().item())
    assert metrics["val_within_pct"] == pytest.approx(expected, abs=1e-3)
    assert metrics["val_max_error"] == pytest.approx(miss, abs=1e-5)
    assert metrics["val_mse"] == pytest.approx(miss**2 * early.float().mean().item(), abs=1e-7)
    assert metrics["val_weight_on_marked_pct"] == pytest.approx(100.0)


def _train(name: str, steps: int, **model_args):
    """Adam on fresh batches of 100 addition sequences of 16 to 20 steps; returns the model and
    a fixed validation batch."""
    torch.manual_seed(0)
    model = create_model(name, **model_args)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, truth = as_batch(
            marked_sequences("addition", 100, max_length=20, min_length=16, generator=generator)
        )
        loss = model.loss(model(x, mask=truth["mask"]), truth["target"]).total
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model, as_batch(_draw(number=500, max_length=20, min_length=16, seed=5))


def test_a_short_training_learns_the_addition_and_attends_to_the_marks():
    model, (x, truth) = _train("ffattention", 100, hidden_size=16)
    with torch.no_grad():
        output = model.answer_sequence(x, mask=truth["mask"])
    trivial = truth["target"].var(unbiased=False)  # the best constant answer's MSE (about 1/24)
    mse = ((output.prediction - truth["target"]) ** 2).mean()
    assert mse < trivial / 5, (mse, trivial)
    # a marked step weighs more than twice an unmarked one, on average (at most e^2 = 7.4 times)
    on_marked = output.weights[truth["marked"]].mean()
    unmarked = truth["mask"] & ~truth["marked"]
    assert on_marked > 2 * output.weights[unmarked].mean()


def test_the_figure_draws_the_weights_over_each_sequence(tmp_path):
    config = tiny_config("ffattention")
    _, module, config = build(config)
    model = module.model.eval()
    makers = figure_makers(model)
    assert [m.make.__name__ for m in makers] == ["sequence_figures"]
    context = FigureContext(out=tmp_path, images=2, seed=0, config=config)
    (path,) = makers[0].make(model, context)
    assert Path(path).stat().st_size > 1_000
    line = LongMemoryModule.describe(
        {
            "test_mse": 1e-4,
            "test_within_pct": 100.0,
            "test_max_error": 0.03,
            "test_solved": 1.0,
            "test_images": 1000,
        }
    )
    assert "solved" in line and "not solved" not in line and "1000 sequences" in line


THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def test_large_tensors_take_few_page_faults() -> None:
    """Importing foveate (before torch) turns on PyTorch's 2 MB pages for large tensors: a 256 MB
    tensor touched end to end takes far fewer than its 65,536 small pages' faults. The long
    sequences' batches spent most of their time in those faults (docs/ffattention.md)."""
    code = (
        "import foveate, os, resource, torch\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "x = torch.ones(64 * 2**20)\n"
        "print(os.environ['THP_MEM_ALLOC_ENABLE'], "
        "resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    setting, faults = done.stdout.split()
    assert setting == "1"
    if THP_SETTING.is_file() and "[never]" in THP_SETTING.read_text():
        pytest.skip("this kernel's transparent huge pages are off")
    assert int(faults) < 65536 // 8, f"{faults} page faults for 256 MB"
