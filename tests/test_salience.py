"""Salience maps (foveate.reports.salience): known answers and every classifier."""

import pytest
import torch
from torch import nn

from foveate.models import create_model, list_models, model_entry
from foveate.models.interface import Classifier
from foveate.reports.salience import salience


class Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Identity()
        self.weight = nn.Parameter(torch.randn(3, 1 * 4 * 4))

    def forward(self, images):
        return self.body(images).flatten(1) @ self.weight.T


def test_at_the_input_a_linear_score_is_input_times_weight():
    torch.manual_seed(0)
    model, x = Linear(), torch.rand(5, 1, 4, 4)
    targets = torch.tensor([0, 1, 2, 0, 1])
    expected = x[:, 0] * model.weight[targets].view(5, 4, 4)
    assert torch.allclose(salience(model, x, targets), expected.detach())
    # complete for a linear score: the map sums to the logit
    logits = model(x).gather(1, targets[:, None]).squeeze(1)
    assert torch.allclose(salience(model, x, targets).sum((1, 2)), logits.detach(), atol=1e-5)
    # at a named layer (here the identity) it is the same
    assert torch.allclose(salience(model, x, targets, layer="body"), expected.detach())


def test_by_default_the_predicted_class_is_explained():
    torch.manual_seed(0)
    model, x = Linear(), torch.rand(5, 1, 4, 4)
    predicted = model(x).argmax(-1)
    assert torch.allclose(salience(model, x), salience(model, x, predicted))


def test_unknown_layers_are_one_line_errors():
    with pytest.raises(ValueError, match="no layer 'head'"):
        salience(Linear(), torch.rand(1, 1, 4, 4), layer="head")


CLASSIFIERS = [
    name
    for name in list_models()
    if isinstance(create_model(name, **model_entry(name).tiny), Classifier)
]


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_every_classifier_has_a_salience_map(name):
    torch.manual_seed(0)
    model = create_model(name, **model_entry(name).tiny)
    size = getattr(model, "image_size", 28)
    x = torch.rand(2, 1, size, size)
    sal = salience(model, x, torch.tensor([1, 2]))
    assert sal.shape == (2, size, size) and torch.isfinite(sal).all()
    assert sal.abs().sum() > 0
