"""The scene figures: a panel per scene and step, windows drawn only for the steps present."""

import numpy as np
import torch
from PIL import Image

from foveate.models.interface import Decomposition
from foveate.reports.figures import FigureContext
from foveate.reports.scenes import (
    STEP_COLOURS,
    scene_animation,
    scene_grid,
    scene_steps,
    scenes_with_objects,
)
from foveate.reports.show_scenes import scene_figures


def decomposition(n: int = 2, steps: int = 3, size: int = 20) -> tuple[torch.Tensor, Decomposition]:
    images = torch.zeros(n, 1, size, size)
    images[:, :, 5:10, 5:10] = 1
    present = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])[:n, :steps]
    square = torch.tensor([[4.0, 4.0], [11.0, 4.0], [11.0, 11.0], [4.0, 11.0]])
    outlines = square.expand(n, steps, 4, 2).clone()
    canvases = images[:, None].expand(n, steps, 1, size, size).clone()
    return images, Decomposition(present=present, outlines=outlines, canvases=canvases)


def colour_pixels(path, colour: str) -> int:
    """How many pixels of the PNG have the hue of ``colour`` (a '#rrggbb' step colour), however
    blended with the black or white around the line."""
    pixels = torch.tensor(np.array(Image.open(path).convert("RGB"))).reshape(-1, 3).float()
    target = torch.tensor([int(colour[i : i + 2], 16) for i in (1, 3, 5)]).float()
    chroma = pixels - pixels.amin(-1, keepdim=True)  # grey (black, white) has none
    hue = torch.nn.functional.cosine_similarity(chroma, target - target.min(), dim=-1)
    return int(((hue > 0.98) & (chroma.amax(-1) > 60)).sum())


def test_the_steps_figure_has_a_column_per_step_and_draws_present_windows_only(tmp_path):
    images, scenes = decomposition()
    path = scene_steps(tmp_path / "steps.png", images, scenes)
    width, height = Image.open(path).size
    assert abs(width / height - (1 + 3) / 2) < 0.1  # 4 columns, 2 rows of square panels
    assert colour_pixels(path, STEP_COLOURS[0]) > 20  # both scenes' first window
    assert colour_pixels(path, STEP_COLOURS[1]) > 10  # the first scene's second
    assert colour_pixels(path, STEP_COLOURS[2]) == 0  # no scene has a third object


def test_the_grid_and_the_animation_are_written(tmp_path):
    images, scenes = decomposition()
    grid = scene_grid(tmp_path / "grid.png", images, scenes, counts=torch.tensor([2, 1]))
    gif = scene_animation(tmp_path / "steps.gif", images, scenes)
    assert colour_pixels(grid, STEP_COLOURS[1]) > 10 and colour_pixels(grid, STEP_COLOURS[2]) == 0
    assert Image.open(gif).n_frames == 3


def test_the_scenes_chosen_hold_an_object_and_empty_ones_only_fill_a_shortfall():
    counts = torch.tensor([0, 2, 0, 1, 0, 3])
    assert scenes_with_objects(counts, 3).tolist() == [1, 3, 5]
    assert (counts[scenes_with_objects(counts, 2)] >= 1).all()
    assert scenes_with_objects(counts, 5).tolist() == [1, 3, 5, 0, 2]  # too few: empties after
    assert scenes_with_objects(torch.zeros(4, dtype=torch.long), 2).tolist() == [0, 1]


class Decomposer(torch.nn.Module):
    """A stand-in scene model that remembers the scenes it was shown."""

    def decompose(self, images: torch.Tensor) -> Decomposition:
        self.seen = images
        n, _, size, _ = images.shape
        square = torch.tensor([[4.0, 4.0], [11.0, 4.0], [11.0, 11.0], [4.0, 11.0]])
        return Decomposition(
            present=torch.ones(n, 2),
            outlines=square.expand(n, 2, 4, 2).clone(),
            canvases=images[:, None].expand(n, 2, 1, size, size).clone(),
        )


def test_show_draws_scenes_with_objects_unless_empty_ones_are_asked_for(tmp_path):
    counts = torch.tensor([0, 2, 0, 0, 1, 3, 0, 1])
    images = torch.arange(8.0)[:, None, None, None].expand(8, 1, 20, 20) / 8  # scene b is b / 8
    model = Decomposer()
    for empty, shown in ((False, [1, 4, 5]), (True, [0, 1, 2])):
        context = FigureContext(tmp_path, images=3, seed=0, config=None, empty_scenes=empty)
        context.test_batch = (images, {"count": counts, "classes": torch.zeros(8, 3)})
        paths = scene_figures(model, context)
        assert [p.name for p in paths] == ["scenes.png", "scenes.gif", "scene_steps.png"]
        seen = (model.seen[:, 0, 0, 0] * 8).round().long()
        assert seen.tolist() == shown
        assert (counts[seen] >= 1).all() != empty  # the first three hold an empty scene
