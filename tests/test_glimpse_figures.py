"""The glimpse figures (foveate.reports.glimpses): one window per glimpse unless every scale is
asked for, a colourbar naming the glimpses' order, and numbers that do not pile up."""

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Polygon

from foveate.models.interface import boxes_to_outlines
from foveate.reports.glimpses import GlimpseEpisodes, glimpse_grid, glimpse_panels


def episodes(n: int = 3, steps: int = 8, scales: int = 3) -> GlimpseEpisodes:
    """A retina's windows: at each step, ``scales`` squares around one centre, each twice the
    last, the centres all near the middle (where an untrained model's glimpses pile up)."""
    centres = 14 + torch.randn(n, steps, 1, 2, generator=torch.Generator().manual_seed(0))
    half = 4 * 2 ** torch.arange(scales).float()[:, None]  # (K, 1): 4, 8, 16 pixels
    boxes = torch.cat([centres - half, centres + half], -1)  # (N, T, K, 4) left, top, right, bottom
    return GlimpseEpisodes(
        images=torch.rand(n, 28, 28),
        outlines=boxes_to_outlines(boxes),
        views=None,
        predictions=torch.tensor([1, 2, 3])[:n],
        labels=torch.tensor([1, 0, 3])[:n],
    )


def panels(figure: plt.Figure) -> list[plt.Axes]:
    return [ax for ax in figure.axes if ax.get_label() != "<colorbar>" and ax.images]


def windows(ax: plt.Axes) -> int:
    return sum(isinstance(patch, Polygon) for patch in ax.patches)


def test_each_glimpse_draws_its_finest_window_unless_every_window_is_asked_for():
    drawn = episodes(steps=8, scales=3)
    figure = glimpse_panels(drawn, steps=8)
    assert [windows(ax) for ax in panels(figure)] == [8, 8, 8]
    plt.close(figure)
    figure = glimpse_panels(drawn, steps=8, every_window=True)
    assert [windows(ax) for ax in panels(figure)] == [24, 24, 24]
    plt.close(figure)


def test_a_colourbar_names_the_order_and_only_the_first_and_last_glimpses_are_numbered():
    figure = glimpse_panels(episodes(steps=8), steps=8)
    (bar,) = [ax for ax in figure.axes if ax.get_label() == "<colorbar>"]
    assert "glimpse" in bar.get_ylabel()
    assert [int(tick) for tick in bar.get_yticks()] == list(range(1, 9))
    for ax in panels(figure):
        assert sorted(text.get_text() for text in ax.texts) == ["1", "8"]
    plt.close(figure)
    figure = glimpse_panels(episodes(steps=8), steps=3)  # an animation's third frame
    assert all(sorted(t.get_text() for t in ax.texts) == ["1", "3"] for ax in panels(figure))
    plt.close(figure)


def test_one_step_needs_no_colourbar_nor_numbers(tmp_path):
    drawn = episodes(steps=1, scales=1)
    figure = glimpse_panels(drawn, steps=1)
    assert all(ax.get_label() != "<colorbar>" for ax in figure.axes)
    assert all(not ax.texts and windows(ax) == 1 for ax in panels(figure))
    plt.close(figure)
    assert glimpse_grid(tmp_path / "glimpses.png", drawn).stat().st_size > 1_000
