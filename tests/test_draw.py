"""DRAW and its attentive classifier: shapes, gradients, forward and generation as unrolls of one
``step``, the bound and its importance-weighted estimate."""

import pytest
import torch

from foveate.attention.filterbank import covering_params
from foveate.models import create_model
from foveate.models.draw import DRAW, DrawClassifier, DrawState

SMALL = dict(image_size=12, steps=4, encoder_size=16, decoder_size=16, latent_size=3)


def binary_images(n=6, size=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, size, size, generator=g) < 0.3).float()


@pytest.mark.parametrize("attention", [True, False])
def test_draw_shapes_and_every_parameter_gets_a_gradient(attention):
    torch.manual_seed(0)
    model = DRAW(attention=attention, read_size=2, write_size=3, **SMALL)
    x = binary_images()
    out = model(x)
    assert out.canvas.shape == x.shape
    assert out.mu.shape == out.sigma.shape == out.z.shape == (6, 4, 3)
    if attention:
        assert out.read_boxes.shape == out.write_boxes.shape == (6, 4, 4)
    else:
        assert out.read_boxes is None and out.write_boxes is None
    loss = model.loss(out, x)
    loss.total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_loss_is_reconstruction_plus_kl_in_nats_per_image():
    torch.manual_seed(0)
    model = DRAW(**SMALL)
    x = binary_images()
    out = model(x)
    loss = model.loss(out, x)
    assert loss.per_image.shape == (6,)
    assert torch.allclose(loss.total, loss.reconstruction + loss.kl)
    assert loss.kl > 0
    # An untrained canvas of zeros is sigma(0) = 1/2 everywhere: about log 2 nats per pixel.
    assert loss.reconstruction.item() == pytest.approx(144 * 0.693, rel=0.2)
    # The analytic KL of eq. 11: 1/2 sum (mu^2 + sigma^2 - log sigma^2 - 1).
    by_hand = 0.5 * (out.mu**2 + out.sigma**2 - 2 * out.sigma.log() - 1).sum((1, 2)).mean()
    assert loss.kl.item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_noise_given_outside_makes_the_pass_deterministic():
    model = DRAW(**SMALL)
    x = binary_images()
    noise = model.sample_noise(x)
    assert noise.shape == (6, 4, 3)
    assert torch.equal(model(x, noise).canvas, model(x, noise).canvas)


@pytest.mark.parametrize("attention", [True, False])
def test_forward_is_step_unrolled_from_the_initial_state(attention):
    """``step`` run T times by hand, from ``initial_state`` with the same draws, gives
    ``forward``'s latents, windows and final canvas."""
    torch.manual_seed(0)
    model = DRAW(attention=attention, **SMALL)
    x = binary_images()
    noise = model.sample_noise(x)
    out = model(x, noise)
    state = model.initial_state(len(x))
    assert isinstance(state, DrawState)
    for t in range(model.steps):
        state, drawn = model.step(state, noise[:, t], x)
        torch.testing.assert_close(out.mu[:, t], drawn.mu)
        torch.testing.assert_close(out.sigma[:, t], drawn.sigma)
        torch.testing.assert_close(out.z[:, t], drawn.z)
        if attention:
            torch.testing.assert_close(out.read_boxes[:, t], drawn.read_window.boxes())
            torch.testing.assert_close(out.write_boxes[:, t], drawn.write_window.boxes())
        else:
            assert drawn.read_window is None and drawn.write_window is None
    torch.testing.assert_close(out.canvas, state.canvas)


