"""AIR and DAIR: the step structure, forward as the unroll of ``step``, the bound's parts, the
z_pres gradient estimate against its exact value, the relaxed option, the decomposition, and the
evaluation's box matching."""

import pytest
import torch

from foveate.models import create_model, model_entry
from foveate.models.air import AIR, AIRState, window_boxes
from foveate.models.interface import Decomposes, Decomposition, Model, Stochastic
from foveate.training.scenes import matched_centre_error

TINY = dict(
    image_size=24, steps=3, z_what_size=4, lstm_size=16, hidden_size=16, embed_size=16, window=8
)


def tiny_air(seed=0, **kwargs) -> AIR:
    torch.manual_seed(seed)
    return AIR(**{**TINY, **kwargs})


@pytest.fixture
def images():
    return torch.rand(6, 1, 24, 24, generator=torch.Generator().manual_seed(0))


def test_air_and_dair_are_registered_and_differ_only_in_what_a_step_reads():
    air, dair = create_model("air", **TINY), create_model("dair", **TINY)
    assert type(air) is type(dair) is AIR
    assert not air.difference and dair.difference
    assert model_entry("dair").fixed == {"difference": True}
    with pytest.raises(ValueError, match="fixes difference"):
        create_model("dair", difference=False)
    assert isinstance(air, Model) and isinstance(air, Stochastic) and isinstance(air, Decomposes)


@pytest.mark.parametrize("difference", [False, True])
def test_shapes_and_once_absent_always_absent(images, difference):
    model = tiny_air(difference=difference)
    with torch.no_grad():
        # push z_pres towards 1/2 so that both values occur
        model.propose[-1].bias[0] = 0.0
        out = model(images)
    B, N = 6, 3
    assert out.z_pres.shape == (B, N) and out.z_where.shape == (B, N, 3)
    assert out.z_what.shape == (B, N, 4) and out.canvases.shape == (B, N, 1, 24, 24)
    assert out.objects.shape == (B, N, 1, 8, 8)
    assert set(out.z_pres.unique().tolist()) <= {0.0, 1.0}
    assert (out.z_pres[:, 1:] <= out.z_pres[:, :-1]).all()
    assert torch.equal(out.alive[:, 1:], out.z_pres[:, :-1]) and (out.alive[:, 0] == 1).all()
    # the canvas grows only by present objects
    grown = (out.canvases[:, 1:] - out.canvases[:, :-1]).flatten(2).abs().sum(-1)
    assert (grown[out.z_pres[:, 1:] == 0] == 0).all()


@pytest.mark.parametrize("difference", [False, True])
@pytest.mark.parametrize(
    ("estimator", "mode"), [("reinforce", False), ("concrete", False), ("enumerate", True)]
)
def test_forward_is_step_unrolled_from_the_initial_state(images, difference, estimator, mode):
    """Running ``step`` N times by hand, from ``initial_state`` with the same draws, gives every
    field of ``forward``'s output: forward is that unroll and nothing more."""
    model = tiny_air(difference=difference, estimator=estimator)
    with torch.no_grad():
        model.propose[-1].bias[0] = 0.0  # rho near 1/2: steps both found and not
    noise = model.sample_noise(images)
    out = model(images, noise, mode=mode)
    state = model.initial_state(images)
    assert isinstance(state, AIRState) and (state.alive == 1).all() and (state.canvas == 0).all()
    for i in range(model.steps):
        alive = state.alive
        state, proposal = model.step(state, images, noise[:, i], mode=mode)
        by_hand = {
            "z_pres": state.z_pres,
            "alive": alive,
            "z_where": state.z_where,
            "z_what": state.z_what,
            "canvases": state.canvas,
            "state": state.h,
            **proposal._asdict(),
        }
        assert set(by_hand) == set(out.__dataclass_fields__)
        for name, value in by_hand.items():
            torch.testing.assert_close(getattr(out, name)[:, i], value, msg=name)
        assert torch.equal(state.alive, state.z_pres)  # the next step proposes only after one


def test_the_same_draws_give_the_same_pass_and_mode_is_deterministic(images):
    model = tiny_air()
    noise = model.sample_noise(images)
    assert noise.shape == (6, 3, 1 + 3 + 4)
    a, b = model(images, noise), model(images, noise)
    assert torch.equal(a.canvases, b.canvases)
    m1, m2 = model(images, mode=True), model(images, mode=True)
    assert torch.equal(m1.canvases, m2.canvases)
    assert torch.equal(m1.z_where, m1.where_loc) and torch.equal(m1.z_what, m1.what_loc)


def test_the_bound_is_reconstruction_plus_the_kls(images):
    model = tiny_air().eval()
    loss = model.loss(model(images), images)
    parts = loss.reconstruction + loss.kl_pres + loss.kl_where + loss.kl_what
    torch.testing.assert_close(loss.nll_bound, parts)
    # in evaluation there is no surrogate: the total is the bound
    torch.testing.assert_close(loss.total, loss.nll_bound)
    assert loss.kl_pres >= 0 and loss.kl_where >= 0 and loss.kl_what >= 0


