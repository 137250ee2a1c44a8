"""What training, evaluation and figures use of a model, written down once.

Every registered model is a plain ``nn.Module`` that satisfies ``Model``. What else it can do is
said by capabilities: runtime-checkable Protocols that the harness asks for with ``isinstance``,
never by a model's name. The ones below are those that the models here share (``Stochastic``,
``Classifier``, ``Attends``, ``Generative``, ...); they are not a list that a new kind must join:
a kind may define its own Protocol beside its model and register what goes with it, such as its
figures (``foveate.reports.figures.register_figures``).

Shapes: B images of C channels, H x W pixels; T steps (glimpses, windows, objects); K windows
per step (a retina's scales, or one filter grid or sampling grid).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class Model(Protocol):
    """What every registered model offers.

    ``forward(images, *draws)`` maps images (B, C, H, W) in [0, 1] (and, for a stochastic
    model, its random draws) to an output dataclass; ``loss(output, targets)`` returns a
    dataclass whose ``total`` is the scalar to minimise and whose other scalar fields are its
    named parts (logged as ``train/<name>``). ``targets`` are class labels (B,) for a
    classifier and the images themselves for a model of images.
    """

    def forward(self, images: Tensor, *draws: Tensor) -> Any: ...

    def loss(self, output: Any, targets: Tensor) -> Any: ...


@runtime_checkable
class Stochastic(Protocol):
    """A model whose forward pass draws random numbers.

    ``sample_noise(images)`` makes every draw of one forward pass over images (B, C, H, W), so
    that the training loop can make them outside a compiled graph (whose backward pass may
    recompute random operations) and pass them to ``forward(images, noise)``.
    """

    def sample_noise(self, images: Tensor) -> Tensor: ...


@runtime_checkable
class FollowsProgress(Protocol):
    """A model some of whose settings follow training's progress (RAM's annealed policy std):
    ``set_progress(fraction)``, ``fraction`` in [0, 1] the share of training steps done, is
    called before every training step."""

    def set_progress(self, fraction: float) -> None: ...


@runtime_checkable
class Classifier(Protocol):
    """A model that names a class: ``predict_proba(images, samples=M)`` -> (B, num_classes),
    averaging M stochastic passes (a deterministic model ignores M)."""

    num_classes: int

    def predict_proba(self, images: Tensor, *, samples: int = 1) -> Tensor: ...


@runtime_checkable
class Attends(Protocol):
    """A model that can say where it looked: ``attended(images, output)`` -> ``Glimpses``."""

    def attended(self, images: Tensor, output: Any) -> Glimpses: ...


@runtime_checkable
class Generative(Protocol):
    """A model of images that can draw new ones: ``generate(count, generator=...)`` returns a
    ``Drawing``."""

    def generate(self, count: int, *, generator: torch.Generator | None = None) -> Drawing: ...


@runtime_checkable
class Decomposes(Protocol):
    """A model that explains a scene object by object: ``decompose(images)`` ->
    ``Decomposition``."""

    def decompose(self, images: Tensor) -> Decomposition: ...


@runtime_checkable
class InfersPoses(Protocol):
    """A model that names the objects of a rendered scene and how they lie: ``poses(images)``
    -> ``Poses`` (AIR inverting the renderer, and the supervised network beside it)."""

    def poses(self, images: Tensor) -> Poses: ...


@runtime_checkable
class AnswersSets(Protocol):
    """A model over sets of items (B, K, C, h, w): ``answer(items, mask=..., query=...)`` -> an
    output whose ``logits`` (B, A) give its most likely answer and whose ``weights`` (B, K) are
    the attention it put on the items (None without attention)."""

    def answer(
        self, items: Tensor, *, mask: Tensor | None = None, query: Tensor | None = None
    ) -> Any: ...


@runtime_checkable
class Reads(Protocol):
    """A model that reads an image as a sequence of tokens, attending somewhere at each step:
    ``reading(images)`` -> ``Reading``."""

    def reading(self, images: Tensor) -> Reading: ...


@runtime_checkable
class Plays(Protocol):
    """An agent in a game: ``initial_state(games, device)``, then ``forward(screens, state,
    generator=..., greedy=...)`` once per step (an ``AgentStep``-like output with ``state``,
    ``location`` and ``action``); ``glimpse_outlines(locations, height, width)`` turns its
    locations (..., 2) into the corners of its windows (..., K, 4, 2) in pixels."""

    def initial_state(self, games: int, device: torch.device) -> Any: ...

    def glimpse_outlines(self, locations: Tensor, height: int, width: int) -> Tensor: ...


@dataclass
class Reading:
    """What a reader read on B images in T steps.

    tokens: (B, T) the token read at each step, -1 after the end.
    names: the tokens' names for people, by index (the digits, then 'end').
    maps: (B, T, H, W) where each step attended, in the input's pixels (each step's map sums to
        one), or None for a reader without attention.
    """

    tokens: Tensor
    names: tuple[str, ...]
    maps: Tensor | None = None


@dataclass
class Poses:
    """The objects a model found in B rendered scenes, N at most, in ``foveate.render``'s terms.

    identity: (B, N) long, an index into ``foveate.render.SHAPES``. position: (B, N, 2) as
    (x, z) on the ground plane. rotation: (B, N) radians about the vertical axis. present:
    (B, N) bool, the objects found (the first ones).
    """

    identity: Tensor
    position: Tensor
    rotation: Tensor
    present: Tensor


@dataclass
class Decomposition:
    """A scene explained in T steps, one object per step at most, B images.

    present: (B, T) 1 where step t found an object, else 0 (once 0, 0 for the rest).
    outlines: (B, T, 4, 2) the corners (x, y) of each step's window in pixels (TL, TR, BR, BL),
        meaningful where present.
    canvases: (B, T, C, H, W) the reconstruction after each step.
    """

    present: Tensor
    outlines: Tensor
    canvases: Tensor


@dataclass
class Glimpses:
    """Where a model looked on B images over T steps, in pixel units of the input.

    outlines: (B, T, K, 4, 2) the corners (x, y) of each of K windows at each step, in the
        order top-left, top-right, bottom-right, bottom-left (pixel i covers [i, i + 1)); a
        rotated or sheared sampling grid is a general quadrilateral.
    views: (B, T, C, h, w) what the model saw at each step (its finest patch, its glimpse, its
        transformed image), or None.
    """

    outlines: Tensor
    views: Tensor | None = None


@dataclass
class Drawing:
    """Images drawn by a generative model: canvases (N, T, C, H, W) after each of T steps, in
    [0, 1]; outlines (N, T, 4, 2) of the window written at each step, or None."""

    canvases: Tensor
    outlines: Tensor | None = None


@dataclass
class ClassifierLoss:
    """A classifier's loss: total, the cross-entropy (scalar); correct, (B,) 1 where the
    predicted class is right."""

    total: Tensor
    correct: Tensor


def boxes_to_outlines(boxes: Tensor) -> Tensor:
    """Axis-aligned boxes (..., 4) as (left, top, right, bottom) -> corners (..., 4, 2)."""
    left, top, right, bottom = boxes.unbind(-1)
    return torch.stack(
        [
            torch.stack([left, top], -1),
            torch.stack([right, top], -1),
            torch.stack([right, bottom], -1),
            torch.stack([left, bottom], -1),
        ],
        -2,
    )


def points_inside(corners: Tensor, points: Tensor) -> Tensor:
    """Whether each point lies inside (or on) its convex quadrilateral.

    corners: (..., 4, 2) the (x, y) corners in order around the quadrilateral (as
    ``Glimpses.outlines``); points: (..., 2) as (x, y), broadcast against ``corners[..., 0, :]``.
    Returns (...) booleans.
    """
    edge = corners.roll(-1, dims=-2) - corners  # (..., 4, 2)
    to_point = points[..., None, :] - corners
    cross = edge[..., 0] * to_point[..., 1] - edge[..., 1] * to_point[..., 0]  # (..., 4)
    # inside a convex polygon: on the same side of every edge, whichever way round it runs
    return (cross >= 0).all(-1) | (cross <= 0).all(-1)


def loss_parts(loss: Any) -> dict[str, Tensor]:
    """A loss dataclass as a dict of its fields (a shape that ``torch.compile`` passes through)."""
    return {f.name: getattr(loss, f.name) for f in fields(loss)}


def check_input(
    model: object, tensor: Tensor, expected: tuple[int | str, ...], *, what: str = "images"
) -> None:
    """Refuse, at the top of a model's ``forward``, an input of another shape than the model
    was built for, with a ValueError naming both, rather than let it fail deep inside PyTorch (a
    matrix product whose sizes do not fit).

    expected: a size per dimension, or a letter where any size goes: ('B', 1, 28, 28) for
        28x28 one-channel images, ('B', 'K', 1, 28, 28) for sets of them, ('B', 3, 'H', 'W').
    what: the input's name in the message ('images', 'items', 'screens').
    """
    shape = tuple(tensor.shape)
    pairs = zip(expected, shape, strict=False)
    if len(shape) == len(expected) and all(isinstance(e, str) or e == s for e, s in pairs):
        return
    wanted = ", ".join(str(e) for e in expected)
    raise ValueError(
        f"{type(model).__name__} was built for {what} of shape ({wanted}), got {shape}"
    )


def check_square_size(model: str, size: int, height: int, width: int) -> None:
    """Refuse images other than the size x size ones a model was built for, naming the flag."""
    if (height, width) != (size, size):
        raise ValueError(
            f"{model} was built for {size}x{size} images, the task has {height}x{width} "
            f"(set --image-size {height})"
        )
