"""Item-wise and grid attention (foveate.attention.items, .grid): known answers, gradients and
the hard draw's frequencies."""

import math

import pytest
import torch

from foveate.attention.grid import grid_hard_attention, grid_items, grid_soft_attention
from foveate.attention.items import (
    SCORES,
    AttentionPooling,
    Scorer,
    attention_weights,
    hard_attention,
    soft_attention,
)


def items(B: int = 3, N: int = 5, D: int = 4) -> torch.Tensor:
    return torch.randn(B, N, D, generator=torch.Generator().manual_seed(0))


def test_equal_scores_give_the_mean():
    values = items()
    out = soft_attention(torch.zeros(3, 5), values)
    assert torch.allclose(out.weights, torch.full((3, 5), 0.2))
    assert torch.allclose(out.context, values.mean(1), atol=1e-6)


def test_a_dominant_score_picks_its_item():
    values = items()
    scores = torch.zeros(3, 5)
    scores[torch.arange(3), torch.tensor([0, 2, 4])] = 100.0
    out = soft_attention(scores, values)
    assert torch.allclose(out.context, values[torch.arange(3), torch.tensor([0, 2, 4])])
    hard = hard_attention(scores, values, sample=False)
    assert hard.index.tolist() == [0, 2, 4]
    assert torch.equal(hard.context, values[torch.arange(3), hard.index])


def test_padded_items_get_no_weight_even_against_very_negative_scores():
    values = items()
    mask = torch.tensor([[True, True, False, False, False]] * 3)
    # Every real score is -1e30: a mask applied as a large negative score would tie with them.
    scores = torch.full((3, 5), -1e30)
    out = soft_attention(scores, values, mask)
    assert torch.equal(out.weights[:, 2:], torch.zeros(3, 3))
    assert torch.allclose(out.weights[:, :2], torch.full((3, 2), 0.5))
    assert torch.allclose(out.context, values[:, :2].mean(1), atol=1e-6)
    # Huge scores on the padding change nothing either.
    scores[:, 2:] = 1e30
    assert torch.allclose(soft_attention(scores, values, mask).weights, out.weights)


def test_a_row_without_items_gets_zero_weights_not_nan():
    mask = torch.tensor([[True, False], [False, False]])
    weights = attention_weights(torch.zeros(2, 2), mask)
    assert torch.equal(weights, torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="at least one real item"):
        hard_attention(torch.zeros(2, 2), torch.zeros(2, 2, 1), mask)


def test_a_wrong_mask_shape_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"mask must be \(3, 5\)"):
        soft_attention(torch.zeros(3, 5), items(), torch.ones(3, 4, dtype=torch.bool))


def test_the_hard_draw_follows_the_weights():
    torch.manual_seed(0)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.0])
    draws = 40000
    scores = probs.clamp_min(1e-12).log().expand(draws, 5)
    mask = (probs > 0).expand(draws, 5)
    out = hard_attention(
        scores, torch.zeros(draws, 5, 1), mask, generator=torch.Generator().manual_seed(1)
    )
    frequency = torch.bincount(out.index, minlength=5).float() / draws
    # Four binomial standard errors at most (sqrt(p(1-p)/n) <= 0.0025).
    assert torch.allclose(frequency, probs, atol=0.01)
    assert frequency[4] == 0  # a padded item is never drawn
    entropy = -(probs[:4] * probs[:4].log()).sum()
    assert torch.allclose(out.entropy, entropy.expand(draws), atol=1e-5)
    assert torch.allclose(out.log_prob, probs.clamp_min(1e-12).log()[out.index], atol=1e-5)


def test_the_draw_is_repeatable_with_a_generator():
    scores = torch.randn(64, 7)
    first = hard_attention(scores, items(64, 7), generator=torch.Generator().manual_seed(3))
    again = hard_attention(scores, items(64, 7), generator=torch.Generator().manual_seed(3))
    assert torch.equal(first.index, again.index)


def test_reinforce_through_log_prob_moves_weight_to_the_rewarded_item():
    scores = torch.zeros(1, 4, requires_grad=True)
    optimiser = torch.optim.SGD([scores], lr=0.5)
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        out = hard_attention(scores.expand(16, 4), torch.zeros(16, 4, 1), generator=generator)
        reward = (out.index == 2).float()
        loss = -((reward - reward.mean()) * out.log_prob).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert attention_weights(scores)[0, 2] > 0.9


