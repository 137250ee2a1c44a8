"""Property-based tests of the data generators (foveate.data): whatever the sizes, seeds and
counts (batches of 1, one-pixel digits, canvases that only just fit, sets of one item), a
generator's examples are exactly what its docstring says, the same for the same seed, and a
wrong argument is a ValueError that names it, never a crash inside PyTorch.

The digits are made up: each class has one random pattern of ink and a digit is its class's
pattern, so that a scene, a row or a set can be rebuilt from the truth the generator returns
(classes and boxes) and compared with its images pixel for pixel. The example-based files
(test_tasks.py, test_multi_mnist.py, test_digit_rows.py, test_digit_sets.py, test_catch.py,
test_generated_data.py) check the real digits and the DataModules.
"""

import inspect
import math
import pkgutil
from importlib import import_module

import pytest

hypothesis = pytest.importorskip("hypothesis")

import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import foveate.data  # noqa: E402
from foveate.data.catch import CatchVectorEnv  # noqa: E402
from foveate.data.datamodule import TaskBatches  # noqa: E402
from foveate.data.digit_rows import make_rows, row_canvas  # noqa: E402
from foveate.data.digit_sets import digit_bags, pointer_sets  # noqa: E402
from foveate.data.few_labels import HiddenLabels, labelled_subset, shift_images  # noqa: E402
from foveate.data.games import GameOrders  # noqa: E402
from foveate.data.generated import GeneratedBatches, select  # noqa: E402
from foveate.data.long_sequences import (  # noqa: E402
    FIRST_MARK_LAST,
    SHORTEST,
    as_batch,
    marked_sequences,
)
from foveate.data.multi_mnist import check_counts, make_scenes  # noqa: E402
from foveate.data.rendered_scenes import SEPARATION, random_scenes  # noqa: E402
from foveate.data.scene_tasks import LabelledScenes, targets  # noqa: E402
from foveate.data.tasks import (  # noqa: E402
    TASKS,
    binarize,
    make_task_canvases,
    place,
    shift_randomly,
)

seeds = st.integers(0, 2**31 - 1)
numbers = st.integers(0, 4)  # a batch of none is a batch too


def generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def fake_digits(seed: int, count: int, h: int, w: int):
    """(count, h, w) uint8 digits, their labels (count,) and the ten class patterns (10, h, w):
    every digit of a class is that class's pattern (ink 1 to 255 with some blank pixels)."""
    g = generator(seed)
    patterns = torch.randint(0, 256, (10, h, w), generator=g).to(torch.uint8)
    labels = torch.randperm(count, generator=g) % 10  # with count >= 10, every class
    return patterns[labels], labels, patterns


def rebuild(size, patterns, classes, boxes, *, add: bool) -> torch.Tensor:
    """The images (N, H, W) that ``classes`` (N, K) at ``boxes`` (N, K, 4) make, the patterns
    added (digits that must not overlap) or the brighter kept (digits that may)."""
    images = torch.zeros(len(classes), *size, dtype=torch.int64)
    for n, k in (classes >= 0).nonzero().tolist():
        left, top, right, bottom = boxes[n, k].long().tolist()
        ink = patterns[classes[n, k]].long()
        assert (right - left, bottom - top) == (ink.shape[1], ink.shape[0])
        region = images[n, top:bottom, left:right]
        images[n, top:bottom, left:right] = region + ink if add else torch.maximum(region, ink)
    return images


