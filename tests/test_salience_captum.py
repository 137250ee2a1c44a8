"""Salience maps (foveate.reports.salience) against Captum, a maintained attribution library
(a test-only dependency): the hand-written activation x gradient must equal Captum's
``InputXGradient`` at the input and its ``LayerGradientXActivation`` at every layer that gives a
map, summed over channels, on every classifier of the registry and every reader (scored by
``reading_score``), stochastic ones (RAM) with the same draws."""

import pytest

captum_attr = pytest.importorskip("captum.attr")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from foveate.models import create_model, list_models, model_entry  # noqa: E402
from foveate.models.interface import Classifier, Reads, Stochastic  # noqa: E402
from foveate.reports.salience import class_logits, reading_score, salience  # noqa: E402


def tiny(name: str) -> nn.Module:
    torch.manual_seed(0)
    return create_model(name, **model_entry(name).tiny)


MODELS = {name: tiny(name) for name in list_models()}
CLASSIFIERS = [name for name, model in MODELS.items() if isinstance(model, Classifier)]
READERS = [name for name, model in MODELS.items() if isinstance(model, Reads)]


def images_for(model: nn.Module, batch: int = 3) -> torch.Tensor:
    size = getattr(model, "image_size", 28)
    height, width = size if isinstance(size, (tuple, list)) else (size, size)
    channels = getattr(model, "channels", 1)
    g = torch.Generator().manual_seed(1)
    return torch.rand(batch, channels, height, width, generator=g)


def maps(model: nn.Module, images: torch.Tensor) -> dict[str, nn.Module]:
    """The layers whose output is a map (B, C, h, w), each run once per forward pass."""
    shapes: dict[str, list[int]] = {}
    hooks = [
        module.register_forward_hook(
            lambda m, i, out, name=name: shapes.setdefault(name, []).append(
                out.dim() if isinstance(out, torch.Tensor) else 0
            )
        )
        for name, module in model.named_modules()
        if name
    ]
    with torch.no_grad():
        model.eval()
        draws = (model.sample_noise(images),) if isinstance(model, Stochastic) else ()
        model(images, *draws)
    for hook in hooks:
        hook.remove()
    modules = dict(model.named_modules())
    return {name: modules[name] for name, dims in shapes.items() if dims == [4]}


def captum(method, model: nn.Module, images: torch.Tensor, *, samples: int, **attribute):
    """Captum's attribution summed over channels, averaged over ``samples`` draws made in the
    order salience makes them (one forward pass per draw)."""
    total = 0
    for _ in range(samples):
        x = images.clone().requires_grad_()
        total = total + method.attribute(x, **attribute).sum(1)
    return total / samples


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_salience_at_the_input_is_captums_input_x_gradient(name):
    model = MODELS[name]
    x = images_for(model)
    targets = torch.arange(len(x)) % model.num_classes
    samples = 2 if isinstance(model, Stochastic) else 1
    torch.manual_seed(2)
    ours = salience(model, x, targets, samples=samples)
    model.eval()
    method = captum_attr.InputXGradient(lambda images: class_logits(model, images))
    torch.manual_seed(2)
    theirs = captum(method, model, x, samples=samples, target=targets)
    assert ours.shape == theirs.shape == (len(x), *x.shape[2:])
    assert theirs.abs().sum() > 0  # a map of zeros would agree with anything
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    # the default target is the predicted class
    torch.manual_seed(2)
    predicted = salience(model, x, samples=samples)
    torch.manual_seed(2)
    with torch.no_grad():
        model.eval()
        first = class_logits(model, x).argmax(-1)
    torch.manual_seed(2)
    torch.testing.assert_close(
        predicted, captum(method, model, x, samples=samples, target=first), rtol=1e-5, atol=1e-6
    )


# the classifiers with a layer to explain at (RAM, DRAW's and the fully connected one have none)
LAYERED = [name for name in CLASSIFIERS if maps(MODELS[name], images_for(MODELS[name]))]


@pytest.mark.parametrize("name", LAYERED)
def test_salience_at_every_map_layer_is_captums_layer_gradient_x_activation(name):
    model = MODELS[name]
    x = images_for(model)
    layers = maps(model, x)
    targets = torch.arange(len(x)) % model.num_classes
    samples = 2 if isinstance(model, Stochastic) else 1
    for layer, module in layers.items():
        torch.manual_seed(3)
        ours = salience(model, x, targets, layer=layer, samples=samples)
        model.eval()
        method = captum_attr.LayerGradientXActivation(
            lambda images: class_logits(model, images), module
        )
        torch.manual_seed(3)
        theirs = captum(method, model, x, samples=samples, target=targets)
        assert ours.shape == theirs.shape, layer
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6, msg=layer)


@pytest.mark.parametrize("name", READERS)
def test_a_readers_salience_is_captums_input_x_gradient_of_its_reading_score(name):
    model = MODELS[name]
    x = images_for(model)
    torch.manual_seed(4)
    ours = salience(model, x, score=reading_score)
    model.eval()
    method = captum_attr.InputXGradient(lambda images: reading_score(model, images))
    torch.manual_seed(4)
    theirs = captum(method, model, x, samples=1)
    assert ours.shape == theirs.shape == (len(x), *x.shape[2:])
    assert theirs.abs().sum() > 0
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
