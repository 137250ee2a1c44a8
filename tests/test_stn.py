"""The spatial transformer network and the plain CNN: the identity start, the transform's form,
shapes, where gradients go, what ``attended`` reports, and a small optimisation that moves the
window onto an object through the sampler's gradient alone."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import foveate.models.stn as stn_module
from foveate.attention.transformer import affine_warp, grid_corners
from foveate.models import create_model, list_models, model_entry
from foveate.models.cnn import ConvClassifier, ConvNet, cross_entropy_loss
from foveate.models.interface import Attends, Classifier, Glimpses, Model
from foveate.models.stn import SpatialTransformerNetwork, StnOutput

TINY = dict(localisation_filters=4, localisation_hidden=8, conv_width=4, hidden_size=16)


def tiny_stn(seed=0, **kwargs):
    """A small STN, initialised from ``seed`` so that no test depends on the ones before it."""
    torch.manual_seed(seed)
    return SpatialTransformerNetwork(**{**TINY, **kwargs})


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(5, 1, 32, 32, generator=g), torch.randint(0, 10, (5,), generator=g)


def perturb_regressor(model, seed=0, scale=0.5):
    """Give the localisation's last layer random weights, so theta depends on the image."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        weight = model.localisation.regress.weight
        weight.copy_(scale * torch.randn(weight.shape, generator=g))


# --- the transform ----------------------------------------------------------------------------


@pytest.mark.parametrize("transform", ["affine", "attention"])
def test_starts_at_the_identity_for_any_input(transform):
    g = torch.Generator().manual_seed(1)
    images = torch.cat([torch.rand(3, 1, 32, 32, generator=g), torch.zeros(1, 1, 32, 32)])
    model = tiny_stn(image_size=32, output_size=32, transform=transform)
    out = model(images)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(4, 2, 3)
    assert torch.equal(out.theta, identity)
    # With V as large as U, the identity grid resamples every pixel onto itself.
    assert torch.allclose(out.transformed, images, rtol=0, atol=1e-5)


def test_identity_start_with_a_smaller_output_sees_the_whole_image_downsampled():
    image = torch.zeros(1, 1, 32, 32)
    image[..., :16, :] = 1.0  # top half bright
    out = tiny_stn(image_size=32, output_size=16)(image)
    expected = torch.zeros(1, 1, 16, 16)
    expected[..., :8, :] = 1.0  # samples fall midway between pixel pairs of equal value
    assert torch.allclose(out.transformed, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_attention_transform_is_an_isotropic_scale_and_shift(batch, seed):
    images, _ = batch
    images = images * torch.arange(1.0, 6.0).view(5, 1, 1, 1)  # unlike each other
    model = tiny_stn(seed, image_size=32, transform="attention")
    perturb_regressor(model, seed)
    theta = model(images).theta
    assert torch.equal(theta[:, 0, 1], torch.zeros(5))
    assert torch.equal(theta[:, 1, 0], torch.zeros(5))
    assert torch.equal(theta[:, 0, 0], theta[:, 1, 1])
    # theta does depend on the image: scales and shifts differ between samples.
    assert (theta[1:] - theta[:1]).abs().amax((-1, -2)).min() > 1e-3


def test_affine_transform_is_general(batch):
    # The control for the test above: the same perturbation of the six-parameter head gives
    # shears and unequal scales.
    images, _ = batch
    images = images * torch.arange(1.0, 6.0).view(5, 1, 1, 1)
    model = tiny_stn(image_size=32, transform="affine")
    perturb_regressor(model)
    theta = model(images).theta
    assert theta[:, 0, 1].abs().min() > 0 and theta[:, 1, 0].abs().min() > 0
    assert (theta[:, 0, 0] - theta[:, 1, 1]).abs().min() > 0


def test_transformed_is_the_input_warped_by_theta(batch):
    images, _ = batch
    model = tiny_stn(image_size=32, output_size=12)
    perturb_regressor(model, scale=0.2)
    out = model(images)
    assert torch.equal(out.transformed, affine_warp(images, out.theta, size=(12, 12)))
    assert torch.equal(out.logits, model.classifier(out.transformed))


# --- shapes, protocols, loss ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "transform, channels, image_size, output_size, downsample",
    [("affine", 1, 32, 16, 2), ("attention", 3, 40, 12, 1), ("affine", 2, 60, 28, 4)],
)
def test_forward_shapes(transform, channels, image_size, output_size, downsample):
    images = torch.rand(3, channels, image_size, image_size)
    model = tiny_stn(
        image_size=image_size,
        channels=channels,
        num_classes=7,
        transform=transform,
        output_size=output_size,
        localisation_downsample=downsample,
    )
    out = model(images)
    assert isinstance(out, StnOutput)
    assert out.logits.shape == (3, 7)
    assert out.theta.shape == (3, 2, 3)
    assert out.transformed.shape == (3, channels, output_size, output_size)
    assert isinstance(model, Model) and isinstance(model, Classifier)
    assert isinstance(model, Attends)