def test_steps_after_an_absent_object_cost_nothing(images):
    model = tiny_air()
    noise = model.sample_noise(images)
    noise[:, 0, 0] = 1.0  # u = 1 > rho: the first step finds nothing, so no step does
    out = model(images, noise)
    assert (out.z_pres == 0).all()
    kl_pres, kl_where, kl_what = model.kl_terms(out)
    assert (kl_pres[:, 1:] == 0).all() and (kl_where == 0).all() and (kl_what == 0).all()
    assert (kl_pres[:, 0] > 0).all()  # the first step's choice is always paid for


def test_the_likelihood_ratio_gradient_of_z_pres_matches_the_exact_one():
    """One step, fixed z_where and z_what: E[ELBO] = rho f(1) + (1 - rho) f(0) - KL_pres(rho).

    The mean over many draws of the training loss's gradient with respect to z_pres's logit
    bias must match the exact gradient of -E[ELBO] (the estimator is unbiased), with the running
    statistics at work: a signal rescaled beside the exactly differentiated KL of z_pres would
    fail this."""
    model = tiny_air(steps=1)
    model.signal_var.fill_(1e4)  # a running std of 100 nats, as in training
    image = torch.rand(1, 1, 24, 24, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        model.propose[-1].bias[0] = 0.3  # rho near 1/2: both outcomes are common
    draws = 40000
    images = image.expand(draws, -1, -1, -1)
    noise = model.sample_noise(images)
    noise[..., 1:] = 0.0  # z_where and z_what at their means: f depends on z_pres alone
    bias = model.propose[-1].bias

    def elbo_given(present: bool) -> torch.Tensor:
        forced = noise[:1].clone()
        forced[..., 0] = 0.0 if present else 1.0
        out = model(image, forced)
        log_lik = model.log_likelihood(image, out)
        _, kl_where, kl_what = model.kl_terms(out)
        return (log_lik - kl_where.sum(-1) - kl_what.sum(-1)).detach()

    f1, f0 = elbo_given(True), elbo_given(False)
    assert (f1 - f0).abs() > 1.0  # the choice matters
    out = model(image, noise[:1])
    rho = out.pres_probs[:, 0]
    kl_pres = model.kl_terms(out)[0][:, 0]
    expected = -(rho * f1 + (1 - rho) * f0 - kl_pres).sum()
    (exact,) = torch.autograd.grad(expected, bias)

    model.zero_grad()
    model.loss(model(images, noise), images).total.backward()
    estimate = bias.grad[0]
    assert torch.sign(estimate) == torch.sign(exact[0])
    torch.testing.assert_close(estimate, exact[0], rtol=0.05, atol=0.0)


def test_the_concrete_option_relaxes_z_pres_in_training_only(images):
    model = tiny_air(estimator="concrete")
    out = model(images)
    assert ((out.z_pres > 0) & (out.z_pres < 1)).any()
    loss = model.loss(out, images)
    torch.testing.assert_close(loss.total, loss.nll_bound)  # no surrogate, no baseline
    loss.total.backward()
    assert model.propose[-1].bias.grad[0] != 0  # rho learns through the relaxation
    model.eval()
    assert set(model(images).z_pres.unique().tolist()) <= {0.0, 1.0}


def test_decompose_reports_present_windows_as_pixel_boxes(images):
    model = tiny_air()
    scenes = model.decompose(images)
    assert isinstance(scenes, Decomposition)
    assert scenes.present.shape == (6, 3) and scenes.outlines.shape == (6, 3, 4, 2)
    # at initialisation the window is the prior's: half-width 0.5, centred
    boxes = window_boxes(
        torch.tensor([[torch.log(torch.tensor(0.5)), 0.0, 0.0]]), height=24, width=24
    )
    torch.testing.assert_close(boxes, torch.tensor([[6.0, 6.0, 18.0, 18.0]]))


def test_a_scale_range_bounds_every_window():
    model = tiny_air(scale_range=(0.4, 0.6), scale_prior=(0.0, 1.0))
    z_where = torch.tensor([[-50.0, 0.0, 0.0], [0.0, 0.0, 0.0], [50.0, 0.0, 0.0]])
    boxes = window_boxes(z_where, height=24, width=24, scale_range=model.scale_range)
    widths = boxes[:, 2] - boxes[:, 0]
    torch.testing.assert_close(widths, torch.tensor([0.4, 0.5, 0.6]) * 24)
    scenes = model.decompose(torch.rand(4, 1, 24, 24))
    corners = scenes.outlines
    width = corners[..., 2, 0] - corners[..., 0, 0]
    assert ((width >= 0.4 * 24 - 1e-4) & (width <= 0.6 * 24 + 1e-4)).all()


def test_boxes_are_matched_whatever_the_order():
    truth = torch.tensor([[[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0, 0, 0, 0]]])
    found = torch.tensor([[[21.0, 20.0, 31.0, 30.0], [0.0, 3.0, 10.0, 13.0], [5, 5, 9, 9]]])
    error = matched_centre_error(found, truth, torch.tensor([2]))
    torch.testing.assert_close(error, torch.tensor([2.0]))  # (1 + 3) / 2, the third step unused
    one = matched_centre_error(found[:, 1:], truth, torch.tensor([1]))
    torch.testing.assert_close(one, torch.tensor([3.0]))


def test_the_enumerated_bound_is_the_sum_over_counts_of_each_paths_bound(images):
    """'enumerate' trains on sum_n q(n) ELBO(n): the same as forcing each count's z_pres path
    through the model (with the same continuous draws) and weighing its bound by q(n)."""
    model = tiny_air(estimator="enumerate", difference=True)
    with torch.no_grad():
        model.propose[-1].bias[0] = 0.4
    noise = model.sample_noise(images)
    enumerated = model.loss(model(images, noise), images)
    q = model.count_log_probs(model(images, noise).pres_probs).exp()  # (B, N + 1)
    torch.testing.assert_close(q.sum(-1), torch.ones(6))
    model.eval()  # hard z_pres, the path forced through u
    bounds = []
    for n in range(model.steps + 1):
        forced = noise.clone()
        forced[:, :, 0] = (torch.arange(model.steps) >= n).float()  # u = 0: present, 1: absent
        out = model(images, forced)
        assert (out.count == n).all()
        log_lik = model.log_likelihood(images, out)
        kl_pres, kl_where, kl_what = model.kl_terms(out)
        bounds.append(-(log_lik - (kl_pres + kl_where + kl_what).sum(-1)))
    expected = (q * torch.stack(bounds, -1)).sum(-1).mean()
    torch.testing.assert_close(enumerated.nll_bound, expected, rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(enumerated.total, enumerated.nll_bound)
    enumerated.total.backward()
    assert model.baseline is None  # nothing to learn a baseline for
    assert model.propose[-1].bias.grad[0] != 0  # rho learns from the exact sum


def test_initial_presence_is_rho_at_initialisation(images):
    model = tiny_air(initial_presence=0.1)
    # the proposal's weights start small: rho is near its bias, whatever the image
    rho = model(images).pres_probs[:, 0]
    torch.testing.assert_close(rho, torch.full_like(rho, 0.1), atol=0.05, rtol=0)


def test_refuses_impossible_settings():
    with pytest.raises(ValueError, match="estimator"):
        AIR(estimator="gumbel")
    with pytest.raises(ValueError, match="z_pres_prior"):
        AIR(z_pres_prior=1.0)
    with pytest.raises(ValueError, match="initial_presence"):
        AIR(initial_presence=0.0)
    with pytest.raises(ValueError, match="scale_range"):
        AIR(scale_range=(0.6, 0.4))


def test_the_baselines_learn_at_their_own_rate_and_only_the_likelihood_ratio_has_them():
    from foveate.training.scenes import SceneModule

    args = dict(model="air", model_args=TINY, max_epochs=1, lr=1e-4, baseline_lr=1e-2)
    module = SceneModule(**args)
    groups = module.parameter_groups()
    assert len(groups) == 2 and groups[1]["lr"] == 1e-2 and "lr" not in groups[0]
    names = {id(p): n for n, p in module.model.named_parameters()}
    assert all(names[id(p)].startswith("baseline.") for p in groups[1]["params"])
    assert not any(names[id(p)].startswith("baseline.") for p in groups[0]["params"])
    enumerated = SceneModule(**{**args, "model_args": {**TINY, "estimator": "enumerate"}})
    assert len(enumerated.parameter_groups()) == 1


def test_without_recurrence_a_step_knows_only_what_it_reads_and_the_step_before():
    # With the same image and the same latents from the step before, step 2 and step 3 of a
    # memoryless AIR propose the same object; the recurrent one has counted the steps.
    images = torch.rand(2, 1, 24, 24, generator=torch.Generator().manual_seed(1))
    for recurrent in (False, True):
        model = tiny_air(recurrent=recurrent)
        model.eval()
        with torch.no_grad():
            out = model(images, mode=True)
            state_2, state_3 = out.state[:, 1], out.state[:, 2]
        latents_1 = torch.cat([out.z_where[:, 0], out.z_what[:, 0], out.z_pres[:, :1]], -1)
        latents_2 = torch.cat([out.z_where[:, 1], out.z_what[:, 1], out.z_pres[:, 1:2]], -1)
        embedded = model.embed(images.flatten(1))
        zero = torch.zeros(2, model.lstm.hidden_size)
        with torch.no_grad():
            fresh_2, _ = model.lstm(torch.cat([embedded, latents_1], -1), (zero, zero))
            fresh_3, _ = model.lstm(torch.cat([embedded, latents_2], -1), (zero, zero))
        if recurrent:
            assert not torch.allclose(state_2, fresh_2, atol=1e-4)
        else:
            torch.testing.assert_close(state_2, fresh_2)
            torch.testing.assert_close(state_3, fresh_3)
