"""The show-attend-tell reader (foveate.models.reader) and its evaluation (training.reading)."""

import pytest
import torch

from foveate.models import create_model
from foveate.models.reader import Reader, ReaderOutput, tokens_from_labels
from foveate.training.reading import ReaderModule, peaks_on_digits

TINY = dict(encoder_widths=(4, 4, 8, 8), lstm_size=16, embed_size=8, attention_size=8)


def reader(name: str = "reader", **kwargs):
    torch.manual_seed(0)
    return create_model(name, image_size=(36, 156), max_length=5, **TINY, **kwargs)


def rows(B: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.rand(B, 1, 36, 156, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor(
        [[3, 1, 4, -1, -1], [1, 5, 9, 2, 6], [7, -1, -1, -1, -1], [0, 0, -1, -1, -1]]
    )
    return images, tokens_from_labels(labels[:B], end=10)


def test_tokens_end_after_the_last_digit():
    labels = torch.tensor([[3, 1, -1], [2, 7, 1], [5, -1, -1]])
    assert tokens_from_labels(labels, end=10).tolist() == [
        [3, 1, 10, -1],
        [2, 7, 1, 10],
        [5, 10, -1, -1],
    ]


def test_peaks_on_digits_known_answer():
    # one row of two digits: boxes over columns [0, 28) and [30, 58); the grid is 8 pixels a cell
    boxes = torch.tensor([[[0.0, 4, 28, 32], [30, 4, 58, 32]]])
    maps = torch.zeros(1, 3, 4, 19)
    maps[0, 0, 1, 1] = 1  # cell centre x = 12: on digit 0
    maps[0, 1, 2, 1] = 1  # x = 12 again: on digit 0, not digit 1
    on = peaks_on_digits(maps, boxes, torch.tensor([2]))
    assert on.tolist() == [[True, False]]
    maps[0, 1, 2, 5] = 2  # x = 44: on digit 1
    assert peaks_on_digits(maps, boxes, torch.tensor([2])).tolist() == [[True, True]]
    # a shorter row ignores the steps past its end
    assert peaks_on_digits(maps, boxes, torch.tensor([1])).tolist() == [[True, False]]


@pytest.mark.parametrize("name", ["reader", "reader_hard", "reader_none"])
def test_shapes_and_a_greedy_reading(name):
    model = reader(name).eval()
    images, tokens = rows()
    out = model(images, tokens=tokens)
    assert out.logits.shape == (4, 6, 11)
    if name == "reader_none":
        assert out.maps is None
    else:
        assert out.maps.shape == (4, 6, 4, 19)
        assert torch.allclose(out.maps.sum((2, 3)), torch.ones(4, 6))
    read, _ = model.read(images)
    assert read.shape == (4, 6)
    ended = (read == 10).cumsum(1)
    assert (read[ended - (read == 10).long() > 0] == -1).all()  # nothing after the end
    reading = model.reading(images)
    if reading.maps is not None:
        assert reading.maps.shape == (4, 6, 36, 156)
        assert torch.allclose(reading.maps.sum((2, 3)), torch.ones(4, 6))


def test_the_hard_reader_draws_with_its_noise_and_reinforce_trains_only_the_scores():
    model = reader("reader_hard").train()
    images, tokens = rows()
    noise = model.sample_noise(images)
    noise[:, 0] = 1.0  # no row takes the expectation
    first, again = model(images, noise, tokens=tokens), model(images, noise, tokens=tokens)
    assert torch.equal(first.logits, again.logits)
    loss = model.loss(first, tokens)
    model.zero_grad()
    loss.reinforce.backward()
    # REINFORCE reaches the encoder (the scores read its features) and f_att, never the output
    assert model.f_att.v.weight.grad.abs().sum() > 0
    assert model.L_o.weight.grad is None or model.L_o.weight.grad.abs().sum() == 0
    # and a row that took the expectation has no log-probability to reinforce
    noise[:2, 0] = 0.0
    out = model(images, noise, tokens=tokens)
    assert (out.log_probs[:2] == 0).all() and (out.log_probs[2:] != 0).any()


def test_a_step_reward_pays_each_draw_by_its_own_tokens_likelihood():
    model = reader("reader_hard", reward="step", entropy_weight=0.5).train()
    images, tokens = rows()
    noise = model.sample_noise(images)
    noise[:, 0] = 1.0
    out = model(images, noise, tokens=tokens)
    real = tokens >= 0
    token_ll = -torch.nn.functional.cross_entropy(
        out.logits.transpose(1, 2), tokens.clamp_min(0), reduction="none"
    )[real]
    baseline = 0.1 * token_ll.mean()  # one update of b <- 0.9 b + 0.1 mean(R) from b = 0
    expected = -((token_ll - baseline) * out.log_probs[real] + 0.5 * out.entropy[real]).mean()
    assert torch.allclose(model.loss(out, tokens).reinforce, expected, atol=1e-5)


def test_the_doubly_stochastic_penalty_is_eq_14():
    model = reader(doubly_stochastic=2.0).train()
    images, tokens = rows(1)  # 3 digits and the end: 4 steps read
    out = model(images, tokens=tokens)
    attended = out.maps[0, :4].sum(0)
    expected = 2.0 * ((1 - attended) ** 2).sum()
    assert torch.allclose(model.loss(out, tokens).penalty, expected)


def test_a_row_counts_as_correct_only_when_every_token_is():
    model = reader().eval()
    images, tokens = rows()
    out = model(images, tokens=tokens)
    logits = torch.full_like(out.logits, -10.0)
    logits.scatter_(2, tokens.clamp_min(0)[..., None], 10.0)
    out.logits = logits
    assert model.loss(out, tokens).correct.tolist() == [1, 1, 1, 1]
    out.logits[1, 2] = 0  # row 1's third digit now argmaxes to token 0, not 9
    assert model.loss(out, tokens).correct.tolist() == [1, 0, 1, 1]


def test_bad_arguments_are_one_line_errors():
    with pytest.raises(ValueError, match="fixes attention"):
        create_model("reader", attention="hard")  # the registered name fixes it
    with pytest.raises(ValueError, match="attention must be one of"):
        Reader(attention="sharp")
    with pytest.raises(ValueError, match="expectation_prob"):
        reader("reader_hard", expectation_prob=1.5)
    with pytest.raises(ValueError, match="reward must be 'row' or 'step'"):
        reader("reader_hard", reward="sentence")
    with pytest.raises(ValueError, match="built for 36x156"):
        reader().check_input_size(28, 28)


def test_evaluation_counts_rows_digits_and_lengths_known_answer():
    module = ReaderModule(model="reader", model_args=dict(image_size=(36, 156), **TINY))
    labels = torch.tensor([[3, 1, 4, -1, -1], [1, 5, 9, 2, 6], [7, -1, -1, -1, -1]])
    answer = tokens_from_labels(labels, end=10)
    answer[1, 2] = 0  # row 1 misreads its third digit: 4 of its 5 digits right
    answer[2, 1:4] = torch.tensor([2, 10, -1])  # row 2 reads a digit too many, then ends
    output = ReaderOutput(logits=torch.zeros(3, 6, 11))
    module.model.read = lambda images: (answer, output)
    truth = {"labels": labels, "lengths": torch.tensor([3, 5, 1]), "boxes": torch.zeros(3, 5, 4)}
    metrics = module.batch_metrics((torch.zeros(3, 1, 36, 156), truth), "test")
    assert metrics["sequence_accuracy_pct"][0].item() == pytest.approx(100 / 3)
    assert metrics["digit_accuracy_pct"][0].item() == pytest.approx(100 * 8 / 9)
    assert metrics["digit_accuracy_pct"][1] == 9
    assert metrics["length_accuracy_pct"][0].item() == pytest.approx(200 / 3)


def test_the_reading_table_grows_with_the_steps_and_says_what_each_panel_shows():
    import matplotlib.pyplot as plt

    from foveate.models.interface import Reading
    from foveate.reports.readings import reading_table

    names = tuple("0123456789") + ("end",)
    images = torch.rand(2, 1, 36, 156)
    sizes = []
    for length in (1, 4):
        tokens = torch.full((2, 6), -1)
        tokens[:, :length] = 3
        tokens[:, length] = 10
        maps = torch.full((2, 6, 36, 156), 1 / (36 * 156))
        labels = torch.tensor([[3] * length + [-1] * (5 - length)] * 2)
        figure = reading_table(images, Reading(tokens, names, maps), labels=labels)
        panels = figure.axes
        assert len(panels) == 2 * (length + 1)  # a column per step, the end included
        assert panels[0].get_title() == "step 1 read: 3"
        assert panels[length].get_title() == f"step {length + 1} read: end"
        assert panels[0].texts[0].get_text() == "true\n" + " ".join(["3"] * length)
        assert "attended" in figure.get_suptitle()
        sizes.append(figure.get_size_inches())
        plt.close(figure)
    (narrow, rows), (wide, same_rows) = sizes
    assert wide - narrow > 3 * 3.0 and rows == same_rows  # three steps more, over 3 inches each
    assert rows / 2 > 1.0  # a row of a wide strip of digits is over an inch tall