def test_loss_is_the_cross_entropy_and_counts_right_answers():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 3.0]])
    loss = cross_entropy_loss(logits, torch.tensor([0, 1, 1]))
    expected = -(logits.log_softmax(-1)[[0, 1, 2], [0, 1, 1]]).mean()
    assert loss.total.item() == pytest.approx(expected.item())
    assert loss.correct.tolist() == [1.0, 0.0, 0.0]  # the tie in row 2 goes to class 0
    zero = cross_entropy_loss(torch.zeros(4, 10), torch.arange(4))
    assert zero.total.item() == pytest.approx(torch.log(torch.tensor(10.0)).item())


def test_predict_proba_rows_sum_to_one_and_match_the_logits(batch):
    images, _ = batch
    model = tiny_stn(image_size=32)
    perturb_regressor(model, scale=0.2)
    probs = model.predict_proba(images, samples=3)
    assert probs.shape == (5, 10) and not probs.requires_grad
    assert torch.allclose(probs.sum(-1), torch.ones(5))
    assert torch.allclose(probs, model(images).logits.softmax(-1))


def test_check_input_size_names_the_flag():
    model = tiny_stn(image_size=32)
    model.check_input_size(32, 32)  # the right size passes
    with pytest.raises(ValueError, match="--image-size 28"):
        model.check_input_size(28, 28)
    with pytest.raises(ValueError, match="built for 32x32"):
        model.check_input_size(32, 40)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="transform"):
        tiny_stn(transform="projective")
    with pytest.raises(ValueError, match="output_size"):
        tiny_stn(output_size=3)
    with pytest.raises(ValueError, match="localisation_downsample"):
        tiny_stn(localisation_downsample=0)
    with pytest.raises(ValueError, match="at least 16 pixels"):
        tiny_stn(image_size=12, localisation_downsample=4)


# --- gradients ------------------------------------------------------------------------------------


def nonzero_grads(model):
    return {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}


@pytest.mark.parametrize("transform", ["affine", "attention"])
def test_at_the_identity_start_the_regressor_and_classifier_get_gradients(batch, transform):
    images, labels = batch
    model = tiny_stn(image_size=32, transform=transform)
    model.loss(model(images), labels).total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    moved = nonzero_grads(model)
    # The gradient reaches theta through the sampler, and the zero-initialised last layer's
    # weights through it; the layers below see nothing until those weights leave zero.
    assert {"localisation.regress.weight", "localisation.regress.bias"} <= moved
    assert {n for n, _ in model.classifier.named_parameters()} <= {
        n.removeprefix("classifier.") for n in moved
    }
    below = {n for n, _ in model.named_parameters() if n.startswith("localisation.")}
    assert moved & below == {"localisation.regress.weight", "localisation.regress.bias"}


@pytest.mark.parametrize("transform", ["affine", "attention"])
def test_every_parameter_gets_a_finite_nonzero_gradient_after_one_step(batch, transform):
    images, labels = batch
    model = tiny_stn(image_size=32, transform=transform)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    model.loss(model(images), labels).total.backward()
    optimiser.step()
    model.zero_grad()
    model.loss(model(images), labels).total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


