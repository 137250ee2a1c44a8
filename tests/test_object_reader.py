"""The object reader (``foveate.models.scene_readers.ObjectReader``): the task's answer composed
exactly from per-object classes (known answers), a per-object namer that learns the digits from
the sums alone, and the reader on a frozen AIR."""

import math

import pytest
import torch

from foveate.models import create_model, model_entry
from foveate.models.scene_readers import order_log_probs, sum_log_probs


def _sure(*classes: int, C: int = 10) -> torch.Tensor:
    """(1, T, C) one object per class, each named with certainty."""
    return torch.nn.functional.one_hot(torch.tensor([classes]), C).float()


def test_the_sum_of_the_objects_found_known_answers():
    # 3 + 4, the third step empty: 7 for certain
    log_p = sum_log_probs(torch.tensor([[1.0, 1.0, 0.0]]), _sure(3, 4, 9), 19)
    assert log_p.shape == (1, 19) and log_p.exp()[0, 7] == pytest.approx(1.0)
    # one object, 2 or 5 equally: half each; an empty scene sums to 0
    halves = torch.zeros(1, 2, 10)
    halves[0, 0, 2] = halves[0, 0, 5] = 0.5
    p = sum_log_probs(torch.tensor([[1.0, 0.0]]), halves, 19).exp()[0]
    assert p[2] == pytest.approx(0.5) and p[5] == pytest.approx(0.5)
    assert sum_log_probs(torch.zeros(1, 3), _sure(1, 2, 3), 19).exp()[0, 0] == pytest.approx(1.0)
    # two uniform digits: the triangle, P(s) = (s + 1) / 100 up to 9, then down
    uniform = torch.full((1, 2, 10), 0.1)
    p = sum_log_probs(torch.ones(1, 2), uniform, 19).exp()[0]
    expected = torch.tensor([min(s + 1, 19 - s) / 100 for s in range(19)])
    torch.testing.assert_close(p, expected)
    # three objects where two are expected: 9 + 9 + 9 = 27 lies past 18 and is dropped
    p = sum_log_probs(torch.ones(1, 3), _sure(9, 9, 0), 19).exp()[0]
    assert p[18] == pytest.approx(1.0)


def test_the_order_reads_the_two_leftmost_objects_found():
    present = torch.tensor([[1.0, 1.0, 0.0]])
    # step 0 lies right of step 1: read left to right, 7 then 2: not ascending
    log_p = order_log_probs(present, torch.tensor([[0.5, -0.5, -0.9]]), _sure(2, 7, 0))
    assert log_p.exp()[0, 1] == pytest.approx(0.0, abs=1e-5)
    # the same places, the classes swapped: 2 then 7, ascending
    log_p = order_log_probs(present, torch.tensor([[0.5, -0.5, -0.9]]), _sure(7, 2, 0))
    assert log_p.exp()[0, 1] == pytest.approx(1.0, abs=1e-5)
    # equal classes are ascending; the absent third step, leftmost, is not read
    log_p = order_log_probs(present, torch.tensor([[0.1, 0.2, -0.9]]), _sure(4, 4, 9))
    assert log_p.exp()[0, 1] == pytest.approx(1.0, abs=1e-5)
    # uniform classes: P(a <= b) = 55 / 100
    log_p = order_log_probs(
        torch.ones(1, 2), torch.tensor([[0.0, 1.0]]), torch.full((1, 2, 10), 0.1)
    )
    assert log_p.exp()[0, 1] == pytest.approx(0.55)


def test_a_namer_learns_each_objects_class_from_the_sums_alone():
    """Objects whose latent is their class (one-hot) in noise; scenes of 0 to 2 of them labelled
    by their sum only: the namer, trained through ``sum_log_probs``, names single objects."""
    torch.manual_seed(0)
    namer = torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    optimiser = torch.optim.Adam(namer.parameters(), lr=1e-2)

    def objects(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        classes = torch.randint(10, (n,))
        return torch.nn.functional.one_hot(classes, 10).float() + 0.2 * torch.randn(n, 10), classes

    for _ in range(300):
        z, classes = objects(256 * 2)
        z, classes = z.view(256, 2, 10), classes.view(256, 2)
        present = (torch.arange(2) < torch.randint(3, (256, 1))).float()
        sums = (classes * present).sum(-1).long()
        log_p = sum_log_probs(present, namer(z).softmax(-1), 19)
        loss = torch.nn.functional.nll_loss(log_p, sums)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    z, classes = objects(2000)
    accuracy = (namer(z).argmax(-1) == classes).float().mean().item()
    assert accuracy > 0.97, accuracy


@pytest.mark.parametrize("reads", ["z_what", "glimpse"])
@pytest.mark.parametrize(("task", "classes"), [("sum", 19), ("order", 2)])
def test_the_reader_answers_every_scene_with_a_distribution_and_learns_nothing_of_air(
    reads, task, classes
):
    torch.manual_seed(0)
    tiny = model_entry("object_reader").tiny
    reader = create_model("object_reader", **tiny, reads=reads, task=task, num_classes=classes)
    images = torch.rand(4, 1, 50, 50)
    logits = reader(images)
    assert logits.shape == (4, classes)
    torch.testing.assert_close(logits.exp().sum(-1), torch.ones(4))
    trained = [name for name, p in reader.named_parameters() if p.requires_grad]
    assert trained and all(name.startswith("namer.") for name in trained)
    reader.loss(logits, torch.zeros(4, dtype=torch.long)).total.backward()
    assert all(p.grad is not None for p in reader.namer.parameters())
    assert not math.isnan(logits.sum().item())


def test_impossible_settings_are_refused():
    tiny = model_entry("object_reader").tiny
    with pytest.raises(ValueError, match="task must be 'sum' or 'order'"):
        create_model("object_reader", **tiny, task="product")
    with pytest.raises(ValueError, match="reads must be 'z_what' or 'glimpse'"):
        create_model("object_reader", **tiny, reads="pixels")
    with pytest.raises(ValueError, match="the order task has 2 classes"):
        create_model("object_reader", **tiny, task="order", num_classes=19)
