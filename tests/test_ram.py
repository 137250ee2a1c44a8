"""RAM: shapes, where each term of the hybrid loss sends its gradient, and Monte-Carlo prediction."""

import pytest
import torch

from foveate.models import create_model, list_models
from foveate.models.ram import RecurrentAttentionModel, hybrid_loss


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 1, 28, 28, generator=g), torch.randint(0, 10, (6,), generator=g)


@pytest.mark.parametrize("core", ["rnn", "lstm"])
def test_shapes(batch, core):
    images, _ = batch
    model = RecurrentAttentionModel(glimpses=4, patch_size=8, scales=2, core=core)
    out = model(images)
    assert out.logits.shape == (6, 10)
    assert out.locations.shape == (6, 4, 2)
    assert out.log_probs.shape == (6, 4) and out.baselines.shape == (6, 4)
    assert out.locations.abs().max() <= 1


@pytest.mark.parametrize("core", ["rnn", "lstm"])
def test_every_parameter_gets_a_finite_gradient(batch, core):
    images, labels = batch
    model = RecurrentAttentionModel(glimpses=3, core=core)
    hybrid_loss(model(images), labels).total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def grads_of(model, term):
    model.zero_grad()
    term.backward()
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


def test_reinforce_term_moves_only_the_location_network(batch):
    images, labels = batch
    model = RecurrentAttentionModel(glimpses=3)
    torch.manual_seed(1)
    loss = hybrid_loss(model(images), labels)
    moved = grads_of(model, loss.reinforce)
    assert moved and all(n.startswith("location_network.") for n in moved)


def test_classification_term_skips_location_network_and_baseline(batch):
    images, labels = batch
    model = RecurrentAttentionModel(glimpses=3)
    moved = grads_of(model, hybrid_loss(model(images), labels).classification)
    assert not any(n.startswith(("location_network.", "baseline.")) for n in moved)
    for part in ("glimpse_network.", "core_network.", "action_network."):
        assert any(n.startswith(part) for n in moved), part


def test_baseline_term_moves_only_the_baseline(batch):
    images, labels = batch
    model = RecurrentAttentionModel(glimpses=3)
    moved = grads_of(model, hybrid_loss(model(images), labels).baseline)
    assert moved == {"baseline.weight", "baseline.bias"}


def test_reinforce_sign_favours_rewarded_locations():
    """A one-step toy: gradient descent on the REINFORCE term moves the policy mean towards
    locations that earned reward, away from those that did not."""
    model = RecurrentAttentionModel(glimpses=1, location_std=0.5)
    torch.manual_seed(0)
    out = model(torch.rand(256, 1, 28, 28))
    # Pretend: reward 1 exactly where the sampled x was to the right of the mean.
    mean = model.location_network.mean.bias.detach()
    rewarded = (out.locations[:, 0, 0] > mean[0]).float()
    out.logits = torch.nn.functional.one_hot(rewarded.long(), 10).float() * 10
    loss = hybrid_loss(out, torch.ones(256, dtype=torch.long))
    model.zero_grad()
    loss.reinforce.backward()
    assert model.location_network.mean.bias.grad[0] < 0  # descent increases the x mean


def test_monte_carlo_prediction_is_a_distribution(batch):
    images, _ = batch
    model = RecurrentAttentionModel(glimpses=2)
    probs = model.predict_proba(images, samples=5)
    assert probs.shape == (6, 10)
    assert torch.allclose(probs.sum(-1), torch.ones(6))


def test_registry_builds_ram_and_refuses_bad_settings():
    assert "ram" in list_models()
    assert isinstance(create_model("ram", glimpses=2), RecurrentAttentionModel)
    with pytest.raises(ValueError, match="glimpse"):
        create_model("ram", glimpses=0)
    with pytest.raises(ValueError, match="unknown model"):
        create_model("nope")
    with pytest.raises(ValueError, match="larger than"):
        create_model("ram", patch_size=40).check_input_size(28, 28)
