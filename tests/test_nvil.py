"""NVIL's centring of a learning signal (``foveate.models.reinforce.nvil_signal``), as AIR's and
AIR3D's z_pres use it: the running mean carries the signal's level, and the input-dependent
baseline learns how it varies from input to input (Mnih & Gregor 2014, sec. 3.2-3.3)."""

import pytest
import torch
from torch import nn

from foveate.models.reinforce import nvil_signal


def _train_baseline(steps: int, level: float) -> tuple[float, float]:
    """A baseline MLP fitted by ``nvil_signal`` to a signal of ``level`` nats plus 10 x (x the
    input, standard normal) plus unit noise, as AIR's optimiser fits it (Adam, 1e-3). Returns
    the share of the signal's variance the advantage still holds, and the baselines' error."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    mean, var = torch.zeros(()), torch.ones(())
    for _ in range(steps):
        x = torch.randn(256, 1)
        signal = level + 10 * x + torch.randn(256, 1)
        alive = torch.ones(256, 1)
        advantage, error = nvil_signal(
            signal, net(x), alive, running_mean=mean, running_var=var, decay=0.9
        )
        optimiser.zero_grad()
        error.backward()
        optimiser.step()
    x = torch.randn(4096, 1)
    signal = level + 10 * x + torch.randn(4096, 1)
    with torch.no_grad():
        advantage, error = nvil_signal(
            signal, net(x), torch.ones(4096, 1), running_mean=mean.clone(),
            running_var=var.clone(), decay=1.0,
        )  # fmt: skip
    return (advantage.var() / signal.var()).item(), error.item()


def test_the_baseline_learns_the_variation_whatever_the_signals_level():
    # 600 nats, as a likelihood over 2,500 pixels is: in 1,500 steps the baseline explains
    # most of the variation, as at a level of 0. A baseline made to predict the signal itself
    # (not the signal less the running mean) spends these steps climbing towards 600 and
    # explains almost none of it.
    for level in (0.0, 600.0):
        left, _ = _train_baseline(1500, level)
        assert left < 0.1, (level, left)


def test_the_advantage_is_centred_by_the_running_mean():
    signal = torch.tensor([[5.0, 7.0], [9.0, 11.0]])
    baseline = torch.tensor([[1.0, 1.0], [1.0, 1.0]], requires_grad=True)
    alive = torch.tensor([[1.0, 1.0], [1.0, 0.0]])  # the last step did not draw
    mean, var = torch.zeros(()), torch.ones(())
    advantage, error = nvil_signal(
        signal, baseline, alive, running_mean=mean, running_var=var, decay=0.0
    )
    # decay 0: the running mean is this batch's mean residual over the live steps, (4 + 6 + 8) / 3
    assert mean.item() == 6.0 and advantage.tolist() == [[-2.0, 0.0], [2.0, 4.0]]
    assert var.item() == pytest.approx((4 + 0 + 4) / 3)
    # the baselines' target is the signal less the running mean: [[-1, 1], [3, -]] against 1
    expected = ((torch.tensor([[-1.0, 1.0], [3.0, 0.0]]) - 1) ** 2 * alive).sum(
        -1
    ).mean() / var.sqrt().clamp(min=1) ** 2
    torch.testing.assert_close(error, expected)
    error.backward()
    assert baseline.grad[1, 1] == 0.0  # a step that did not draw teaches nothing
