"""Digit sets (foveate.data.digit_sets), the set models and the REINFORCE rule they share."""

import pytest
import torch

from foveate.data.digit_sets import digit_bags, pointer_sets
from foveate.data.mnist import load_mnist_sample
from foveate.models import create_model
from foveate.models.reinforce import HardAttentionLoss


def digits():
    return load_mnist_sample("train")


def test_pointer_sets_hold_nine_classes_and_the_query_among_them():
    images, labels = digits()
    sets = pointer_sets(images, labels, 500, generator=torch.Generator().manual_seed(0))
    assert sets.items.shape == (500, 9, 28, 28) and sets.mask.all()
    assert all(len(set(row.tolist())) == 9 for row in sets.labels)
    rows = torch.arange(500)
    assert torch.equal(sets.labels[rows, sets.target], sets.query)
    assert torch.equal(sets.relevant.nonzero()[:, 1], sets.target)
    # the answer's position is uniform over the nine
    assert torch.bincount(sets.target, minlength=9).min() > 500 / 9 / 2


def test_bags_are_half_positive_and_positive_exactly_when_they_hold_a_nine():
    images, labels = digits()
    bags = digit_bags(images, labels, 4000, generator=torch.Generator().manual_seed(0))
    sizes = bags.mask.sum(1)
    assert sizes.min() == 5 and sizes.max() == 15 and bags.items.shape[1] == 15
    assert torch.equal(bags.target, (bags.labels == 9).any(1).long())
    assert abs(bags.target.float().mean().item() - 0.5) < 0.03
    assert torch.equal(bags.labels >= 0, bags.mask)
    assert (bags.items[~bags.mask] == 0).all()
    # negative bags hold the other nine classes alike
    negative = bags.labels[(bags.target == 0)[:, None] & bags.mask]
    counts = torch.bincount(negative, minlength=10)
    assert counts[9] == 0 and counts[:9].min() > 0.8 * counts[:9].float().mean()


def test_bad_set_arguments_are_one_line_errors():
    images, labels = digits()
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="1 to 10 digits"):
        pointer_sets(images, labels, 4, size=11, generator=g)
    with pytest.raises(ValueError, match="least <= most"):
        digit_bags(images, labels, 4, sizes=(6, 5), generator=g)
    with pytest.raises(ValueError, match="no example of class"):
        pointer_sets(images[labels < 9], labels[labels < 9], 4, generator=g)


def test_the_baseline_is_a_moving_average_and_the_surrogate_is_eq_12():
    rule = HardAttentionLoss(reward_weight=2.0, entropy_weight=0.5, decay=0.9)
    reward = torch.tensor([1.0, 0.0])
    log_prob = torch.tensor([-1.0, -2.0], requires_grad=True)
    entropy = torch.tensor([0.3, 0.3])
    loss = rule(reward, log_prob, entropy)
    assert torch.isclose(rule.baseline, torch.tensor(0.05))  # 0.9 * 0 + 0.1 * 0.5
    advantage = reward - 0.05
    expected = -(2.0 * advantage * log_prob + 0.5 * entropy).mean()
    assert torch.isclose(loss, expected)
    loss.backward()
    assert torch.allclose(log_prob.grad, -2.0 * advantage / 2)
    rule.eval()
    rule(reward, log_prob.detach(), entropy)
    assert torch.isclose(rule.baseline, torch.tensor(0.05))  # evaluation leaves it


@pytest.mark.parametrize("name", ["pointer", "pointer_hard", "bags", "bags_hard"])
def test_a_few_hundred_steps_beat_chance(name):
    """Tiny end-to-end runs on the shipped sample: well above chance (1/9; 1/2)."""
    torch.manual_seed(0)
    images, labels = digits()
    make = pointer_sets if name.startswith("pointer") else digit_bags
    model = create_model(name, width=8, item_size=32, attention_size=16)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(1)
    for _ in range(150):
        sets = make(images, labels, 32, generator=generator)
        x = sets.items[:, :, None].float() / 255
        out = model(x, mask=sets.mask, query=sets.query)
        loss = model.loss(out, sets.target).total
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    held = make(images, labels, 500, generator=torch.Generator().manual_seed(2))  # new sets
    model.eval()
    out = model.answer(held.items[:, :, None].float() / 255, mask=held.mask, query=held.query)
    accuracy = (out.logits.argmax(-1) == held.target).float().mean().item()
    chance = 1 / 9 if name.startswith("pointer") else 0.5
    assert accuracy > chance + 0.25, accuracy


@pytest.mark.parametrize("name", ["pointer_hard", "bags_hard"])
def test_hard_attention_scores_stay_float32_under_bfloat16(name):
    """Rounded to bfloat16, REINFORCE's small score updates are lost (the hard pointer's
    weights collapsed onto one item in a bfloat16 run); the scores are kept in float32."""
    torch.manual_seed(0)
    images, labels = digits()
    make = pointer_sets if name.startswith("pointer") else digit_bags
    model = create_model(name, width=8, item_size=32, attention_size=16).train()
    scorer = model.f_att.weight if name == "pointer_hard" else model.pool.w  # the last layer
    scores = []
    scorer.register_forward_hook(lambda module, inputs, output: scores.append(output))
    sets = make(images, labels, 4, generator=torch.Generator().manual_seed(1))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(sets.items[:, :, None].float() / 255, mask=sets.mask, query=sets.query)
    assert [s.dtype for s in scores] == [torch.float32]
    assert out.log_prob.dtype == torch.float32
