"""Property-based tests of the attention primitives (foveate.attention): hypothesis searches
shapes (batches of 1, one-pixel images, single filters), extreme and NaN coordinates,
zero-size windows, masks that leave one item, and float32 / float64 / bfloat16, for an input
that breaks a stated invariant. Every call either keeps the invariant or raises a ValueError
that names the argument at fault; none crashes inside PyTorch or returns a wrong shape.

The example-based files (test_filterbank.py, test_retina.py, test_transformer.py,
test_item_attention.py) hold the known answers; these hold what must be true for any input.
Tensor values come from a seeded torch.Generator (hypothesis draws the seed, the shapes and the
special values), so that an example is cheap and a failure replays from its seed.
"""

import importlib
import inspect
import math
from fractions import Fraction

import pytest

hypothesis = pytest.importorskip("hypothesis")

import torch  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import foveate.attention.filterbank as filterbank  # noqa: E402
import foveate.attention.grid as grid  # noqa: E402
import foveate.attention.items as items  # noqa: E402
import foveate.attention.transformer as transformer  # noqa: E402
from foveate.attention.filterbank import (  # noqa: E402
    GaussianWindow,
    covering_params,
    filterbanks,
    keep_on_image,
    read,
    stride_scale,
    window_from_params,
    write,
)
from foveate.attention.grid import grid_hard_attention, grid_items, grid_soft_attention  # noqa: E402
from foveate.attention.items import (  # noqa: E402
    SCORES,
    AttentionPooling,
    Scorer,
    attention_weights,
    hard_attention,
    masked_logits,
    soft_attention,
)
from foveate.attention.retina import (  # noqa: E402
    extract_patches,
    location_to_pixel,
    patch_boxes,
    patch_corners,
    patch_widths,
    retina,
    summed_area_table,
    table_is_cheaper,
)
from foveate.attention.transformer import (  # noqa: E402
    affine_warp,
    crop,
    grid_corners,
    identity_theta,
    inverse_window,
    paste,
    window_theta,
)

# (foveate.attention.retina the attribute is the function, which hides the module of that name)
retina_module = importlib.import_module("foveate.attention.retina")
F64 = torch.float64
DTYPES = (torch.float32, F64, torch.bfloat16)
# Agreement to the precision of each dtype (bfloat16 keeps 8 bits: about 0.4 % per rounding).
TOLERANCE = {torch.float32: 1e-5, F64: 1e-10, torch.bfloat16: 3e-2}
INF, NAN = math.inf, math.nan
# Coordinates that have broken attention code: exact edges, tiny, huge, infinite and NaN.
SPECIAL = (0.0, 1.0, -1.0, 0.5, 1e-30, -1e-30, 1e6, -1e6, 1e30, -1e30, INF, -INF, NAN)

dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**31 - 1)
batches = st.integers(1, 3)
specials = st.sampled_from(SPECIAL)
coordinates = st.floats(-3, 3, width=32) | specials
shapes = st.lists(st.integers(0, 4), min_size=1, max_size=5).map(tuple)


def uniform(seed: int, *shape: int, dtype=torch.float32, low=0.0, high=1.0) -> torch.Tensor:
    """Uniform values drawn in float64 from ``seed``, then cast: every dtype gets the same ones."""
    g = torch.Generator().manual_seed(seed)
    return (low + (high - low) * torch.rand(shape, generator=g, dtype=F64)).to(dtype)


def close(actual, expected, dtype, *, scale=1.0):
    """Equal to the precision of ``dtype`` (absolute, relative to ``scale``)."""
    torch.testing.assert_close(
        actual.to(F64), expected.to(F64), rtol=0, atol=TOLERANCE[dtype] * max(scale, 1.0)
    )


def refused(call, name: str) -> None:
    """``call`` raises a ValueError whose message names ``name``."""
    with pytest.raises(ValueError, match=name):
        call()


# --- coverage: every public function of foveate.attention has a property below ---------------

COVERED = {
    filterbank: {
        "GaussianWindow",
        "stride_scale",
        "covering_params",
        "window_from_params",
        "keep_on_image",
        "filterbanks",
        "read",
        "write",
    },
    grid: {
        "grid_items",
        "GridSoftAttention",
        "grid_soft_attention",
        "GridHardAttention",
        "grid_hard_attention",
    },
    items: {
        "Scorer",
        "masked_logits",
        "attention_weights",
        "SoftAttention",
        "soft_attention",
        "HardAttention",
        "hard_attention",
        "AttentionPooling",
    },
    retina_module: {
        "patch_widths",
        "location_to_pixel",
        "patch_corners",
        "extract_patches",
        "summed_area_table",
        "block_averages",
        "retina",
        "table_is_cheaper",
        "patch_boxes",
    },
    transformer: {
        "affine_warp",
        "identity_theta",
        "window_theta",
        "inverse_window",
        "crop",
        "paste",
        "grid_corners",
    },
}


@pytest.mark.parametrize("module", list(COVERED), ids=lambda m: m.__name__)
def test_every_public_function_of_attention_has_properties(module):
    public = {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }
    assert public == COVERED[module], "add the new function's properties to this file"


# --- DRAW's filterbank ------------------------------------------------------------------------


