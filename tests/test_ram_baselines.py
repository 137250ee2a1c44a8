"""The baselines of RAM's tables: sizes as in the paper, refusals, and a tiny fit that learns."""

import pytest
import torch

from foveate.models import create_model
from foveate.models.ram_baselines import FullyConnectedNet, ShallowConvNet


def test_the_fully_connected_net_has_two_hidden_layers_of_256():
    model = FullyConnectedNet(image_size=60)
    sizes = [
        (m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)
    ]
    assert sizes == [(3600, 256), (256, 256), (256, 10)]
    assert model(torch.rand(3, 1, 60, 60)).shape == (3, 10)


def test_the_shallow_cnn_is_8_filters_of_10x10_at_stride_5_then_256_units():
    model = ShallowConvNet(image_size=100)
    assert model.conv.weight.shape == (8, 1, 10, 10) and model.conv.stride == (5, 5)
    assert model.hidden.in_features == 8 * 19 * 19  # (100 - 10) // 5 + 1 = 19
    assert model(torch.rand(2, 1, 100, 100)).shape == (2, 10)


def test_baselines_refuse_other_sizes_and_bad_settings():
    with pytest.raises(ValueError, match="built for 60x60"):
        create_model("fc", image_size=60).check_input_size(100, 100)
    with pytest.raises(ValueError, match="larger than"):
        ShallowConvNet(image_size=8)
    with pytest.raises(ValueError, match="positive"):
        FullyConnectedNet(hidden_size=0)


@pytest.mark.parametrize("name", ["fc", "shallow_cnn"])
def test_a_baseline_learns_a_toy_task(name):
    """Bright top half against bright bottom half: a few Adam steps separate them."""
    torch.manual_seed(0)
    images = torch.zeros(64, 1, 20, 20)
    labels = torch.arange(64) % 2
    images[labels == 0, :, :10] = 1
    images[labels == 1, :, 10:] = 1
    model = create_model(name, image_size=20, num_classes=2)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        optimiser.zero_grad()
        model.loss(model(images), labels).total.backward()
        optimiser.step()
    assert (model.predict_proba(images).argmax(-1) == labels).all()