def refused(call, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        call()


def same_examples(a, b) -> bool:
    """Two dataclasses of tensors hold equal tensors."""
    return all(torch.equal(x, y) for x, y in zip(vars(a).values(), vars(b).values(), strict=True))


# --- coverage: every generator of foveate.data has properties below -------------------------

# A generator is a public function of foveate.data that takes a ``generator`` (it synthesises
# examples from a seed), or a class that serves or plays examples drawn from its own seed.
GENERATORS = {
    "foveate.data.tasks": {"place", "shift_randomly", "binarize", "make_task_canvases"},
    "foveate.data.multi_mnist": {"make_scenes"},
    "foveate.data.digit_rows": {"make_rows"},
    "foveate.data.digit_sets": {"pointer_sets", "digit_bags"},
    "foveate.data.long_sequences": {"marked_sequences"},
    "foveate.data.rendered_scenes": {"random_scenes"},
}
SEEDED_CLASSES = {
    "foveate.data.catch": {"CatchVectorEnv"},
    "foveate.data.datamodule": {"TaskBatches"},
    "foveate.data.generated": {"GeneratedBatches"},
    "foveate.data.scene_tasks": {"LabelledScenes"},
    "foveate.data.games": {"GameOrders"},
    "foveate.data.few_labels": {"HiddenLabels"},
}
IN_PROGRESS: set[str] = set()  # modules being written elsewhere, whose generators join later


def test_every_generator_of_the_data_package_has_properties():
    found = {}
    for info in pkgutil.iter_modules(foveate.data.__path__, "foveate.data."):
        if info.name in IN_PROGRESS:
            continue
        module = import_module(info.name)
        names = {
            name
            for name, obj in vars(module).items()
            if not name.startswith("_")
            and inspect.isfunction(obj)
            and obj.__module__ == module.__name__
            and "generator" in inspect.signature(obj).parameters
        }
        if names:
            found[info.name] = names
    assert found == GENERATORS, "add the new generator's properties to this file"
    for module, names in SEEDED_CLASSES.items():
        assert names <= set(vars(import_module(module)))


# --- canvases of the RAM tasks ------------------------------------------------------------------


@given(
    seed=seeds,
    number=numbers,
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    extra=st.integers(0, 5),
    clutter=st.integers(0, 3),
    piece=st.integers(1, 4),
)
def test_placed_images_lie_whole_inside_the_canvas_over_their_clutter(
    seed, number, h, w, extra, clutter, piece
):
    digits, _, _ = fake_digits(seed, number, h, w)
    canvas = max(h, w) + extra
    pool, _, _ = fake_digits(seed + 1, 3, 5, 4)
    args = dict(canvas=canvas, clutter_pool=pool, clutter=clutter, piece=piece)
    if clutter and piece > min(4, canvas):
        return refused(lambda: place(digits, generator=generator(seed), **args), "piece")
    out = place(digits, generator=generator(seed), **args)
    again = place(digits, generator=generator(seed), **args)
    assert same_examples(out, again)  # a seed fixes every canvas
    assert out.images.shape == (number, canvas, canvas) and out.images.dtype == torch.uint8
    left, top, right, bottom = out.digit_boxes.unbind(-1)
    assert ((right - left) == w).all() and ((bottom - top) == h).all()
    assert (left >= 0).all() and (top >= 0).all() and (right <= canvas).all()
    assert (bottom <= canvas).all()
    assert out.clutter_boxes.shape == (number, clutter, 4)
    covered = torch.zeros(number, canvas, canvas, dtype=torch.bool)
    for n in range(number):
        a, b, c, d = out.digit_boxes[n].tolist()
        # the image lies over its clutter: its ink is there, at least as bright
        assert (out.images[n, b:d, a:c] >= digits[n]).all()
        if not clutter:
            assert torch.equal(out.images[n, b:d, a:c], digits[n])
        covered[n, b:d, a:c] = True
        for a, b, c, d in out.clutter_boxes[n].tolist():
            assert c - a == piece and d - b == piece and 0 <= a and c <= canvas and d <= canvas
            covered[n, b:d, a:c] = True
    assert not out.images[~covered].any()  # no ink outside the image and the pieces


@given(
    seed=seeds,
    number=numbers,
    h=st.integers(1, 6),
    w=st.integers(1, 6),
    task=st.sampled_from(list(TASKS)),
)
def test_every_task_makes_its_canvases_from_the_seed(seed, number, h, w, task):
    spec = TASKS[task]
    digits, _, _ = fake_digits(seed, number, h, w)
    pool, _, _ = fake_digits(seed + 1, 4, 9, 8)  # clutter is cut from images of any size
    out = make_task_canvases(spec, digits, generator=generator(seed), clutter_pool=pool)
    if spec.canvas is None:  # 'mnist': the images themselves, each box the whole image
        assert torch.equal(out.images, digits) and out.clutter_boxes.shape == (number, 0, 4)
        assert out.digit_boxes.tolist() == [[0, 0, w, h]] * number
        return
    placed = place(
        digits,
        canvas=spec.canvas,
        generator=generator(seed),
        clutter_pool=pool,
        clutter=spec.clutter,
        piece=spec.piece,
    )
    assert out.images.shape == (number, spec.canvas, spec.canvas)
    assert same_examples(out, placed)


@given(
    seed=seeds,
    number=numbers,
    height=st.integers(1, 7),
    width=st.integers(1, 7),
    shift=st.integers(0, 3),
)
def test_a_shifted_image_is_the_image_moved_by_at_most_max_shift(
    seed, number, height, width, shift
):
    images, _, _ = fake_digits(seed, number, height, width)
    moved = shift_randomly(images, shift, generator=generator(seed))
    assert moved.shape == images.shape and moved.dtype == images.dtype
    padded = torch.nn.functional.pad(images, (shift,) * 4)
    for n in range(number):
        offsets = [
            (dx, dy)
            for dx in range(2 * shift + 1)
            for dy in range(2 * shift + 1)
            if torch.equal(moved[n], padded[n, dy : dy + height, dx : dx + width])
        ]
        assert offsets, "not a whole-pixel move of at most max_shift"
    assert torch.equal(moved, shift_randomly(images, shift, generator=generator(seed)))


@given(seed=seeds, shape=st.lists(st.integers(0, 5), min_size=1, max_size=4))
def test_binarized_pixels_are_off_or_on_and_keep_black_and_white(seed, shape):
    images = torch.randint(0, 256, shape, generator=generator(seed)).to(torch.uint8)
    images.view(-1)[:2] = torch.tensor([0, 255], dtype=torch.uint8)[: images.numel()]
    binary = binarize(images, generator=generator(seed))
    assert binary.shape == images.shape and binary.dtype == torch.uint8
    assert ((binary == 0) | (binary == 255)).all()
    assert not binary[images == 0].any() and (binary[images == 255] == 255).all()
    assert torch.equal(binary, binarize(images, generator=generator(seed)))


@given(
    seed=seeds,
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple),
    dtype=st.sampled_from([torch.uint8, torch.float32, torch.float64, torch.bfloat16]),
    canvas=st.integers(-1, 6),
    clutter=st.integers(-2, 2),
)
def test_the_task_generators_refuse_wrong_images_by_name(seed, shape, dtype, canvas, clutter):
    images = torch.zeros(shape, dtype=dtype)
    g = generator(seed)
    if dtype != torch.uint8:
        refused(lambda: binarize(images, generator=g), "uint8")
    if len(shape) != 3:
        refused(lambda: shift_randomly(images, 1, generator=g), "images")
    good = len(shape) == 3 and dtype == torch.uint8
    if not good:
        return refused(lambda: place(images, canvas=max(canvas, 4), generator=g), "digits")
    if max(shape[1:]) > canvas:
        return refused(lambda: place(images, canvas=canvas, generator=g), "canvas")
    if clutter < 0:
        return refused(
            lambda: place(images, canvas=canvas, generator=g, clutter=clutter), "clutter"
        )
    pool = torch.zeros(2, 3, 3, dtype=torch.float32)
    if clutter:
        refused(
            lambda: place(
                images, canvas=canvas, generator=g, clutter=clutter, clutter_pool=pool, piece=1
            ),
            "clutter_pool",
        )
    assert place(images, canvas=canvas, generator=g).images.shape == (shape[0], canvas, canvas)


