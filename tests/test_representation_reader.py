"""The reader of benchmarks/air_representation.py: a set of objects, read in any order."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from air_representation import RelationReader  # noqa: E402


def latents(batch: int = 5, steps: int = 3, features: int = 7) -> torch.Tensor:
    torch.manual_seed(0)
    z = torch.randn(batch, steps, features)
    z[..., 0] = torch.tensor([1.0, 1.0, 0.0])  # the third step holds no object
    return z


def test_the_order_of_the_steps_does_not_matter():
    reader, z = RelationReader(7, 4), latents()
    assert torch.allclose(reader(z), reader(z[:, [1, 0, 2]]), atol=1e-6)
    assert torch.allclose(reader(z), reader(z[:, [2, 1, 0]]), atol=1e-6)


def test_an_absent_step_is_not_read():
    reader, z = RelationReader(7, 4), latents()
    other = z.clone()
    other[:, 2, 1:] = torch.randn_like(other[:, 2, 1:]) * 10
    assert torch.allclose(reader(z), reader(other), atol=1e-6)


def test_it_learns_whether_the_smaller_class_lies_left():
    """The order task in miniature: two objects, each a position and a class."""
    torch.manual_seed(1)
    n = 2048
    x = torch.rand(n, 2)  # each object's horizontal position
    c = torch.randint(0, 10, (n, 2)).float() / 10  # each object's class
    z = torch.stack([torch.ones(n, 2), x, c], -1)  # (n, 2, 3)
    rows, left = torch.arange(n), (x[:, 1] < x[:, 0]).long()  # the left object's index
    y = (c[rows, left] <= c[rows, 1 - left]).long()
    reader = RelationReader(3, 2, hidden=32)
    optimiser = torch.optim.Adam(reader.parameters(), lr=3e-3)
    for _ in range(600):
        loss = torch.nn.functional.cross_entropy(reader(z), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    accuracy = (reader(z).argmax(-1) == y).float().mean().item()
    assert accuracy > 0.9, accuracy