@st.composite
def window_params(draw, batch: int) -> list[list[float]]:
    """Rows of (g~X, g~Y, log sigma^2, log delta~, log gamma) from ordinary to extreme: centres
    far off the image, variances that underflow to 0 (log sigma^2 < -104 in float32)."""
    centre = st.floats(-1e4, 1e4) | st.sampled_from([0.0, 1.0, -1.0])
    return [
        [
            draw(centre),
            draw(centre),
            draw(st.floats(-300, 20)),
            draw(st.floats(-20, 8)),
            draw(st.floats(-5, 5)),
        ]
        for _ in range(batch)
    ]


@given(
    batch=batches,
    height=st.integers(1, 12),
    width=st.integers(1, 12),
    size=st.integers(1, 6),
    dtype=dtypes,
    data=st.data(),
)
def test_filterbank_rows_are_distributions_for_any_window(batch, height, width, size, dtype, data):
    params = torch.tensor(data.draw(window_params(batch)), dtype=F64).to(dtype)
    window = window_from_params(params, height=height, width=width, size=size)
    assert window.centre.dtype == torch.promote_types(dtype, torch.float32)  # geometry >= f32
    f_x, f_y = filterbanks(window, height=height, width=width)
    assert f_x.shape == (batch, size, width) and f_y.shape == (batch, size, height)
    for bank in (f_x, f_y):
        assert torch.isfinite(bank).all() and (bank >= 0).all()
        ones = torch.ones(batch, size, dtype=bank.dtype)
        torch.testing.assert_close(bank.sum(-1), ones, rtol=0, atol=1e-5)


@given(
    seed=seeds, batch=batches, side=st.integers(1, 9), dtype=dtypes, log_var=st.floats(-300, -50)
)
def test_a_window_of_sharp_filters_one_per_pixel_reads_the_image_exactly(
    seed, batch, side, dtype, log_var
):
    # N = A = B, g~ = 0, delta~ = 1: a filter on every pixel; sigma^2 -> 0 (even 0 after
    # underflow) makes each filter the pixel itself.
    images = uniform(seed, batch, 2, side, side, dtype=dtype)
    params = torch.tensor([[0.0, 0.0, log_var, 0.0, 0.0]] * batch, dtype=dtype)
    glimpses = read(images, window_from_params(params, height=side, width=side, size=side))
    assert glimpses.dtype == dtype and torch.equal(glimpses, images)


@given(
    seed=seeds,
    batch=batches,
    channels=st.integers(1, 2),
    height=st.integers(1, 10),
    width=st.integers(1, 10),
    size=st.integers(1, 5),
    dtype=dtypes,
    data=st.data(),
)
def test_read_and_write_are_adjoint_and_keep_constants_and_mass(
    seed, batch, channels, height, width, size, dtype, data
):
    rows = data.draw(window_params(batch))
    params = torch.tensor(rows, dtype=F64)
    params[:, 4] = params[:, 4].clamp(-2, 2)  # gamma in [e^-2, e^2], so sums stay of order 1
    window = window_from_params(params.to(dtype), height=height, width=width, size=size)
    gamma = window.intensity.to(F64)[:, None, None, None]
    x = uniform(seed, batch, channels, height, width, dtype=dtype)
    p = uniform(seed + 1, batch, channels, size, size, dtype=dtype)
    glimpses, canvas = read(x, window), write(p, window, height=height, width=width)
    assert glimpses.shape == (batch, channels, size, size) and glimpses.dtype == dtype
    assert canvas.shape == (batch, channels, height, width) and canvas.dtype == dtype
    # rows of F_X, F_Y sum to one: a constant image reads gamma times itself (eq. 27) ...
    constant = torch.full_like(x, 0.75)
    close(read(constant, window), 0.75 * gamma.expand(-1, channels, size, size), dtype, scale=8)
    # ... and write puts sum(w) / gamma on the canvas (eq. 29), nothing lost off the image
    mass = p.to(F64).sum((2, 3)) / gamma[..., 0, 0]
    close(canvas.to(F64).sum((2, 3)), mass, dtype, scale=2 * float(mass.max()))
    # <read(x), p> = gamma^2 <x, write(p)>: write is read's transpose, up to gamma^2
    left = (glimpses.to(F64) * p.to(F64)).sum((1, 2, 3))
    right = gamma.flatten() ** 2 * (x.to(F64) * canvas.to(F64)).sum((1, 2, 3))
    close(left, right, dtype, scale=float(left.abs().max()) * 10)


@given(
    seed=seeds,
    batch=st.integers(2, 3),
    where=st.integers(0, 4),
    value=st.sampled_from([INF, -INF, NAN, 1e30, -1e30]),
    dtype=st.sampled_from((torch.float32, F64)),
)
def test_a_non_finite_window_spoils_only_its_own_glimpse(seed, batch, where, value, dtype):
    params = uniform(seed, batch, 5, dtype=dtype, low=-1, high=1)
    params[0, where] = value
    window = window_from_params(params, height=7, width=9, size=3)
    x = uniform(seed + 1, batch, 1, 7, 9, dtype=dtype)
    rest = window_from_params(params[1:], height=7, width=9, size=3)
    close(read(x, window)[1:], read(x[1:], rest), dtype)
    p = uniform(seed + 2, batch, 1, 3, 3, dtype=dtype)
    close(write(p, window, height=7, width=9)[1:], write(p[1:], rest, height=7, width=9), dtype)


