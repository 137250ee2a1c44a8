"""RAM: shapes, where each term of the hybrid loss sends its gradient, and Monte-Carlo prediction."""

import pytest
import torch

from foveate.models import create_model, list_models
from foveate.models.ram import RamOutput, RecurrentAttentionModel, hybrid_loss


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
    assert moved == {"baseline.weight", "baseline.bias"}  # the names of an nn.Linear


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


def test_an_annealed_std_follows_training_and_a_fixed_one_does_not():
    annealed = RecurrentAttentionModel(
        location_std=0.3, location_std_schedule="annealed", location_std_final=0.1
    )
    fixed = RecurrentAttentionModel(location_std=0.3)
    for fraction, expected in [(0.0, 0.3), (0.5, 0.2), (1.0, 0.1), (2.0, 0.1)]:
        annealed.set_progress(fraction)
        fixed.set_progress(fraction)
        assert annealed.location_network.current_std().item() == pytest.approx(expected)
        assert fixed.location_network.current_std().item() == pytest.approx(0.3)
    # evaluation uses the schedule's end, wherever training stopped
    annealed.set_progress(0.3)
    assert annealed.eval().location_network.current_std().item() == pytest.approx(0.1)
    assert annealed.train().location_network.current_std().item() == pytest.approx(0.24)
    # the std it reached is saved with the model
    assert "location_network.std" in annealed.state_dict()
    assert "location_network.std" not in fixed.state_dict()


def test_a_learned_std_is_trained_by_reinforce_and_kept_above_its_floor(batch):
    images, labels = batch
    model = RecurrentAttentionModel(
        glimpses=3, location_std=0.2, location_std_schedule="learned", location_std_final=0.05
    )
    moved = grads_of(model, model.loss(model(images), labels).reinforce)
    assert "location_network.log_std" in moved
    with torch.no_grad():
        model.location_network.log_std.fill_(-10.0)
    assert torch.allclose(model.location_network.current_std(), torch.tensor(0.05))


def test_policy_to_core_lets_reinforce_shape_the_core(batch):
    images, labels = batch
    model = RecurrentAttentionModel(glimpses=3, policy_to_core=True, location_hidden=16)
    torch.manual_seed(1)
    moved = grads_of(model, model.loss(model(images), labels).reinforce)
    assert any(n.startswith("core_network.") for n in moved)
    assert any(n.startswith("glimpse_network.") for n in moved)
    assert not any(n.startswith(("action_network.", "baseline.")) for n in moved)


def test_a_constant_baseline_is_one_number():
    model = RecurrentAttentionModel(glimpses=2, baseline="constant")
    assert [n for n, _ in model.baseline.named_parameters()] == ["bias"]
    out = model(torch.rand(4, 1, 28, 28))
    assert torch.equal(out.baselines, torch.zeros(4, 2))


def answers_giving(probs):
    """Logits (1, T, 10) that give class 0 probs[0, t] at step t and the others the rest evenly."""
    true, other = probs.log(), ((1 - probs) / 9).log()
    return torch.cat([true[..., None], other[..., None].expand(*probs.shape, 9)], -1)


def episode_answering(probs):
    """A one-image episode whose answer after glimpse t gives class 0 (the true one) probs[0, t]
    and the other nine classes the rest evenly; log pi is 1 at every step, the baselines 0."""
    T = probs.shape[1]
    step_logits = answers_giving(probs)
    return RamOutput(
        logits=step_logits[:, -1],
        step_logits=step_logits,
        locations=torch.zeros(1, T, 2),
        log_probs=torch.ones(1, T),
        baselines=torch.zeros(1, T),
    )


def test_step_rewards_sum_from_each_glimpse_on_known_answer():
    """Three glimpses whose answers give the true class 0.2, 0.5, 0.9: the locations earn
    1.6, 1.4 and 0.9, so with zero baselines REINFORCE is -(1.6 + 1.4 + 0.9) * log pi."""
    probs = torch.tensor([[0.2, 0.5, 0.9]])
    output = episode_answering(probs)
    targets = torch.tensor([0])
    loss = hybrid_loss(output, targets, reward="step_probability", classify_every_step=True)
    assert loss.reinforce.item() == pytest.approx(-(1.6 + 1.4 + 0.9), abs=1e-5)
    assert loss.baseline.item() == pytest.approx((1.6**2 + 1.4**2 + 0.9**2) / 3, abs=1e-5)
    final = hybrid_loss(output, targets, reward="probability")
    assert final.reinforce.item() == pytest.approx(-3 * 0.9, abs=1e-5)
    every = hybrid_loss(output, targets, classify_every_step=True).classification
    assert every.item() == pytest.approx(-torch.log(probs).mean().item(), abs=1e-5)


def test_step_rewards_need_every_step_classified():
    with pytest.raises(ValueError, match="classify_every_step"):
        RecurrentAttentionModel(reward="step_probability")
    with pytest.raises(ValueError, match="reward must be"):
        RecurrentAttentionModel(reward="accuracy")
    with pytest.raises(ValueError, match="std_schedule"):
        RecurrentAttentionModel(location_std_schedule="cosine")


