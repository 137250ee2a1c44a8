"""Known-answer tests of the RAM retina on hand-made images, and agreement with a per-sample loop."""

import pytest
import torch
import torch.nn.functional as F

from foveate.attention.retina import patch_boxes, retina, summed_area_table, table_is_cheaper


def ramp(h=8, w=8):
    """An image whose pixel (row r, col c) holds 1 + r * w + c: every pixel is distinct."""
    return (torch.arange(h * w, dtype=torch.float32) + 1).view(1, 1, h, w)


def test_centre_patch_reads_the_middle_pixels():
    image = ramp()
    patch = retina(image, torch.zeros(1, 2), size=2)[0, 0, 0]
    # Centre of an 8x8 image is pixel coordinate 4: the 2x2 patch covers rows/cols 3..4.
    assert torch.equal(patch, image[0, 0, 3:5, 3:5])


def test_top_left_corner_is_minus_one_and_half_outside_is_zero():
    image = ramp()
    patch = retina(image, torch.tensor([[-1.0, -1.0]]), size=4)[0, 0, 0]
    expected = torch.zeros(4, 4)
    expected[2:, 2:] = image[0, 0, :2, :2]  # only the quarter inside the image
    assert torch.equal(patch, expected)


def test_x_is_horizontal_and_y_vertical():
    image = ramp()
    right = retina(image, torch.tensor([[1.0, 0.0]]), size=2)[0, 0, 0]
    # x = +1 is the right edge: columns 7 and (outside) 8, rows 3..4.
    assert torch.equal(right, torch.tensor([[image[0, 0, 3, 7], 0.0], [image[0, 0, 4, 7], 0.0]]))
    bottom = retina(image, torch.tensor([[0.0, 1.0]]), size=2)[0, 0, 0]
    assert torch.equal(bottom, torch.tensor([[image[0, 0, 7, 3], image[0, 0, 7, 4]], [0.0, 0.0]]))


def test_patch_fully_outside_is_black():
    assert retina(ramp(), torch.tensor([[3.0, -3.0]]), size=3).abs().sum() == 0


def test_each_scale_is_twice_as_wide_and_averaged_down():
    image = ramp(16, 16)
    glimpse = retina(image, torch.zeros(1, 2), size=2, scales=3)
    assert glimpse.shape == (1, 3, 1, 2, 2)
    centre = 8
    for k in range(3):
        w = 2 * 2**k
        window = image[:, :, centre - w // 2 : centre + w // 2, centre - w // 2 : centre + w // 2]
        assert torch.allclose(glimpse[0, k], F.avg_pool2d(window, 2**k)[0])


def test_coarse_scale_averages_in_the_zeros_outside():
    image = torch.ones(1, 1, 4, 4)
    glimpse = retina(image, torch.tensor([[-1.0, -1.0]]), size=2, scales=2)
    # The 4x4 patch centred on the corner holds the image in its bottom-right quarter.
    assert torch.equal(glimpse[0, 1, 0], torch.tensor([[0.0, 0.0], [0.0, 1.0]]))


def per_sample_retina(images, locations, size, scales):
    """A slow reference: pad each image, crop with Python slicing, resize with avg-pooling."""
    out = []
    for image, (x, y) in zip(images, locations.tolist(), strict=True):
        H, W = image.shape[-2:]
        pad = size * 2 ** (scales - 1) * 2
        padded = F.pad(image, (pad, pad, pad, pad))
        scales_out = []
        for k in range(scales):
            w = size * 2**k
            left = round((x + 1) / 2 * W - w / 2) + pad
            top = round((y + 1) / 2 * H - w / 2) + pad
            crop = padded[:, top : top + w, left : left + w]
            scales_out.append(F.avg_pool2d(crop[None], 2**k)[0])
        out.append(torch.stack(scales_out))
    return torch.stack(out)


@pytest.mark.parametrize(
    "size,scales,channels", [(8, 1, 1), (5, 3, 2), (12, 4, 1), (8, 3, 1), (6, 3, 1)]
)
def test_batched_retina_agrees_with_a_per_sample_loop(size, scales, channels):
    g = torch.Generator().manual_seed(0)
    images = torch.rand(16, channels, 30, 23, generator=g)
    locations = torch.rand(16, 2, generator=g) * 2.4 - 1.2
    expected = per_sample_retina(images, locations, size, scales)
    assert torch.allclose(retina(images, locations, size=size, scales=scales), expected)


@pytest.mark.parametrize("size,scales", [(8, 3), (12, 4), (6, 3)])
def test_patches_cut_from_one_crop_round_half_pixels_as_their_own_crops(size, scales):
    # Centres on half pixels: every corner is rounded from an exact .5, halves to even.
    g = torch.Generator().manual_seed(size)
    images = torch.rand(64, 1, 32, 32, generator=g)
    locations = torch.randint(-40, 41, (64, 2), generator=g) / 32  # exact in binary
    expected = per_sample_retina(images, locations, size, scales)
    assert torch.equal(retina(images, locations, size=size, scales=scales), expected)


def test_patch_boxes_match_the_crops():
    boxes = patch_boxes(torch.zeros(3, 5, 2), height=28, width=28, size=8, scales=2)
    assert boxes.shape == (3, 5, 2, 4)
    assert boxes[0, 0].tolist() == [[10.0, 10.0, 18.0, 18.0], [6.0, 6.0, 22.0, 22.0]]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="locations"):
        retina(torch.zeros(2, 1, 8, 8), torch.zeros(3, 2), size=2)
    with pytest.raises(ValueError, match="size"):
        retina(torch.zeros(2, 1, 8, 8), torch.zeros(2, 2), size=0)


@pytest.mark.parametrize("size,scales,side", [(2, 3, 8), (12, 4, 100), (6, 3, 24), (3, 2, 7)])
def test_summed_area_table_gives_the_cropped_glimpses(size, scales, side):
    g = torch.Generator().manual_seed(side)
    images = torch.rand(16, 2, side, side, generator=g)
    locations = torch.rand(16, 2, generator=g) * 3 - 1.5  # inside, across the edge, outside
    table = summed_area_table(images)
    cropped = retina(images, locations, size=size, scales=scales)
    looked_up = retina(images, locations, size=size, scales=scales, table=table)
    torch.testing.assert_close(looked_up, cropped, rtol=0, atol=1e-6)


def test_summed_area_table_known_answer():
    table = summed_area_table(ramp(2, 3))  # [[1, 2, 3], [4, 5, 6]]
    expected = torch.tensor([[0, 0, 0, 0], [0, 1, 3, 6], [0, 5, 12, 21]], dtype=torch.float64)
    assert torch.equal(table[0, 0], expected)


def test_the_table_is_chosen_where_it_reads_fewer_pixels():
    # 8 glimpses of 12x12 at 4 scales crop 8 * (24^2 + 48^2 + 96^2) = 97,920 coarse pixels.
    assert table_is_cheaper(100, 100, size=12, scales=4, glimpses=8)
    assert not table_is_cheaper(400, 400, size=12, scales=4, glimpses=8)
    assert not table_is_cheaper(28, 28, size=8, scales=1, glimpses=6)  # nothing coarse to read