@given(
    params=st.lists(
        st.floats(-1e30, 1e30) | specials.filter(math.isfinite), min_size=5, max_size=5
    ),
    max_log_intensity=st.floats(0.1, 5),
    min_variance=st.sampled_from([0.0, 1e-3, 0.25, 4.0]),
    height=st.integers(1, 60),
    width=st.integers(1, 60),
)
def test_keep_on_image_holds_any_finite_window_on_the_image(
    params, max_log_intensity, min_variance, height, width
):
    raw = torch.tensor([params], dtype=F64)
    kept = keep_on_image(raw, max_log_intensity=max_log_intensity, min_variance=min_variance)
    assert kept.shape == (1, 5) and torch.isfinite(kept).all()
    assert kept[0, :2].abs().max() <= 1 and kept[0, 4].abs() <= max_log_intensity
    assert kept[0, 3] == raw[0, 3]  # the stride passes through
    if min_variance:
        assert kept[0, 2] >= math.log(min_variance) and kept[0, 2] >= raw[0, 2]
    else:
        assert kept[0, 2] == raw[0, 2]
    window = window_from_params(kept, height=height, width=width, size=2)
    assert (window.centre >= 0).all()
    assert window.centre[0, 0] <= width + 1 and window.centre[0, 1] <= height + 1


@given(height=st.integers(1, 40), width=st.integers(1, 40), size=st.integers(1, 12))
def test_the_covering_window_sees_every_pixel(height, width, size):
    params = covering_params(height=height, width=width, size=size)
    window = window_from_params(params[None], height=height, width=width, size=size)
    f_x, f_y = filterbanks(window, height=height, width=width)
    # every pixel gets a real share of some filter: none lies in a blind gap, or past a lone one
    for bank in (f_x[0], f_y[0]):
        assert bank.max(0).values.min() > 0.1 * bank.max()


@given(
    height=st.integers(1, 30),
    width=st.integers(1, 30),
    size=st.integers(1, 8),
    g=st.floats(-2, 2),
    log_stride=st.floats(-3, 3),
)
def test_window_geometry_puts_the_outer_filters_on_the_border_and_the_box_around_them(
    height, width, size, g, log_stride
):
    unit = window_from_params(torch.zeros(1, 5, dtype=F64), height=height, width=width, size=size)
    mu_x, mu_y = unit.filter_centres()
    assert mu_x.shape == mu_y.shape == (1, size)
    longer, centres = (mu_x, width) if width >= height else (mu_y, height)
    if size > 1:  # delta~ = 1 (eq. 24): from the first pixel to the last of the longer side
        assert longer[0, 0].item() == pytest.approx(1) and longer[0, -1].item() == pytest.approx(
            centres
        )
    assert stride_scale(height=height, width=width, size=size) == pytest.approx(unit.stride.item())
    params = torch.tensor([[g, -g, 0.0, log_stride, 0.0]], dtype=F64)
    window = window_from_params(params, height=height, width=width, size=size)
    left, top, right, bottom = window.boxes()[0].tolist()
    N, delta = size, window.stride.item()
    assert right - left == pytest.approx(N * delta) and bottom - top == pytest.approx(N * delta)
    mu_x, mu_y = window.filter_centres()
    # one stride around every filter centre, in pixel-edge coordinates (centre a - 0.5)
    assert left == pytest.approx(mu_x.min().item() - 0.5 - delta / 2)
    assert bottom == pytest.approx(mu_y.max().item() - 0.5 + delta / 2)


@given(
    images_shape=shapes
    | st.tuples(batches, st.integers(1, 2), st.integers(1, 5), st.integers(1, 5)),
    params_shape=shapes | st.just((2, 5)),
    patches_shape=shapes | st.just((2, 1, 3, 3)),
    size=st.integers(-1, 4),
    height=st.integers(-1, 5),
)
def test_the_filterbank_refuses_every_wrong_shape_by_name(
    images_shape, params_shape, patches_shape, size, height
):
    params = torch.zeros(params_shape)
    if len(params_shape) != 2 or params_shape[-1] != 5:
        return refused(lambda: window_from_params(params, height=5, width=5, size=3), "params")
    if size < 1:
        return refused(lambda: window_from_params(params, height=5, width=5, size=size), "filter")
    window = window_from_params(params, height=5, width=5, size=size)
    B = params_shape[0]
    images = torch.rand(images_shape)
    if len(images_shape) == 4 and images_shape[0] == B and min(images_shape[2:]) >= 1:
        assert read(images, window).shape == (B, images_shape[1], size, size)
    else:
        refused(lambda: read(images, window), "images")
    patches = torch.rand(patches_shape)
    if len(patches_shape) != 4 or patches_shape[0] != B or patches_shape[2:] != (size, size):
        refused(lambda: write(patches, window, height=5, width=5), "patches")
    elif height < 1:
        refused(lambda: write(patches, window, height=height, width=5), "height")
    else:
        canvas = write(patches, window, height=height, width=5)
        assert canvas.shape == (B, patches_shape[1], height, 5)
    refused(lambda: keep_on_image(torch.zeros(B, 4)), "params")