@given(
    seed=seeds,
    number=numbers,
    shift=st.integers(0, 2),
    binary=st.booleans(),
    fixed=st.booleans(),
    task=st.sampled_from(["mnist", "translated"]),
)
def test_task_batches_serve_images_in_the_unit_interval_from_their_seed(
    seed, number, shift, binary, fixed, task
):
    digits, labels, _ = fake_digits(seed, 10, 4, 5)

    def batches():
        data = TaskBatches(
            digits,
            labels,
            TASKS[task],
            fixed_seed=seed if fixed else None,
            shift=shift,
            resample_binary=binary,
        )
        data.reseed(seed)  # training streams start where a run's seed says
        return data

    index = list(range(number))
    images, y = batches().__getitems__(index)
    again, _ = batches().__getitems__(index)
    side = 60 if task == "translated" else None
    assert images.shape == ((number, 1, side, side) if side else (number, 1, 4, 5))
    assert torch.equal(images, again) and torch.equal(y, labels[:number])
    assert images.dtype == torch.float32 and ((images >= 0) & (images <= 1)).all()
    if binary:
        assert ((images == 0) | (images == 1)).all()


# --- multi-MNIST scenes and their labelled tasks ----------------------------------------------


@given(
    seed=seeds,
    number=numbers,
    side=st.integers(1, 5),
    extra=st.integers(0, 8),
    counts=st.sets(st.integers(0, 3), min_size=1),
    overlapping=st.booleans(),
)
def test_a_scene_is_exactly_its_digits_at_their_boxes(
    seed, number, side, extra, counts, overlapping
):
    digits, labels, patterns = fake_digits(seed, 12, side, side)
    canvas = side + extra
    args = dict(counts=counts, canvas=canvas, overlapping=overlapping)
    try:
        scenes = make_scenes(digits, labels, number, generator=generator(seed), **args)
    except ValueError as error:  # three 5x5 digits on a 6x6 canvas never fit apart
        assert not overlapping and "canvas" in str(error)
        return
    again = make_scenes(digits, labels, number, generator=generator(seed), **args)
    assert same_examples(scenes, again)
    K = max(counts)
    assert scenes.images.shape == (number, canvas, canvas)
    assert scenes.classes.shape == (number, K) and scenes.boxes.shape == (number, K, 4)
    assert set(scenes.counts.tolist()) <= counts
    present = torch.arange(K) < scenes.counts[:, None]
    assert ((scenes.classes >= 0) == present).all() and not scenes.boxes[~present].any()
    assert (scenes.boxes >= 0).all() and (scenes.boxes <= canvas).all()
    rebuilt = rebuild((canvas, canvas), patterns, scenes.classes, scenes.boxes, add=not overlapping)
    assert torch.equal(scenes.images.long(), rebuilt)  # not overlapping: the sum fits in 255
    sums = targets("sum", scenes)
    assert torch.equal(sums, (scenes.classes * present).sum(-1))
    if counts == {2}:
        order = targets("order", scenes)
        by_left = scenes.boxes[:, :, 0] * 1000 + scenes.boxes[:, :, 1]
        first = scenes.classes.gather(1, by_left.argsort(-1))
        assert torch.equal(order, (first[:, 0] <= first[:, 1]).long())
    elif K != 2 or not present.all():
        refused(lambda: targets("order", scenes), "two digits")
    refused(lambda: targets("count", scenes), "task")