@pytest.mark.parametrize("attention", [True, False])
def test_generation_is_the_same_step_without_an_image(attention):
    """``generate`` is ``step`` without an image, z_t the generator's t-th N(0, I) draw: the
    same generator seed gives the same drawing, built step by step by hand here; another seed
    another drawing."""
    torch.manual_seed(0)
    model = DRAW(attention=attention, **SMALL)
    drawing = model.generate(5, generator=torch.Generator().manual_seed(3))
    again = model.generate(5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(drawing.canvases, again.canvases)
    other = model.generate(5, generator=torch.Generator().manual_seed(4))
    assert not torch.allclose(drawing.canvases, other.canvases)
    generator = torch.Generator().manual_seed(3)
    state = model.initial_state(5)
    with torch.no_grad():
        for t in range(model.steps):
            z = torch.randn(5, model.latent_size, generator=generator)
            state, drawn = model.step(state, z)
            assert drawn.mu is None and drawn.read_window is None and torch.equal(drawn.z, z)
            torch.testing.assert_close(drawing.canvases[:, t], torch.sigmoid(state.canvas))
    assert (state.h_enc == 0).all()  # generation never runs the encoder
    assert (drawing.outlines is None) != attention


def test_importance_weighted_estimate_tightens_the_bound():
    torch.manual_seed(0)
    model = DRAW(**SMALL)
    x = binary_images(n=4)
    with torch.no_grad():
        # The bound's expectation: averaged over many draws, -log w equals L^x + L^z on average.
        draws = x.repeat(400, 1, 1, 1)
        out = model(draws)
        neg_log_w = -model.log_weights(out, draws).view(400, 4).mean(0)
        bound = model.loss(out, draws).per_image.view(400, 4).mean(0)
    assert torch.allclose(neg_log_w, bound, rtol=0.01)
    iw = model.importance_weighted_nll(x, samples=200)
    assert iw.shape == (4,)
    assert (iw <= bound + 1e-3).all()  # log-mean-exp of the weights >= their mean (Jensen)
    with pytest.raises(ValueError, match="at least 1"):
        model.importance_weighted_nll(x, samples=0)


def test_generation_draws_canvases_step_by_step():
    model = DRAW(**SMALL)
    drawing = model.generate(5, generator=torch.Generator().manual_seed(0))
    assert drawing.canvases.shape == (5, 4, 1, 12, 12)
    assert drawing.outlines.shape == (5, 4, 4, 2)
    assert ((drawing.canvases >= 0) & (drawing.canvases <= 1)).all()
    again = model.generate(5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(drawing.canvases, again.canvases)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="steps"):
        DRAW(steps=0)
    with pytest.raises(ValueError, match="larger than"):
        DRAW(image_size=4, write_size=5)
    with pytest.raises(ValueError, match="built for 28x28"):
        DRAW().check_input_size(60, 60)
    with pytest.raises(ValueError, match="read_size"):
        DrawClassifier(image_size=10, read_size=12)


def test_classifier_shapes_gradients_and_boxes():
    torch.manual_seed(0)
    model = create_model("draw_classifier", image_size=20, glimpses=3, read_size=4, hidden_size=16)
    x, y = torch.rand(5, 1, 20, 20), torch.randint(0, 10, (5,))
    out = model(x)
    assert out.logits.shape == (5, 10) and out.read_boxes.shape == (5, 3, 4)
    seen = model.attended(x, out)
    assert seen.outlines.shape == (5, 3, 1, 4, 2) and seen.views.shape == (5, 3, 1, 4, 4)
    loss = model.loss(out, y)
    assert loss.correct.shape == (5,)
    loss.total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    probs = model.predict_proba(x, samples=3)
    assert torch.allclose(probs.sum(-1), torch.ones(5))


def test_classifier_forward_is_step_unrolled_from_the_initial_state():
    torch.manual_seed(0)
    model = DrawClassifier(image_size=20, glimpses=3, read_size=4, hidden_size=16)
    x = torch.rand(5, 1, 20, 20)
    out = model(x)
    state = model.initial_state(x)
    for t in range(model.glimpses):
        state, read = model.step(state, x)
        torch.testing.assert_close(out.glimpses[:, t].flatten(1), read.glimpse)
        torch.testing.assert_close(out.read_boxes[:, t], read.window.boxes())
    torch.testing.assert_close(out.logits, model.classify(state.h))


def test_attention_windows_start_covering_the_image():
    """Read and write windows start as ``covering_params``: a first read sees the whole digit."""
    model = DRAW(steps=2, read_size=2, write_size=5)
    for layer, size in [(model.reader.window_params, 2), (model.writer.window_params, 5)]:
        expected = covering_params(height=28, width=28, size=size)
        assert torch.allclose(layer.bias, expected)
    classifier = DrawClassifier(image_size=100, read_size=12)
    expected = covering_params(height=100, width=100, size=12)
    assert torch.allclose(classifier.reader.window_params.bias, expected)


def test_classifier_glimpses_stay_on_the_canvas():
    """The bounded window (the default) keeps every glimpse's grid centre on the image, however
    far its layer points; the paper's unbounded one does not."""
    torch.manual_seed(0)
    x = torch.rand(4, 1, 30, 30)
    for bounded in (True, False):
        model = DrawClassifier(
            image_size=30, glimpses=2, read_size=3, hidden_size=8, bounded_window=bounded
        )
        with torch.no_grad():
            model.reader.window_params.bias[:2] = 5.0  # g~ = 5: the centre 3 image-widths away
        boxes = model(x).read_boxes  # (B, T, 4) as left, top, right, bottom
        centres = (boxes[..., :2] + boxes[..., 2:]) / 2
        assert ((centres > -0.5) & (centres < 30.5)).all() == bounded


def test_bad_variance_floors_are_refused():
    with pytest.raises(ValueError, match="at least 0"):
        DrawClassifier(image_size=20, read_size=4, min_read_variance=-0.25)
    with pytest.raises(ValueError, match="bounded=True"):
        DrawClassifier(image_size=20, read_size=4, bounded_window=False, min_read_variance=0.25)