def test_a_hand_made_window_of_bfloat16_keeps_its_dtype():
    # GaussianWindow built directly (not through window_from_params) keeps the caller's dtype.
    w = GaussianWindow(
        centre=torch.tensor([[2.0, 2.0]], dtype=torch.bfloat16),
        stride=torch.tensor([1.0], dtype=torch.bfloat16),
        variance=torch.tensor([0.0], dtype=torch.bfloat16),  # underflowed: one-hot rows
        intensity=torch.tensor([1.0], dtype=torch.bfloat16),
        size=3,
    )
    image = torch.arange(9.0).view(1, 1, 3, 3).bfloat16()
    assert torch.equal(read(image, w), image)


# --- the RAM retina -----------------------------------------------------------------------------


def retina_by_hand(images, locations, size, scales):
    """Per sample: pad, slice, average-pool (the slow reference of test_retina.py); zeros for a
    patch that lies beyond the padding (wholly outside the image), NaN or infinitely far."""
    out = []
    H, W = images.shape[-2:]
    centres = location_to_pixel(locations, H, W).double().tolist()
    for image, (cx, cy) in zip(images.double(), centres, strict=True):
        pad = size * 2 ** (scales - 1) * 2
        padded = torch.nn.functional.pad(image, (pad,) * 4)
        glimpse = []
        for k in range(scales):
            w = size * 2**k
            if not (abs(cx) < 1e9 and abs(cy) < 1e9):  # NaN, infinite or far outside
                glimpse.append(torch.zeros(image.shape[0], size, size, dtype=F64))
                continue
            # exact arithmetic: cx - w / 2 in floats may itself round to a half pixel
            left = round(Fraction(cx) - Fraction(w, 2)) + pad
            top = round(Fraction(cy) - Fraction(w, 2)) + pad
            if not (0 <= left <= W + 2 * pad - w and 0 <= top <= H + 2 * pad - w):
                glimpse.append(torch.zeros(image.shape[0], size, size, dtype=F64))
                continue  # beyond the padding, so wholly outside the image
            patch = padded[:, top : top + w, left : left + w]
            glimpse.append(torch.nn.functional.avg_pool2d(patch[None], 2**k)[0])
        out.append(torch.stack(glimpse))
    return torch.stack(out)


@given(
    seed=seeds,
    batch=batches,
    channels=st.integers(1, 2),
    height=st.integers(1, 14),
    width=st.integers(1, 14),
    size=st.integers(1, 6),
    scales=st.integers(1, 3),
    dtype=dtypes,
    data=st.data(),
)
def test_the_retina_reads_what_a_per_sample_crop_reads_for_any_location(
    seed, batch, channels, height, width, size, scales, dtype, data
):
    images = uniform(seed, batch, channels, height, width, dtype=dtype)
    where = data.draw(st.lists(st.tuples(coordinates, coordinates), min_size=batch, max_size=batch))
    # bfloat16 locations are the values a bfloat16 model would give: made exact in it first
    locations = torch.tensor(where, dtype=F64).to(dtype)
    glimpse = retina(images, locations, size=size, scales=scales)
    assert glimpse.shape == (batch, scales, channels, size, size) and glimpse.dtype == dtype
    expected = retina_by_hand(images, locations, size, scales)
    close(glimpse, expected, dtype)
    table = summed_area_table(images)
    assert table.shape == (batch, channels, height + 1, width + 1)
    close(table[..., -1, -1], images.double().sum((-1, -2)), F64, scale=height * width)
    looked_up = retina(images, locations, size=size, scales=scales, table=table)
    close(looked_up, expected, dtype)


@given(
    seed=seeds,
    size=st.integers(1, 8),
    width=st.integers(0, 8),
    x=coordinates,
    y=coordinates,
    block=st.sampled_from([1, 2, 4]),
)
def test_patches_and_their_block_averages_agree_wherever_they_are(seed, size, width, x, y, block):
    images = uniform(seed, 1, 1, size, size + 3, dtype=F64)
    centres = torch.tensor([[x, y]], dtype=F64) * size  # pixel coordinates, some far outside
    corner = patch_corners(centres, width)
    assert corner.dtype == torch.int64 and corner.abs().max() <= 2**24 + width
    patch = extract_patches(images, centres, width)
    assert patch.shape == (1, 1, width, width)
    if width % block == 0 and width:
        pooled = torch.nn.functional.avg_pool2d(patch, block)
        averages = retina_module.block_averages(summed_area_table(images), centres, width, block)
        close(averages, pooled, F64)
    if not (abs(x) < 1e5 and abs(y) < 1e5):  # NaN, infinite or far outside: nothing to read
        assert not patch.any()


@given(
    locations=st.lists(st.tuples(coordinates, coordinates), min_size=1, max_size=6),
    lead=st.sampled_from([(), (1,), (2,), (3, 2)]),
    height=st.integers(1, 50),
    width=st.integers(1, 50),
    size=st.integers(1, 8),
    scales=st.integers(1, 4),
)
def test_patch_boxes_nest_double_and_match_the_crops(locations, lead, height, width, size, scales):
    count = math.prod(lead) if lead else 1
    where = torch.tensor((locations * count)[:count], dtype=torch.float32).view(*lead, 2)
    boxes = patch_boxes(where, height=height, width=width, size=size, scales=scales)
    assert boxes.shape == (*lead, scales, 4)
    widths = patch_widths(size, scales)
    assert widths == [size * 2**k for k in range(scales)]
    pixels = location_to_pixel(where.reshape(-1, 2), height, width)
    # boxes of locations whose pixels float32 counts exactly (not NaN, infinite or past 2^22)
    near = (pixels.abs().max(-1).values < 2**22).view(lead)
    b = boxes[near]  # (M, scales, 4)
    sides = torch.tensor(widths, dtype=b.dtype)
    assert torch.equal(b[..., 2] - b[..., 0], sides.expand_as(b[..., 0]))
    assert torch.equal(b[..., 3] - b[..., 1], sides.expand_as(b[..., 0]))
    assert (b[:, 1:, :2] <= b[:, :-1, :2]).all() and (b[:, 1:, 2:] >= b[:, :-1, 2:]).all()
    corners = patch_corners(pixels, size).to(boxes.dtype).view(*lead, 2)
    assert torch.equal(boxes[..., 0, :2][near], corners[near])