@pytest.mark.parametrize("kind", SCORES)
def test_every_score_is_batched_and_gives_gradients(kind):
    torch.manual_seed(0)
    scorer = Scorer(kind, item_size=4, context_size=4, hidden=8).double()
    values = items().double().requires_grad_()
    context = torch.randn(3, 4, dtype=torch.double, requires_grad=True)
    scores = scorer(values, context)
    assert scores.shape == (3, 5)
    # Item by item, each score is the same function of its item and the context.
    one = torch.stack([scorer(values[:, n : n + 1], context)[:, 0] for n in range(5)], 1)
    assert torch.allclose(scores, one)

    def attend(values, context):
        return soft_attention(scorer(values, context), values).context

    assert torch.autograd.gradcheck(attend, (values, context))


def test_the_scores_known_answers():
    values = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    context = torch.tensor([[3.0, 1.0]])
    dot = Scorer("dot", item_size=2, context_size=2)
    assert torch.allclose(dot(values, context), torch.tensor([[3.0, 2.0]]))
    scaled = Scorer("scaled_dot", item_size=2, context_size=2)
    assert torch.allclose(scaled(values, context), torch.tensor([[3.0, 2.0]]) / math.sqrt(2))
    bilinear = Scorer("bilinear", item_size=2, context_size=2)
    with torch.no_grad():
        bilinear.weight.weight.copy_(torch.eye(2))
    assert torch.allclose(bilinear(values, context), dot(values, context))


def test_a_dot_score_refuses_sizes_that_differ():
    with pytest.raises(ValueError, match="one size"):
        Scorer("dot", item_size=4, context_size=3)
    with pytest.raises(ValueError, match="unknown score"):
        Scorer("cosine", item_size=4, context_size=4)


@pytest.mark.parametrize("gated", [False, True])
def test_attention_pooling_weights_the_items_and_ignores_padding(gated):
    torch.manual_seed(0)
    pool = AttentionPooling(4, hidden=8, gated=gated).double()
    values = items().double().requires_grad_()
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] + [False] * 4])
    out = pool(values, mask)
    assert out.context.shape == (3, 4)
    assert torch.allclose(out.weights.sum(-1), torch.ones(3, dtype=torch.double))
    assert torch.equal(out.weights[2], torch.tensor([1.0, 0, 0, 0, 0], dtype=torch.double))
    # A pooled set does not depend on the order of its items.
    order = torch.tensor([4, 2, 0, 1, 3])
    assert torch.allclose(pool(values[:, order]).context, pool(values).context)
    assert torch.autograd.gradcheck(lambda v: pool(v, mask).context, (values,))


def test_grid_attention_is_item_attention_over_the_cells():
    torch.manual_seed(0)
    features = torch.randn(2, 3, 4, 5)  # (B, D, H, W)
    cells = grid_items(features)
    assert cells.shape == (2, 20, 3)
    assert torch.equal(cells[:, 1 * 5 + 2], features[:, :, 1, 2])  # row-major
    scores = torch.full((2, 4, 5), -10.0)
    scores[0, 1, 2] = scores[1, 3, 4] = 10.0
    soft = grid_soft_attention(scores, features)
    assert soft.map.shape == (2, 4, 5)
    assert torch.allclose(soft.map.sum((1, 2)), torch.ones(2))
    assert torch.allclose(soft.context[0], features[0, :, 1, 2], atol=1e-5)
    hard = grid_hard_attention(scores, features, sample=False)
    assert hard.cell.tolist() == [[1, 2], [3, 4]]
    assert torch.equal(hard.context[1], features[1, :, 3, 4])
    with pytest.raises(ValueError, match=r"scores must be \(2, 4, 5\)"):
        grid_soft_attention(torch.zeros(2, 20), features)


def test_a_grid_mask_keeps_attention_off_masked_cells():
    features = torch.randn(1, 2, 3, 3)
    mask = torch.zeros(1, 3, 3, dtype=torch.bool)
    mask[0, 0, 0] = True
    out = grid_soft_attention(torch.randn(1, 3, 3), features, mask)
    assert out.map[0, 0, 0] == 1 and out.map.sum() == 1
    assert torch.allclose(out.context[0], features[0, :, 0, 0])