# --- what it attended to -----------------------------------------------------------------------


def test_attended_outlines_match_the_grid_and_views_are_what_the_classifier_saw(batch):
    images, _ = batch
    model = tiny_stn(image_size=32, output_size=16, transform="attention")
    out = model(images)
    glimpses = model.attended(images, out)
    assert isinstance(glimpses, Glimpses)
    assert glimpses.outlines.shape == (5, 1, 1, 4, 2)
    assert glimpses.views.shape == (5, 1, 1, 16, 16)
    assert torch.equal(glimpses.views[:, 0], out.transformed)
    # At the identity start the outline is the whole image.
    whole = torch.tensor([[0.0, 0.0], [32.0, 0.0], [32.0, 32.0], [0.0, 32.0]])
    assert torch.equal(glimpses.outlines[:, 0, 0], whole.expand(5, 4, 2))
    perturb_regressor(model, scale=0.2)
    out = model(images)
    outlines = model.attended(images, out).outlines
    assert torch.equal(outlines[:, 0, 0], grid_corners(out.theta, height=32, width=32))
    assert not torch.equal(outlines[:, 0, 0], whole.expand(5, 4, 2))


# --- training through the sampler ----------------------------------------------------------------


class CentreReadout(nn.Module):
    """A fixed classifier: class 1's logit is a Gaussian-weighted sum of V around its centre
    (class 0's is zero), so the cross-entropy for class 1 falls as V's centre brightens."""

    def __init__(self, size, *, sigma=2.0, gain=4.0):
        super().__init__()
        u = torch.arange(size) - (size - 1) / 2
        g = torch.exp(-(u**2) / (2 * sigma**2))
        weights = g[:, None] * g[None, :]
        self.register_buffer("weights", gain * weights / weights.sum())

    def forward(self, views):
        score = (views[:, 0] * self.weights).sum((-1, -2))  # (B,)
        return torch.stack([torch.zeros_like(score), score], -1)  # (B, 2)