@given(
    x=st.floats(-1, 1, width=16),
    y=st.floats(-1, 1, width=16),
    height=st.integers(1, 300),
    width=st.integers(1, 300),
    dtype=dtypes,
)
def test_location_to_pixel_is_exact_for_any_dtype(x, y, height, width, dtype):
    where = torch.tensor([[x, y]], dtype=dtype)
    pixel = location_to_pixel(where, height, width)
    assert pixel.dtype == torch.promote_types(dtype, torch.float32)
    x, y = where[0].double().tolist()  # the locations as the dtype holds them
    exact = torch.tensor([[(x + 1) / 2 * width, (y + 1) / 2 * height]], dtype=F64)
    # to float32's rounding (bfloat16 arithmetic would be off by up to half a pixel)
    torch.testing.assert_close(pixel.double(), exact, rtol=0, atol=1e-3)


@given(
    height=st.integers(1, 500),
    width=st.integers(1, 500),
    size=st.integers(1, 16),
    scales=st.integers(1, 5),
    glimpses=st.integers(0, 20),
)
def test_once_the_table_is_cheaper_more_glimpses_keep_it_cheaper(
    height, width, size, scales, glimpses
):
    cheaper = table_is_cheaper(height, width, size=size, scales=scales, glimpses=glimpses)
    assert not (cheaper and scales == 1)  # nothing coarse to read: never
    if cheaper:
        assert table_is_cheaper(height, width, size=size, scales=scales, glimpses=glimpses + 1)


@given(
    images_shape=shapes | st.just((2, 1, 6, 6)),
    locations_shape=shapes | st.just((2, 2)),
    table_shape=st.none() | shapes | st.just((2, 1, 7, 7)),
    size=st.integers(-1, 3),
    scales=st.integers(-1, 3),
    integer=st.booleans(),
)
def test_the_retina_refuses_every_wrong_input_by_name(
    images_shape, locations_shape, table_shape, size, scales, integer
):
    images = torch.zeros(images_shape, dtype=torch.uint8 if integer else torch.float32)
    locations = torch.zeros(locations_shape)
    table = None if table_shape is None else torch.zeros(table_shape, dtype=F64)
    if locations_shape[-1] != 2:
        refused(lambda: patch_boxes(locations, height=4, width=4, size=2, scales=1), "locations")

    def call():
        return retina(images, locations, size=size, scales=scales, table=table)

    if len(images_shape) != 4 or min(images_shape[2:]) < 1 or integer:
        return refused(call, "images")
    B, C, H, W = images_shape
    if locations_shape != (B, 2):
        return refused(call, "locations")
    if size < 1 or scales < 1:
        return refused(call, "size")
    if table is not None and table_shape != (B, C, H + 1, W + 1):
        return refused(call, "table")
    assert call().shape == (B, scales, C, size, size)


# --- the spatial transformer ------------------------------------------------------------------


@given(seed=seeds, batch=batches, channels=st.integers(1, 3), side=st.integers(1, 12), dtype=dtypes)
def test_the_identity_reads_the_image_back_in_every_dtype(seed, batch, channels, side, dtype):
    images = uniform(seed, batch, channels, side, side + 1, dtype=dtype)
    theta = identity_theta(batch, dtype=dtype)
    assert theta.shape == (batch, 2, 3)
    warped = affine_warp(images, theta, size=(side, side + 1))
    assert warped.dtype == dtype
    close(warped, images, dtype)
    # the window z_where = (1, 0, 0) is the whole image: its crop is the image itself
    square = images[..., :side]
    whole = torch.tensor([[1.0, 0.0, 0.0]] * batch, dtype=dtype)
    close(crop(square, whole, size=side), square, dtype)