def test_the_summed_area_table_changes_no_glimpse():
    """On 100x100 canvases RAM reads its coarse patches through a summed-area table; the
    episode is the one the crops give."""
    import foveate.models.ram as ram

    model = RecurrentAttentionModel(glimpses=3, patch_size=12, scales=4)
    images = torch.rand(4, 1, 100, 100)
    noise = model.sample_noise(images)
    through_table = model(images, noise)
    cheaper = ram.table_is_cheaper
    try:
        ram.table_is_cheaper = lambda *a, **k: False
        cropped = model(images, noise)
    finally:
        ram.table_is_cheaper = cheaper
    torch.testing.assert_close(through_table.logits, cropped.logits, rtol=0, atol=1e-5)
    torch.testing.assert_close(through_table.locations, cropped.locations, rtol=0, atol=1e-5)


def test_area_normalised_glimpses_read_a_one_pixel_ball_as_one_at_every_scale():
    from foveate.models.ram import GlimpseNetwork

    net = GlimpseNetwork(patch_size=6, scales=3, normalise="area")
    screen = torch.zeros(1, 1, 24, 24)
    screen[0, 0, 13, 13] = 1.0  # inside the finest 6x6 patch around the centre
    rho = net.norm(net.sense(screen, torch.zeros(1, 2))).view(3, 6, 6)
    assert torch.allclose(rho.sum((1, 2)), torch.ones(3))
    assert rho.max() == 1.0
    with pytest.raises(ValueError, match="normalise"):
        GlimpseNetwork(patch_size=6, scales=3, normalise="layer")


def test_area_normalised_glimpses_are_the_same_in_training_and_evaluation():
    """Unlike batch normalisation, whose statistics differ between a training batch and the
    running average used in evaluation, the area gain is a fixed function of each image."""
    from foveate.models.ram import GlimpseNetwork

    torch.manual_seed(0)
    images, where = torch.rand(5, 1, 24, 24), torch.rand(5, 2) * 2 - 1
    for normalise, same in (("area", True), ("batch", False)):
        net = GlimpseNetwork(patch_size=6, scales=3, normalise=normalise)
        trained = net.train()(images, where)
        evaluated = net.eval()(images, where)
        assert torch.allclose(trained, evaluated) == same


def test_episode_reinforce_on_known_answers():
    from foveate.models.reinforce import episode_reinforce

    log_probs = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    returns = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    baselines = torch.tensor([[0.5, 0.25], [0.5, 0.5]], requires_grad=True)
    alive = torch.tensor([[1.0, 1.0], [1.0, 0.0]])  # the second episode ended after a step
    reinforce, baseline = episode_reinforce(log_probs, returns, baselines, alive=alive)
    # -mean_b sum_t log_pi (R - b) alive: -((1*0.5 + 2*0.75) + (3*-0.5)) / 2
    assert reinforce.item() == pytest.approx(-0.25)
    # live steps' squared errors 0.25, 0.5625, 0.25 over 3 steps
    assert baseline.item() == pytest.approx(1.0625 / 3)
    (reinforce + baseline).backward()
    assert torch.allclose(log_probs.grad, torch.tensor([[-0.25, -0.375], [0.25, 0.0]]))
    # the baseline learns from its squared error only, never through the advantage
    assert torch.allclose(baselines.grad, 2 * (baselines - returns).detach() * alive / 3)
    given = torch.ones(2, 2)
    reinforce, _ = episode_reinforce(log_probs, returns, baselines, advantage=given)
    assert reinforce.item() == pytest.approx(-5.0)


def test_episode_reinforce_normalises_advantages_over_live_steps_only():
    from foveate.models.reinforce import episode_reinforce

    log_probs = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    returns = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    baselines = torch.tensor([[0.5, 0.25], [0.5, 0.5]])
    alive = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    plain, fit = episode_reinforce(log_probs, returns, baselines, alive=alive)
    scaled, fit_scaled = episode_reinforce(
        log_probs, returns, baselines, alive=alive, normalise=True
    )
    spread = torch.tensor([0.5, 0.75, -0.5]).std()  # the three live advantages
    assert scaled.item() == pytest.approx(plain.item() / spread.item(), rel=1e-5)
    assert fit_scaled.item() == pytest.approx(fit.item())  # b_t's fit is not rescaled
    one, _ = episode_reinforce(
        log_probs[:1, :1], returns[:1, :1], baselines[:1, :1], normalise=True
    )
    assert one.item() == pytest.approx(-0.5)  # a single step has no spread and stays as it is


def test_the_classifier_and_the_agent_build_the_same_parts_from_the_same_arguments():
    """RAM's classifier and its game agent wire their arguments onto f_g, f_h and f_l in one
    place (``glimpse_core_location``): the same arguments and seed give the same parts."""
    from foveate.models.ram_agent import RecurrentAttentionAgent

    shared = dict(
        channels=1,
        patch_size=4,
        scales=2,
        what_size=8,
        where_size=8,
        glimpse_size=16,
        hidden_size=16,
        core="lstm",
        normalise_glimpse="area",
        location_std_schedule="learned",
        policy_to_core=True,
    )
    torch.manual_seed(0)
    classifier = RecurrentAttentionModel(**shared)
    torch.manual_seed(0)
    agent = RecurrentAttentionAgent(**shared)
    for part in ("glimpse_network", "core_network", "location_network"):
        ours, theirs = getattr(classifier, part).state_dict(), getattr(agent, part).state_dict()
        assert list(ours) == list(theirs), part
        assert all(torch.equal(ours[name], theirs[name]) for name in ours), part
    for model in (classifier, agent):
        assert not model.location_network.detach