def squares(batch=8, seed=0):
    """32 x 32 images with faint noise and a bright 8 x 8 square with soft edges: in the first
    half at rows 4..11, columns 20..27 (centre (0.5, -0.5) normalised), in the second half at
    rows 20..27, columns 4..11 (centre (-0.5, 0.5))."""
    g = torch.Generator().manual_seed(seed)
    images = 0.05 * torch.rand(batch, 1, 32, 32, generator=g)
    images[: batch // 2, :, 4:12, 20:28] = 1.0
    images[batch // 2 :, :, 20:28, 4:12] = 1.0
    images = F.avg_pool2d(F.pad(images, (2, 2, 2, 2)), 5, stride=1)  # soften the edges
    centres = torch.tensor([[0.5, -0.5]] * (batch // 2) + [[-0.5, 0.5]] * (batch // 2))
    return images, centres


def train_localisation(steps=100, seed=0):
    """Train only the localisation network of an 'attention' STN whose classifier is a fixed
    read-out of V's centre; return where its windows end up, (B, 2), and the targets."""
    images, centres = squares(seed=seed)
    model = tiny_stn(seed, image_size=32, output_size=8, transform="attention")
    model.classifier = CentreReadout(8)
    optimiser = torch.optim.Adam(model.localisation.parameters(), lr=0.005)
    targets = torch.ones(len(images), dtype=torch.long)
    for _ in range(steps):
        loss = model.loss(model(images), targets).total
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return model(images).theta[:, :, 2], centres


def test_the_localisation_learns_to_look_at_the_square_through_the_sampler():
    found, centres = train_localisation()
    # Each window ends within about 2 pixels (0.15 normalised) of its own square's centre,
    # from the identity start at (0, 0), half an image away: the network reads the image.
    assert (found - centres).abs().max() < 0.15


def test_with_the_sampler_gradient_cut_the_window_never_moves(monkeypatch):
    # The control for the test above: a sampler that passes theta no gradient (the zero term
    # only keeps the loss differentiable) leaves the windows at the identity's centre.
    def warp_without_theta_gradient(images, theta, *, size):
        return affine_warp(images, theta.detach(), size=size) + 0 * theta.sum()

    monkeypatch.setattr(stn_module, "affine_warp", warp_without_theta_gradient)
    found, centres = train_localisation()
    assert torch.equal(found, torch.zeros_like(found))
    assert (found - centres).abs().max() > 0.15


# --- the plain CNN -------------------------------------------------------------------------------


def test_stn_and_cnn_are_registered_and_their_tiny_configs_build():
    assert {"stn", "cnn"} <= set(list_models())
    assert model_entry("cnn").cls is ConvNet
    assert model_entry("stn").cls is SpatialTransformerNetwork
    images = torch.rand(2, 1, 60, 60)
    for name in ("stn", "cnn"):
        model = create_model(name, **model_entry(name).tiny)
        model.check_input_size(60, 60)
        assert model.predict_proba(images).shape == (2, 10)


@pytest.mark.parametrize("channels, image_size", [(1, 28), (3, 30), (1, 60)])
def test_cnn_shapes_and_every_parameter_gets_a_gradient(channels, image_size):
    g = torch.Generator().manual_seed(2)
    images = torch.rand(4, channels, image_size, image_size, generator=g)
    labels = torch.tensor([0, 1, 2, 3])
    model = create_model(
        "cnn", **model_entry("cnn").tiny, image_size=image_size, channels=channels, num_classes=5
    )
    logits = model(images)
    assert logits.shape == (4, 5)
    loss = model.loss(logits, labels)
    assert loss.correct.shape == (4,)
    loss.total.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name
    probs = model.predict_proba(images)
    assert torch.allclose(probs.sum(-1), torch.ones(4))
    assert torch.allclose(probs, logits.softmax(-1))


def test_cnn_check_input_size_names_the_flag():
    model = ConvNet(image_size=28, conv_width=2, hidden_size=4)
    model.check_input_size(28, 28)
    with pytest.raises(ValueError, match="--image-size 60"):
        model.check_input_size(60, 60)


@pytest.mark.parametrize("kernel_size", [1, 3, 5, 7])
@pytest.mark.parametrize("image_size", [28, 30, 31])
def test_conv_classifier_takes_any_odd_kernel_and_size(kernel_size, image_size):
    model = ConvClassifier(
        image_size=image_size, kernel_size=kernel_size, conv_width=2, hidden_size=4
    )
    assert model(torch.zeros(2, 1, image_size, image_size)).shape == (2, 10)


@pytest.mark.parametrize("kernel_size", [0, 4, 6])
def test_conv_classifier_refuses_an_even_kernel(kernel_size):
    # padding k // 2 keeps the size only for odd k; an even one used to fail later, at the first
    # linear layer, and only for some image sizes (30, not 28).
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ConvClassifier(image_size=30, kernel_size=kernel_size)


def test_conv_classifier_refuses_tiny_images():
    with pytest.raises(ValueError, match="at least 4x4"):
        ConvClassifier(image_size=3)


def test_theta_keeps_small_image_dependent_changes_under_bfloat16():
    # bfloat16 rounds 1 + 1e-3 to 1: a young localisation network's image-dependent output
    # would be lost (a cluttered-MNIST run trained a constant transform that way), so theta
    # and the sampler stay in float32 under mixed precision.
    torch.manual_seed(0)
    model = SpatialTransformerNetwork(image_size=28, output_size=14)
    with torch.no_grad():
        model.localisation.regress.weight.normal_(0, 1e-4)
    images = torch.rand(16, 1, 28, 28) * torch.linspace(0.2, 1, 16)[:, None, None, None]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(images)
    assert output.theta.dtype == torch.float32 and output.transformed.dtype == torch.float32
    assert output.theta.std(0).max() > 0
    with torch.no_grad():
        exact = model.localisation.regress(
            torch.relu(
                model.localisation.hidden(
                    model.localisation.features(F.avg_pool2d(images, 2)).flatten(1)
                )
            )
        )
    torch.testing.assert_close(output.theta.flatten(1), exact, atol=1e-3, rtol=0)