@given(
    seed=seeds,
    batch=batches,
    s=st.floats(0.05, 1.5) | st.sampled_from([0.0, 1e-30, 1e6]),
    x=coordinates,
    y=coordinates,
    height=st.integers(1, 16),
    width=st.integers(1, 16),
    side=st.integers(1, 6),
    dtype=dtypes,
)
def test_a_pasted_object_stays_in_its_window_and_a_crop_far_outside_reads_zeros(
    seed, batch, s, x, y, height, width, side, dtype
):
    where = torch.tensor([[s, x, y]] * batch, dtype=F64)
    ones = torch.ones(batch, 1, side, side, dtype=dtype)
    canvas = paste(ones, where.to(dtype), height=height, width=width)
    assert canvas.shape == (batch, 1, height, width) and canvas.dtype == dtype
    s, x, y = where[0].to(dtype).double().tolist()  # the window the canvas saw
    if s > 0 and math.isfinite(x) and math.isfinite(y) and s < 1e5:
        assert torch.isfinite(canvas).all()
        # pixel centres in normalised units; the object's pixel is 2s / side wide
        cols = (2 * torch.arange(width, dtype=F64) + 1) / width - 1
        rows = (2 * torch.arange(height, dtype=F64) + 1) / height - 1
        dx, dy = (cols - x).abs()[None, :], (rows - y).abs()[:, None]
        reach, eps = s + s / side, 1e-4 * max(1.0, s)
        outside = (dx > reach + eps) | (dy > reach + eps)
        assert not canvas[:, 0][:, outside].any()  # nothing past half an object pixel
        inside = (dx < s - s / side - eps) & (dy < s - s / side - eps)
        close(canvas[:, 0][:, inside], torch.ones(batch, int(inside.sum())), dtype)
    images = uniform(seed, batch, 1, height, width, dtype=dtype)
    patch = crop(images, where.to(dtype), size=side)
    assert patch.shape == (batch, 1, side, side) and patch.dtype == dtype
    if s == 0 and math.isfinite(x) and math.isfinite(y):
        assert (patch == patch[..., :1, :1]).all()  # a point window reads one value
    finite = all(math.isfinite(v) for v in (s, x, y))
    if finite and max(abs(x), abs(y)) - s > 1 + 1 / min(height, width) + 1e-3:
        assert not patch.any()  # the whole window lies outside the image


@given(
    seed=seeds,
    batch=st.integers(2, 3),
    bad=st.sampled_from([NAN, INF, -INF, 0.0]),
    column=st.integers(0, 2),
    dtype=dtypes,
)
def test_a_bad_window_spoils_only_its_own_crop_and_paste(seed, batch, bad, column, dtype):
    where = torch.cat(
        [
            uniform(seed, batch, 1, low=0.2, high=0.8),
            uniform(seed + 1, batch, 2, low=-0.5, high=0.5),
        ],
        1,
    ).to(dtype)
    where[0, column] = bad
    images = uniform(seed + 2, batch, 1, 6, 7, dtype=dtype)
    close(crop(images, where, size=4)[1:], crop(images[1:], where[1:], size=4), dtype)
    objects = uniform(seed + 3, batch, 1, 3, 3, dtype=dtype)
    close(
        paste(objects, where, height=6, width=7)[1:],
        paste(objects[1:], where[1:], height=6, width=7),
        dtype,
    )


@given(
    s=st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3),
    x=st.floats(-10, 10),
    y=st.floats(-10, 10),
    lead=st.sampled_from([(1,), (3,), (2, 2)]),
    height=st.integers(1, 100),
    width=st.integers(1, 100),
)
def test_window_maps_invert_and_outline_the_window(s, x, y, lead, height, width):
    z = torch.tensor([s, x, y], dtype=F64).expand(*lead, 3)
    theta = window_theta(z)
    assert theta.shape == (*lead, 2, 3)
    bottom = torch.tensor([0.0, 0.0, 1.0], dtype=F64).expand(*lead, 1, 3)
    forward = torch.cat([theta, bottom], -2)
    backward = torch.cat([window_theta(inverse_window(z)), bottom], -2)
    eye = torch.eye(3, dtype=F64).expand_as(forward)
    torch.testing.assert_close(forward @ backward, eye, rtol=0, atol=1e-9 * max(1, abs(x / s)))
    corners = grid_corners(theta, height=height, width=width)
    assert corners.shape == (*lead, 4, 2)
    # TL and BR: the window's box [x - s, x + s] x [y - s, y + s] in pixels
    tl = [(x - s + 1) / 2 * width, (y - s + 1) / 2 * height]
    br = [(x + s + 1) / 2 * width, (y + s + 1) / 2 * height]
    flat = corners.reshape(-1, 4, 2)
    torch.testing.assert_close(flat[:, 0], torch.tensor([tl], dtype=F64).expand(len(flat), 2))
    torch.testing.assert_close(flat[:, 2], torch.tensor([br], dtype=F64).expand(len(flat), 2))


@given(
    images_shape=shapes | st.just((2, 1, 5, 5)),
    z_shape=shapes | st.just((2, 3)),
    theta_shape=shapes | st.just((2, 2, 3)),
    size=st.integers(-1, 3),
)
def test_the_transformer_refuses_every_wrong_input_by_name(
    images_shape, z_shape, theta_shape, size
):
    images, z, theta = torch.rand(images_shape), torch.rand(z_shape), torch.rand(theta_shape)
    good_images = len(images_shape) == 4 and min(images_shape[1:]) >= 1
    B = images_shape[0]
    if z_shape != (B, 3):
        refused(lambda: crop(images, z, size=max(size, 1)), "z_where")
        refused(lambda: paste(images, z, height=4, width=4), "z_where")
    elif not good_images:
        refused(lambda: crop(images, z, size=max(size, 1)), "images")
    elif size < 1:
        refused(lambda: crop(images, z, size=size), "size")
        refused(lambda: paste(images, z, height=size, width=4), "height")
    else:
        assert crop(images, z, size=size).shape == (B, images_shape[1], size, size)
        assert paste(images, z, height=size, width=2).shape == (B, images_shape[1], size, 2)
    if z_shape[-1] != 3:
        refused(lambda: window_theta(z), "z_where")
    if theta_shape[-2:] != (2, 3):
        refused(lambda: grid_corners(theta, height=4, width=4), "theta")
    if good_images and theta_shape != (B, 2, 3):
        refused(lambda: affine_warp(images, theta, size=(2, 2)), "theta")
    if good_images and theta_shape == (B, 2, 3) and size < 1:
        refused(lambda: affine_warp(images, theta, size=(2, size)), "size")