@given(seed=seeds, number=st.integers(1, 6), with_replacement=st.booleans(), size=st.integers(1, 8))
def test_labelled_scenes_serve_floats_and_draw_from_their_seed(
    seed, number, with_replacement, size
):
    images, _, _ = fake_digits(seed, number, 3, 3)
    truth = torch.arange(number)
    scenes = LabelledScenes(images, truth, with_replacement=with_replacement, size=size)
    assert len(scenes) == (size if with_replacement else number)
    scenes.reseed(seed)
    x, y = scenes.__getitems__(list(range(min(len(scenes), number))))
    assert x.shape == (len(y), 1, 3, 3) and ((x >= 0) & (x <= 1)).all()
    assert torch.equal((x[:, 0] * 255).round().to(torch.uint8), images[y])  # each its own
    scenes.reseed(seed)
    assert torch.equal(scenes.__getitems__(list(range(len(y))))[1], y)


# --- rows of digits ---------------------------------------------------------------------------


@given(
    seed=seeds,
    number=numbers,
    h=st.integers(1, 5),
    w=st.integers(1, 5),
    lengths=st.sets(st.integers(1, 4), min_size=1),
    least=st.integers(-4, 3),
    spread=st.integers(0, 3),
    jitter=st.integers(0, 2),
)
def test_a_row_is_its_digits_left_to_right_at_their_boxes(
    seed, number, h, w, lengths, least, spread, jitter
):
    digits, labels, patterns = fake_digits(seed, 12, h, w)
    gaps = (least, least + spread)
    args = dict(lengths=lengths, gaps=gaps, jitter=jitter)
    if least <= -w:  # the next digit would start before this one
        return refused(
            lambda: make_rows(digits, labels, number, generator=generator(seed), **args), "gaps"
        )
    rows = make_rows(digits, labels, number, generator=generator(seed), **args)
    assert same_examples(rows, make_rows(digits, labels, number, generator=generator(seed), **args))
    L = max(lengths)
    H, W = row_canvas(L, digit=w, max_gap=gaps[1], jitter=jitter)
    H = h + 2 * jitter  # row_canvas takes square digits; the height is the digits' and jitter
    assert rows.images.shape == (number, H, W)
    assert rows.labels.shape == (number, L) and rows.boxes.shape == (number, L, 4)
    assert set(rows.lengths.tolist()) <= lengths
    present = torch.arange(L) < rows.lengths[:, None]
    assert ((rows.labels >= 0) == present).all() and not rows.boxes[~present].any()
    assert (rows.boxes[..., :2] >= 0).all()
    assert (rows.boxes[..., 2] <= W).all() and (rows.boxes[..., 3] <= H).all()
    for n in range(number):
        left = rows.boxes[n, : rows.lengths[n], 0]
        step = left.diff() - w  # the gap between one digit's box and the next
        assert ((step >= gaps[0]) & (step <= gaps[1])).all()
        top = rows.boxes[n, : rows.lengths[n], 1]
        assert ((top - (H - h) // 2).abs() <= jitter).all()
    rebuilt = rebuild((H, W), patterns, rows.labels, rows.boxes, add=False)
    assert torch.equal(rows.images.long(), rebuilt)


# --- sets of digits ---------------------------------------------------------------------------


@given(seed=seeds, number=numbers, size=st.integers(1, 10), side=st.integers(1, 3))
def test_a_pointer_set_holds_different_classes_and_its_answer_is_the_queried_one(
    seed, number, size, side
):
    digits, labels, patterns = fake_digits(seed, 20, side, side)
    sets = pointer_sets(digits, labels, number, size=size, generator=generator(seed))
    assert same_examples(
        sets, pointer_sets(digits, labels, number, size=size, generator=generator(seed))
    )
    assert sets.items.shape == (number, size, side, side) and sets.mask.all()
    for n in range(number):
        assert len(set(sets.labels[n].tolist())) == size  # nine classes, nine digits
    rows = torch.arange(number)
    assert torch.equal(sets.query, sets.labels[rows, sets.target])
    assert torch.equal(sets.relevant, torch.nn.functional.one_hot(sets.target, size).bool())
    assert torch.equal(sets.items, patterns[sets.labels])


@given(
    seed=seeds,
    number=numbers,
    least=st.integers(1, 5),
    spread=st.integers(0, 4),
    positive_class=st.integers(0, 9),
)
def test_a_bag_is_positive_exactly_when_it_holds_the_positive_class(
    seed, number, least, spread, positive_class
):
    digits, labels, patterns = fake_digits(seed, 20, 2, 3)
    sizes = (least, least + spread)
    bags = digit_bags(
        digits,
        labels,
        number,
        sizes=sizes,
        positive_class=positive_class,
        generator=generator(seed),
    )
    K = sizes[1]
    assert bags.items.shape == (number, K, 2, 3)
    count = bags.mask.sum(-1)
    assert ((count >= sizes[0]) & (count <= sizes[1])).all()
    assert torch.equal(bags.mask, torch.arange(K) < count[:, None])  # real items first
    assert not bags.items[~bags.mask].any() and (bags.labels[~bags.mask] == -1).all()
    real = bags.labels[bags.mask]
    assert torch.equal(bags.items[bags.mask], patterns[real])
    assert torch.equal(bags.relevant, bags.labels == positive_class)
    assert torch.equal(bags.target, bags.relevant.any(-1).long())
    assert (bags.query == -1).all()


@given(
    seed=seeds,
    number=st.integers(-2, 3),
    count=st.integers(1, 12),
    fault=st.sampled_from([None, "2-D digits", "float digits", "no digits", "short labels"]),
    positive_class=st.integers(-2, 11),
)
def test_the_digit_generators_refuse_wrong_arguments_by_name(
    seed, number, count, fault, positive_class
):
    digits, labels, _ = fake_digits(seed, count, 5, 5)
    if fault == "2-D digits":
        digits = digits[0]
    elif fault == "float digits":
        digits = digits.float() / 255  # grey levels in [0, 1]: silently black scenes once
    elif fault == "no digits":
        digits, labels = digits[:0], labels[:0]
    elif fault == "short labels":
        labels = labels[:-1]
    g = generator(seed)
    calls = {
        "scenes": lambda: make_scenes(
            digits, labels, number, counts=(1,), canvas=8, overlapping=True, generator=g
        ),
        "rows": lambda: make_rows(digits, labels, number, lengths=(1,), generator=g),
        "pointer": lambda: pointer_sets(digits, labels, number, size=2, generator=g),
        "bags": lambda: digit_bags(
            digits, labels, number, positive_class=positive_class, generator=g
        ),
    }
    for kind, call in calls.items():
        if kind == "bags" and not 0 <= positive_class <= 9:
            refused(call, "positive_class")
        elif fault in ("2-D digits", "float digits", "no digits"):
            refused(call, "digits")
        elif fault == "short labels":
            refused(call, "labels")
        elif number < 0:
            refused(call, "number")
        elif kind in ("pointer", "bags") and count < 10:
            refused(call, "class")  # a set draws digits of every class
        else:
            made = call()
            assert len(made.images if kind in ("scenes", "rows") else made.items) == number
    refused(lambda: pointer_sets(digits, labels - 1, 1, generator=g), "labels|digits")


# --- the addition and multiplication problems -------------------------------------------------


@given(
    seed=seeds,
    problem=st.sampled_from(["addition", "multiplication"]),
    number=st.integers(0, 4),
    length=st.integers(SHORTEST, 40),
    variable=st.booleans(),
    data=st.data(),
)
def test_a_sequence_marks_two_steps_in_its_first_half_and_its_target_adds_or_multiplies_them(
    seed, problem, number, length, variable, data
):
    low = data.draw(st.integers(SHORTEST, length)) if variable else None
    seqs = marked_sequences(
        problem, number, max_length=length, min_length=low, generator=generator(seed)
    )
    again = marked_sequences(
        problem, number, max_length=length, min_length=low, generator=generator(seed)
    )
    assert same_examples(seqs, again)
    assert seqs.values.shape == seqs.markers.shape == (number, length)
    assert ((seqs.lengths >= (low or length)) & (seqs.lengths <= length)).all()
    steps, truth = as_batch(seqs)
    assert steps.shape == (number, length, 2) and truth["mask"].shape == (number, length)
    for n in range(number):
        L = int(seqs.lengths[n])
        x, m = seqs.values[n], seqs.markers[n]
        assert not x[L:].any() and not m[L:].any()  # padding
        assert m[0] == -1 and m[L - 1] == -1
        marked = (m == 1).nonzero().flatten().tolist()
        assert len(marked) == 2 and ((m == -1).sum() == 2) and ((m != 0).sum() == 4)
        a, b = marked
        last = L // 2 - 2
        assert 1 <= a <= last and 1 <= b <= last
        assert min(a, b) <= FIRST_MARK_LAST
        low_value = -1.0 if problem == "addition" else 0.0
        assert (x[:L] >= low_value).all() and (x[:L] <= 1).all()
        expected = 0.5 + (x[a] + x[b]) / 4 if problem == "addition" else x[a] * x[b]
        assert seqs.target[n] == expected
        assert truth["marked"][n].nonzero().flatten().tolist() == marked
    refused(
        lambda: marked_sequences("subtraction", 1, max_length=length, generator=generator(0)),
        "problem",
    )
    refused(
        lambda: marked_sequences(problem, 1, max_length=SHORTEST - 1, generator=generator(0)),
        "length",
    )
    refused(
        lambda: marked_sequences(problem, -1, max_length=length, generator=generator(0)), "number"
    )


# --- the game of Catch ------------------------------------------------------------------------


def check_screens(screens, *, size: int, paddle: int, ball_row: int) -> None:
    """One ball pixel at ``ball_row``, one paddle of ``paddle`` pixels on the bottom row."""
    assert screens.shape[1:] == (1, size, size) and screens.dtype == torch.float32
    assert ((screens == 0) | (screens == 1)).all()
    rows = screens[:, 0].sum(-1)  # (n, size) lit pixels per row
    bottom = screens[:, 0, -1]
    lit = bottom.nonzero()
    if ball_row < size - 1:
        assert (rows[:, ball_row] == 1).all() and (bottom.sum(-1) == paddle).all()
        assert rows.sum(-1).eq(1 + paddle).all()
    for n in range(len(screens)):
        cols = lit[lit[:, 0] == n, 1]
        if ball_row < size - 1:
            assert (cols.diff() == 1).all()  # the paddle is in one piece


@given(
    seed=seeds,
    games=st.integers(1, 4),
    size=st.integers(3, 9),
    data=st.data(),
)
def test_a_game_of_catch_lasts_its_screen_and_rewards_a_ball_over_the_paddle(
    seed, games, size, data
):
    paddle = data.draw(st.integers(1, size - 1))
    max_drift = data.draw(st.floats(0, size - 1) | st.sampled_from([0.0, float(size - 1)]))
    env = CatchVectorEnv(games, size=size, paddle=paddle, max_drift=max_drift)
    actions = torch.randint(0, 3, (size + 1, games), generator=generator(seed))

    def play():
        screens, _ = env.reset(seed=seed)
        seen, rewards, ends = [screens], [], []
        for action in actions:
            screens, reward, terminated, truncated, _ = env.step(action)
            assert not truncated.any()
            seen.append(screens), rewards.append(reward), ends.append(terminated)
        return seen, torch.stack(rewards), torch.stack(ends)

    seen, rewards, ends = play()
    for t in range(size - 1):  # the ball falls one row a step
        check_screens(seen[t], size=size, paddle=paddle, ball_row=t)
    # every game ends together after size - 1 steps, and only then
    assert ends[size - 2].all() and not ends[: size - 2].any() and not ends[size - 1].any()
    assert not rewards[: size - 2].any() and not rewards[size - 1].any()
    landed = seen[size - 1][:, 0, -1]  # the bottom row as the ball reaches it
    caught = landed.sum(-1) == paddle  # the ball's pixel lies on the paddle's
    assert torch.equal(rewards[size - 2].bool(), caught)
    check_screens(seen[size], size=size, paddle=paddle, ball_row=0)  # the next games began
    again, rewards_again, _ = play()
    assert all(torch.equal(a, b) for a, b in zip(seen, again, strict=True))
    assert torch.equal(rewards, rewards_again)
    refused(lambda: CatchVectorEnv(games, size=size, max_drift=size - 0.5), "max_drift")
    refused(lambda: CatchVectorEnv(games, size=size, max_drift=math.nan), "max_drift")
    refused(lambda: env.step(torch.full((games,), 3)), "actions")


@given(seed=seeds, copies=st.integers(1, 3), games=st.integers(1, 3))
def test_copies_of_a_game_play_the_same_game(seed, copies, games):
    env = CatchVectorEnv(copies * games, size=6, max_drift=2.0)
    screens, _ = env.reset(seed=seed, options={"copies": copies})
    runs = screens.view(games, copies, 1, 6, 6)
    assert (runs == runs[:, :1]).all()


@given(
    seed=seeds,
    batches=st.integers(1, 5),
    games=st.integers(1, 4),
    avoid=st.lists(st.integers(0, 2**62), max_size=3),
)
def test_game_orders_never_play_an_evaluation_seed_and_follow_their_own(
    seed, batches, games, avoid
):
    orders = GameOrders(CatchVectorEnv, games, batches, avoid=tuple(avoid))
    orders.reseed(seed)
    first = [orders[i] for i in range(len(orders))]
    orders.reseed(seed)
    assert [o.seed for o in first] == [orders[i].seed for i in range(batches)]
    assert all(o.seed not in avoid and o.games.tolist() == list(range(games)) for o in first)
    fixed = GameOrders(CatchVectorEnv, games, 1, seeds=[seed])
    assert fixed[0].seed == seed


# --- generated examples served a batch at a time ------------------------------------------------


@given(seed=seeds, size=st.integers(1, 12), fixed=st.booleans(), data=st.data())
def test_generated_batches_are_the_fixed_set_or_a_stream_from_the_seed(seed, size, fixed, data):
    def make(number, g):
        return marked_sequences("addition", number, max_length=SHORTEST, generator=g)

    batches = GeneratedBatches(make, as_batch, size, fixed_seed=seed if fixed else None)
    assert len(batches) == size
    indices = data.draw(st.lists(st.integers(0, size - 1), max_size=size))
    steps, truth = batches.__getitems__(indices)
    assert steps.shape == (len(indices), SHORTEST, 2)
    if fixed:  # the same examples, whoever asks and in any order
        whole = make(size, generator(seed))
        assert same_examples(batches.examples, whole)
        picked = select(whole, torch.as_tensor(indices, dtype=torch.long))
        assert torch.equal(steps, as_batch(picked)[0])
        assert torch.equal(batches.__getitems__(indices)[0], steps)
    else:  # a stream: the seed says where it starts
        batches.reseed(seed)
        first = batches.__getitems__(indices)[0]
        batches.reseed(seed)
        assert torch.equal(batches.__getitems__(indices)[0], first)


def test_check_counts_refuses_an_empty_or_negative_choice():
    assert check_counts([2, 0, 2]) == (0, 2)
    refused(lambda: check_counts([]), "counts")
    refused(lambda: check_counts([1, -1], name="test_counts"), "test_counts")


# --- a few labelled digits among hidden ones (InfoGAN's task codes) ------------------------------


@given(seed=seeds, per_class=st.integers(1, 3), extra=st.integers(0, 5), classes=st.integers(1, 4))
def test_labelled_subset_takes_as_many_of_each_class_from_the_seed(seed, per_class, extra, classes):
    labels = torch.arange(classes).repeat(per_class + extra)[
        torch.randperm(classes * (per_class + extra), generator=generator(seed))
    ]
    chosen = labelled_subset(labels, per_class * classes, classes, seed=seed)
    assert chosen.unique().numel() == len(chosen) == per_class * classes  # no image twice
    assert torch.equal(labels[chosen], torch.arange(classes).repeat_interleave(per_class))
    assert torch.equal(chosen, labelled_subset(labels, per_class * classes, classes, seed=seed))
    odd = per_class * (classes + 1) + 1  # not a multiple of classes + 1 >= 2
    refused(lambda: labelled_subset(labels, odd, classes + 1, seed=seed), "multiple")
    many = (per_class + extra + 1) * classes
    refused(lambda: labelled_subset(labels, many, classes, seed=seed), "class")


@given(seed=seeds, size=st.integers(1, 9), shift=st.integers(-10, 10), down=st.integers(-10, 10))
def test_shifted_images_are_the_image_moved_by_whole_pixels_with_zeros_behind(
    seed, size, shift, down
):
    images = torch.rand(2, 1, size, size + 1, generator=generator(seed)) + 0.5  # no zero ink
    moved = shift_images(images, torch.tensor([[shift, down], [0, 0]]))
    assert torch.equal(moved[1], images[1])  # no move, the image itself
    expected = torch.zeros_like(images[0])
    h, w = size, size + 1
    src_rows = slice(max(0, -down), min(h, h - down))
    dst_rows = slice(max(0, down), min(h, h + down))
    src_cols = slice(max(0, -shift), min(w, w - shift))
    dst_cols = slice(max(0, shift), min(w, w + shift))
    if src_rows.start < src_rows.stop and src_cols.start < src_cols.stop:
        expected[:, dst_rows, dst_cols] = images[0][:, src_rows, src_cols]
    assert torch.equal(moved[0], expected)


@given(seed=seeds, rows=st.integers(1, 4), per_batch=st.integers(0, 6), shift=st.integers(0, 2))
def test_hidden_labels_keep_only_the_labelled_rows_drawn_from_the_seed(
    seed, rows, per_batch, shift
):
    digits, labels, _ = fake_digits(seed, 12, 8, 8)
    batches = TaskBatches(digits, labels, TASKS["mnist"], fixed_seed=seed)
    pool = (torch.rand(5, 1, 8, 8, generator=generator(seed)), torch.tensor([0, 1, 2, 3, 4]))

    def served(draw_seed: int):
        hidden = HiddenLabels(
            batches, labelled=pool, per_batch=per_batch, shift=shift, generator=generator(draw_seed)
        )
        return hidden.__getitems__(list(range(rows)))

    images, seen = served(seed)
    carried = min(per_batch, rows)
    assert images.shape == (rows, 1, 8, 8)
    assert (seen[: rows - carried] == -1).all()  # every other label hidden
    assert ((seen[rows - carried :] >= 0) & (seen[rows - carried :] < 5)).all()
    if shift == 0 and carried:  # a labelled row is one of the pool's images, with its label
        for image, label in zip(images[rows - carried :], seen[rows - carried :], strict=True):
            assert torch.equal(image, pool[0][label])
    again, seen_again = served(seed)
    assert torch.equal(again, images) and torch.equal(seen_again, seen)


@given(
    seed=seeds,
    number=numbers,
    counts=st.lists(st.integers(0, 3), min_size=1, max_size=4, unique=True),
    size=st.integers(4, 12),
)
def test_a_rendered_scene_lists_its_count_of_separated_objects_and_follows_its_seed(
    seed, number, counts, size
):
    scenes = random_scenes(number, counts=tuple(counts), size=size, generator=generator(seed))
    again = random_scenes(number, counts=tuple(counts), size=size, generator=generator(seed))
    assert torch.equal(scenes.images, again.images) and torch.equal(scenes.position, again.position)
    most = max(counts)
    assert scenes.images.shape == (number, size, size)
    assert ((scenes.images >= 0) & (scenes.images <= 1)).all()
    assert set(scenes.count.tolist()) <= set(counts)
    real = torch.arange(most) < scenes.count[:, None]  # the first count objects are listed
    assert torch.equal(scenes.identity >= 0, real)
    assert (scenes.identity[real] < 3).all()
    assert (scenes.position.abs() <= 1.5).all()
    assert ((scenes.rotation >= 0) & (scenes.rotation < 2 * math.pi)).all()
    assert (scenes.position[~real] == 0).all() and (scenes.rotation[~real] == 0).all()
    for b in range(number):
        placed = scenes.position[b, : int(scenes.count[b])]
        if len(placed) > 1:
            assert (torch.pdist(placed) >= SEPARATION).all()
    assert (scenes.images[scenes.count == 0] == 0).all()  # an empty scene is the background
