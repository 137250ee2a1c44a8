"""REINFORCE with a baseline, shared by the models that draw where to attend: RAM's episodes of
glimpses (and its agent's moves), and hard item-wise attention with a moving-average baseline
(the reader's cell, the pointer's and the bag's item).

Williams, "Simple statistical gradient-following algorithms for connectionist reinforcement
learning", Machine Learning 1992; Mnih et al., "Recurrent Models of Visual Attention", NIPS 2014,
eq. 2: the gradient of sum_t log pi(u_t | s_t) (R_t - b_t), with b_t trained towards R_t.

Xu et al., "Show, Attend and Tell", ICML 2015, sec. 4.1, eq. 12: the gradient of
lambda_r (R - b) log p(s) + lambda_e H(alpha) for a drawn attention s with reward R, where b is
a moving average of R (b <- 0.9 b + 0.1 R in the paper).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def episode_reinforce(
    log_probs: Tensor,
    returns: Tensor,
    baselines: Tensor,
    *,
    advantage: Tensor | None = None,
    alive: Tensor | None = None,
    normalise: bool = False,
) -> tuple[Tensor, Tensor]:
    """REINFORCE's surrogate and the baseline's squared error for B episodes of T steps.

    Args:
        log_probs: (B, T) log pi of each step's draws (summed over the draws of a step).
        returns: (B, T) R_t, what each step's draws are credited with (detached).
        baselines: (B, T) b_t, trained towards R_t; detached in the advantage.
        advantage: (B, T) to use instead of R_t - b_t (another baseline, or a rescaled one).
        alive: (B, T) 1 at the steps an episode was still going; None: every step.
        normalise: divide the advantages by their standard deviation over the live steps, so
            that the policy's step keeps its size whether a batch's returns spread widely or
            hardly at all (not in Williams 1992 or Mnih et al. 2014).

    Returns:
        (reinforce, baseline): scalars; reinforce = -mean_b sum_t log pi (R_t - b_t) alive_t,
        baseline = the mean over live steps of (b_t - R_t)^2.
    """
    returns = returns.detach()
    if advantage is None:
        advantage = returns - baselines.detach()
    if alive is None:
        alive = torch.ones_like(returns)
    if normalise:
        live = advantage[alive.bool()]
        # one live step has no spread: leave it as it is
        advantage = advantage / (live.std() + 1e-6) if live.numel() > 1 else advantage
    reinforce = -(log_probs * advantage.detach() * alive).sum(1).mean()
    baseline = ((baselines - returns).square() * alive).sum() / alive.sum()
    return reinforce, baseline


def summed_over_processes(total: Tensor) -> Tensor:
    """``total``, a sum over this process's share of a batch, summed (in place) over every
    process of a data-parallel run, so that a statistic made of such sums (a mean, a variance)
    is the whole batch's in every process, as one process on the whole batch would compute it;
    ``total`` itself where torch.distributed is not initialised (one process). Every process
    must call it at the same point, as the training step does."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(total)
    return total


def nvil_signal(
    signal: Tensor,
    baseline: Tensor,
    alive: Tensor,
    *,
    running_mean: Tensor,
    running_var: Tensor,
    decay: float,
) -> tuple[Tensor, Tensor]:
    """The centred learning signal of a discrete latent drawn at each of N steps, and its
    baselines' regression error, as AIR's z_pres uses them (Mnih & Gregor, "Neural Variational
    Inference and Learning in Belief Networks", ICML 2014, sec. 3.2-3.3).

    NVIL centres the signal l by a constant C and an input-dependent baseline b(x): the
    advantage is l - C - b(x), C a running mean of l - b(x), and b is trained to minimise
    E[(l - C - b(x))^2]. So b learns only how the signal varies from input to input; the level,
    hundreds of nats in a pixel likelihood, is C's. (A baseline made to predict l itself spends
    thousands of steps climbing to that level, one learning-rate step at a time, before it
    explains any variation.)

    signal: (B, N) l, what each step's draw can change of the bound (held fixed). baseline:
    (B, N) b(x), the baselines' predictions, with their graph. alive: (B, N) 1 where the step
    drew. running_mean, running_var: () buffers, C and the running variance of l - C - b(x),
    updated in place with ``decay``; at their initial values, 0 and 1, they start at the batch's.

    Returns (advantage (B, N), no graph; the baselines' squared error, in units of the running
    standard deviation, summed over steps and averaged over the batch). The advantage is
    centred, not divided by the running standard deviation as NVIL's is: AIR differentiates the
    KL of z_pres exactly beside this estimate, and dividing only the estimate by a standard
    deviation of a hundred nats would make the prior's pull a hundred times the likelihood's
    (docs/air.md).
    """
    with torch.no_grad():
        residual = signal - baseline
        # Moments of the whole batch: under data parallelism, of every process's share of it,
        # as one process on the whole batch has them (tests/test_ddp_gradients.py).
        count = summed_over_processes(alive.sum()).clamp(min=1)
        mean = summed_over_processes((residual * alive).sum()) / count
        var = summed_over_processes(((residual - mean).square() * alive).sum()) / count
        # Buffers still at their initial (0, 1) have seen no batch: they start at this one's
        # moments. Climbing from 0 to a level of hundreds of nats instead would feed the
        # baselines' optimiser gradients that its second-moment estimate remembers for
        # thousands of steps (tests/test_nvil.py).
        fresh = (running_mean == 0) & (running_var == 1)
        running_mean.copy_(torch.where(fresh, mean, decay * running_mean + (1 - decay) * mean))
        running_var.copy_(torch.where(fresh, var, decay * running_var + (1 - decay) * var))
        advantage = residual - running_mean
        target = signal - running_mean  # what b(x) should predict: l - C
    # In units of the running std: its size then says how well the baselines predict,
    # whatever the scale of the likelihood (about 1 a step for a baseline that explains nothing).
    scale = running_var.sqrt().clamp(min=1.0)
    baseline_error = (alive * ((target - baseline) / scale).square()).sum(-1).mean()
    return advantage, baseline_error


class HardAttentionLoss(nn.Module):
    """The REINFORCE rule of hard attention (Xu et al. 2015, eq. 12), with the moving-average
    baseline b <- decay b + (1 - decay) mean(R) kept as a buffer."""

    def __init__(
        self, *, reward_weight: float = 1.0, entropy_weight: float = 0.01, decay: float = 0.9
    ) -> None:
        super().__init__()
        self.reward_weight, self.entropy_weight, self.decay = reward_weight, entropy_weight, decay
        self.register_buffer("baseline", torch.zeros(()))

    def forward(self, reward: Tensor, log_prob: Tensor, entropy: Tensor) -> Tensor:
        """reward, log_prob, entropy: (B,) -> the scalar surrogate (its gradient is REINFORCE's)."""
        reward = reward.detach()
        if self.training:
            self.baseline.mul_(self.decay).add_((1 - self.decay) * reward.mean())
        advantage = reward - self.baseline
        return -(self.reward_weight * advantage * log_prob + self.entropy_weight * entropy).mean()