# --- item-wise attention and attention over a grid ----------------------------------------------


@st.composite
def masks(draw, batch: int, n: int) -> torch.Tensor:
    """(batch, n) masks with at least one real item a row; often exactly one."""
    rows = []
    for _ in range(batch):
        one = draw(st.integers(0, n - 1))
        if draw(st.booleans()):  # all but one hidden
            rows.append([i == one for i in range(n)])
        else:
            rows.append([i == one or draw(st.booleans()) for i in range(n)])
    return torch.tensor(rows)


@st.composite
def score_rows(draw, batch: int, n: int) -> torch.Tensor:
    """(batch, n) finite scores from ordinary to the edge of float32, some rows lifted by a
    large offset (where float32 rounds near scores together: ties at 1e8)."""
    value = st.floats(-30, 30) | st.sampled_from([0.0, -1e30, 1e30, 3e38, -3e38, 1e-30])
    offset = st.sampled_from([0.0, 1e8, -1e8, 1e30])
    rows = [[draw(value) for _ in range(n)] for _ in range(batch)]
    lifted = [[min(max(v + draw(offset), -3e38), 3e38) for v in row] for row in rows]
    return torch.tensor(lifted)


@given(
    seed=seeds,
    batch=batches,
    n=st.integers(1, 6),
    d=st.integers(1, 3),
    dtype=dtypes,
    data=st.data(),
)
def test_soft_attention_weights_are_a_distribution_over_the_real_items(
    seed, batch, n, d, dtype, data
):
    scores = data.draw(score_rows(batch, n)).to(dtype)
    mask = data.draw(st.none() | masks(batch, n))
    values = uniform(seed, batch, n, d, dtype=dtype, low=-1)
    out = soft_attention(scores, values, mask)
    assert out.weights.shape == (batch, n) and out.context.shape == (batch, d)
    w = out.weights.double()
    assert torch.isfinite(w).all() and (w >= 0).all()
    close(w.sum(-1), torch.ones(batch), dtype)
    real = torch.ones(batch, n, dtype=torch.bool) if mask is None else mask
    assert not w[~real].any()  # padding gets exactly nothing
    # the context is the weighted mean, inside the hull of the real items
    lo = values.double().masked_fill(~real[..., None], INF).amin(1)
    hi = values.double().masked_fill(~real[..., None], -INF).amax(1)
    eps = TOLERANCE[dtype]
    assert (out.context.double() >= lo - eps).all() and (out.context.double() <= hi + eps).all()
    lone = real.sum(-1) == 1  # all but one hidden: that item, exactly
    assert torch.equal(out.context[lone], values[lone][real[lone]])
    # scores and values of hidden items never matter, not even NaN or infinite scores
    logits = masked_logits(scores, mask)
    assert torch.equal(logits[real], scores[real]) and (logits[~real] == -INF).all()
    spoilt = scores.masked_fill(~real, NAN)
    assert torch.equal(attention_weights(spoilt, mask), out.weights)


@given(
    batch=batches,
    n=st.integers(1, 6),
    u=st.sampled_from([0.0, 0.5, 1 - 2**-24, 1.0, -0.5, 2.0, NAN]),
    greedy=st.booleans(),
    dtype=dtypes,
    data=st.data(),
)
def test_hard_attention_only_ever_draws_a_real_item(batch, n, u, greedy, dtype, data):
    scores = data.draw(score_rows(batch, n)).to(dtype)
    mask = data.draw(masks(batch, n))
    values = torch.arange(batch * n * 2, dtype=dtype).view(batch, n, 2)
    uniform_draws = torch.full((batch,), u, dtype=dtype)
    out = hard_attention(scores, values, mask, sample=not greedy, uniform=uniform_draws)
    rows = torch.arange(batch)
    assert out.index.shape == out.log_prob.shape == out.entropy.shape == (batch,)
    assert mask[rows, out.index].all() and (out.weights[rows, out.index] > 0).all()
    assert torch.equal(out.context, values[rows, out.index])
    eps = TOLERANCE[dtype]
    log_alpha = out.weights[rows, out.index].log()
    torch.testing.assert_close(out.log_prob, log_alpha, rtol=eps, atol=eps)
    real = mask.sum(-1).double()
    entropy = out.entropy.double()
    assert (entropy >= -eps).all() and (entropy <= real.log() * (1 + eps) + eps).all()
    lone = real == 1
    assert (out.log_prob[lone] == 0).all() and (out.entropy[lone].abs() < 1e-6).all()
    if greedy:
        assert torch.equal(out.index, out.weights.argmax(-1))


def test_hard_attention_keeps_log_alpha_exact_at_huge_scores():
    # Two real items tied at 1e8, one padded: alpha = 1/2 each, whatever the size of the scores
    # (Categorical's own logits - logsumexp would give log 1 = 0 here).
    scores = torch.tensor([[1e8, 1e8, 0.0], [3e38, 3e38, 3e38]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    out = hard_attention(scores, torch.zeros(2, 3, 1), mask, sample=False)
    expected = torch.tensor([math.log(1 / 2), math.log(1 / 3)])
    torch.testing.assert_close(out.log_prob, expected)
    torch.testing.assert_close(out.entropy, -expected)


@given(
    seed=seeds,
    kind=st.sampled_from(SCORES),
    batch=batches,
    n=st.integers(1, 5),
    d=st.integers(1, 4),
    c=st.integers(1, 4),
    dtype=dtypes,
    gated=st.booleans(),
)
def test_scores_follow_their_items_and_pooling_ignores_their_order(
    seed, kind, batch, n, d, c, dtype, gated
):
    if kind in ("dot", "scaled_dot"):
        c = d
    torch.manual_seed(seed)
    scorer = Scorer(kind, item_size=d, context_size=c, hidden=3).to(dtype)
    values = uniform(seed, batch, n, d, dtype=dtype, low=-1)
    context = uniform(seed + 1, batch, c, dtype=dtype, low=-1)
    scores = scorer(values, context)
    assert scores.shape == (batch, n) and scores.dtype == dtype and torch.isfinite(scores).all()
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    close(scorer(values[:, order], context), scores[:, order], dtype, scale=4)
    pool = AttentionPooling(d, hidden=3, gated=gated).to(dtype)
    pooled = pool(values)
    assert pooled.context.shape == (batch, d)
    close(pool(values[:, order]).context, pooled.context, dtype)
    close(pool(values[:, order]).weights, pooled.weights[:, order], dtype)


@given(
    items_shape=shapes | st.just((2, 3, 4)),
    context_shape=shapes | st.just((2, 4)),
    values_shape=shapes | st.just((2, 3, 1)),
    mask_dtype=st.sampled_from([torch.bool, torch.int64, torch.float32]),
    uniform_shape=shapes | st.just((2,)),
)
def test_item_attention_refuses_every_wrong_input_by_name(
    items_shape, context_shape, values_shape, mask_dtype, uniform_shape
):
    scorer = Scorer("bilinear", item_size=4, context_size=4, hidden=3)
    items, context = torch.rand(items_shape), torch.rand(context_shape)
    if len(items_shape) != 3 or items_shape[-1] != 4:
        refused(lambda: scorer(items, context), "items")
        refused(lambda: AttentionPooling(4, hidden=2)(items), "items")
    elif context_shape != (items_shape[0], 4):
        refused(lambda: scorer(items, context), "context")
    else:
        assert scorer(items, context).shape == items_shape[:2]
    scores, values = torch.zeros(2, 3), torch.rand(values_shape)
    if len(values_shape) != 3 or values_shape[:2] != (2, 3):
        refused(lambda: soft_attention(scores, values), "values")
        refused(lambda: hard_attention(scores, values), "values")
        return
    mask = torch.ones(2, 3, dtype=mask_dtype)
    if mask_dtype != torch.bool:
        refused(lambda: soft_attention(scores, values, mask), "mask")
    u = torch.zeros(uniform_shape)
    if uniform_shape != (2,):
        refused(lambda: hard_attention(scores, values, uniform=u), "uniform")
    else:
        assert hard_attention(scores, values, uniform=u).context.shape == (2, values_shape[-1])
    refused(lambda: soft_attention(torch.zeros(2, 3, 1), values), "scores")


@given(
    seed=seeds,
    batch=batches,
    d=st.integers(1, 3),
    height=st.integers(1, 4),
    width=st.integers(1, 4),
    u=st.floats(0, 1, exclude_max=True),
    data=st.data(),
)
def test_grid_attention_is_item_attention_over_the_cells_laid_out_as_a_map(
    seed, batch, d, height, width, u, data
):
    features = uniform(seed, batch, d, height, width, low=-1)
    scores = data.draw(score_rows(batch, height * width)).view(batch, height, width)
    mask = data.draw(st.none() | masks(batch, height * width))
    cells = grid_items(features)
    assert cells.shape == (batch, height * width, d)
    r, c = data.draw(st.integers(0, height - 1)), data.draw(st.integers(0, width - 1))
    assert torch.equal(cells[:, r * width + c], features[:, :, r, c])  # row by row
    grid_mask = None if mask is None else mask.view(batch, height, width)
    soft = grid_soft_attention(scores, features, grid_mask)
    flat = soft_attention(scores.view(batch, -1), cells, mask)
    assert soft.map.shape == (batch, height, width)
    assert torch.equal(soft.map.flatten(1), flat.weights)
    assert torch.equal(soft.context, flat.context)
    draws = torch.full((batch,), u)
    hard = grid_hard_attention(scores, features, grid_mask, uniform=draws)
    picked = hard_attention(scores.view(batch, -1), cells, mask, uniform=draws)
    assert hard.cell.shape == (batch, 2) and hard.map.shape == (batch, height, width)
    assert torch.equal(hard.cell[:, 0] * width + hard.cell[:, 1], picked.index)
    assert torch.equal(hard.context, picked.context)
    if grid_mask is not None:
        assert grid_mask[torch.arange(batch), hard.cell[:, 0], hard.cell[:, 1]].all()
    wrong = torch.ones(batch, width + 1, height, dtype=torch.bool)
    refused(lambda: grid_soft_attention(scores, features, wrong), "mask")
    refused(lambda: grid_items(features[0]), "features")
