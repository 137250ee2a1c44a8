"""The library on a CUDA GPU: the same answers as on the CPU, and nothing that assumes CPU tensors.

Every test here is marked ``cuda`` and skips where ``torch.cuda.is_available()`` is False
(tests/conftest.py). On a GPU machine: ``pytest -m cuda``.
"""

import copy
import inspect

import pytest
import torch
import torch.nn.functional as F

from foveate.attention.filterbank import filterbanks, keep_on_image, read, window_from_params
from foveate.attention.retina import patch_boxes, retina
from foveate.data.mnist import load_mnist_sample
from foveate.data.tasks import binarize, place, shift_randomly
from foveate.models import create_model, model_entry
from foveate.models.interface import Stochastic, loss_parts
from foveate.reports.drawings import drawing_animation, sample_grid
from foveate.reports.glimpses import glimpse_animation, glimpse_episodes, glimpse_grid, view_strips
from foveate.training.config import RunConfig
from foveate.training.fit import evaluate, fit

pytestmark = pytest.mark.cuda

# Classifiers compared across devices, and the image side each is built for.
CLASSIFIERS = {"ram": 28, "draw_classifier": 28, "stn": 60}


@pytest.fixture
def full_float32():
    """Float32 products on the GPU as on the CPU: no TF32 (cuDNN's convolutions use it by
    default on Ampere and later GPUs, with errors of about 1e-3)."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def tiny_model(name: str) -> torch.nn.Module:
    """The registry's tiny ``name``, for CLASSIFIERS[name]-pixel images where it takes a size."""
    kwargs = dict(model_entry(name).tiny)
    if "image_size" in inspect.signature(model_entry(name).cls).parameters:
        kwargs["image_size"] = CLASSIFIERS[name]
    return create_model(name, **kwargs)


def digits(n: int) -> torch.Tensor:
    """(n, 28, 28) uint8 digits of the shipped MNIST sample."""
    return load_mnist_sample("train")[0][:n]


def test_retina_on_cuda_equals_the_retina_on_the_cpu():
    torch.manual_seed(0)
    images = torch.rand(16, 3, 28, 20)
    locations = torch.rand(16, 2) * 2.4 - 1.2  # some patches reach past the border
    on_cpu = retina(images, locations, size=5, scales=3)
    on_gpu = retina(images.cuda(), locations.cuda(), size=5, scales=3)
    assert on_gpu.device.type == "cuda"
    # The crops are gathers (exact); only the coarser scales' average pooling may round apart.
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=0, atol=1e-6)
    assert torch.equal(on_gpu[:, 0].cpu(), on_cpu[:, 0])
    boxes = patch_boxes(locations.cuda(), height=28, width=20, size=5, scales=3)
    assert torch.equal(boxes.cpu(), patch_boxes(locations, height=28, width=20, size=5, scales=3))


def test_filterbank_read_on_cuda_matches_the_cpu(full_float32):
    torch.manual_seed(0)
    images = torch.rand(8, 1, 28, 28)
    raw = torch.randn(8, 5)
    params = keep_on_image(raw, min_variance=0.5)
    gpu_params = keep_on_image(raw.cuda(), min_variance=0.5)  # its floor is a CPU scalar tensor
    assert gpu_params.device.type == "cuda"
    torch.testing.assert_close(gpu_params.cpu(), params)
    window = window_from_params(params, height=28, width=28, size=5)
    gpu_window = window_from_params(gpu_params, height=28, width=28, size=5)
    gpu_banks = filterbanks(gpu_window, height=28, width=28)
    for on_gpu, on_cpu in zip(gpu_banks, filterbanks(window, height=28, width=28), strict=True):
        torch.testing.assert_close(on_gpu.cpu(), on_cpu)
    torch.testing.assert_close(read(images.cuda(), gpu_window).cpu(), read(images, window))


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_forward_and_backward_on_cuda_match_the_cpu(name, full_float32):
    torch.manual_seed(0)
    on_cpu = tiny_model(name)
    on_gpu = copy.deepcopy(on_cpu).cuda()
    side = CLASSIFIERS[name]
    images, labels = torch.rand(8, 1, side, side), torch.randint(0, 10, (8,))
    # The same glimpse locations on both devices: the noise is drawn once, on the CPU.
    draws = (on_cpu.sample_noise(images),) if isinstance(on_cpu, Stochastic) else ()
    results = []
    for model, device in ((on_cpu, "cpu"), (on_gpu, "cuda")):
        output = model(images.to(device), *(d.to(device) for d in draws))
        loss = loss_parts(model.loss(output, labels.to(device)))["total"]
        loss.backward()
        assert output.logits.device.type == device
        grads = {k: p.grad.cpu() for k, p in model.named_parameters()}
        results.append((output.logits.detach().cpu(), loss.detach().cpu(), grads))
    (cpu_logits, cpu_loss, cpu_grads), (gpu_logits, gpu_loss, gpu_grads) = results
    torch.testing.assert_close(gpu_logits, cpu_logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(gpu_loss, cpu_loss, rtol=1e-4, atol=1e-5)
    assert gpu_grads.keys() == cpu_grads.keys()
    for key in cpu_grads:
        torch.testing.assert_close(gpu_grads[key], cpu_grads[key], rtol=1e-3, atol=1e-5, msg=key)


def test_draw_generates_on_cuda_as_on_the_cpu(full_float32, tmp_path):
    torch.manual_seed(0)
    on_cpu = create_model("draw", **model_entry("draw").tiny)
    on_gpu = copy.deepcopy(on_cpu).cuda()
    drawn = on_gpu.generate(6, generator=torch.Generator().manual_seed(1))
    expected = on_cpu.generate(6, generator=torch.Generator().manual_seed(1))
    assert drawn.canvases.device.type == "cuda"
    torch.testing.assert_close(drawn.canvases.cpu(), expected.canvases, rtol=1e-4, atol=1e-5)
    # The figures take the GPU's tensors as they come.
    grid = sample_grid(tmp_path / "samples.png", drawn.canvases[:, -1])
    gif = drawing_animation(tmp_path / "drawing.gif", drawn.canvases, drawn.outlines)
    assert grid.stat().st_size > 0 and gif.stat().st_size > 0


def test_task_generators_run_on_cuda_with_a_cuda_generator():
    images = digits(64).cuda()
    generator = torch.Generator("cuda").manual_seed(0)

    canvases = place(images, canvas=60, generator=generator, clutter_pool=images, clutter=4)
    assert canvases.images.shape == (64, 60, 60) and canvases.images.dtype == torch.uint8
    assert {canvases.images.device.type, canvases.digit_boxes.device.type} == {"cuda"}
    assert canvases.clutter_boxes.shape == (64, 4, 4)
    # Each digit lies whole in its box (clutter under it can only brighten a pixel).
    for n, (left, top, right, bottom) in enumerate(canvases.digit_boxes.tolist()):
        assert (canvases.images[n, top:bottom, left:right] >= images[n]).all()
    replayed = place(
        images,
        canvas=60,
        generator=torch.Generator("cuda").manual_seed(0),
        clutter_pool=images,
        clutter=4,
    )
    assert torch.equal(replayed.images, canvases.images)

    shifted = shift_randomly(images, 2, generator=generator)
    assert shifted.device.type == "cuda" and shifted.shape == images.shape
    padded = F.pad(images, (2,) * 4)
    candidates = torch.stack(
        [padded[:, top : top + 28, left : left + 28] for top in range(5) for left in range(5)]
    )  # (25, N, 28, 28): every shift allowed
    assert (candidates == shifted).flatten(2).all(-1).any(0).all()  # each image is one of them
    assert not torch.equal(shifted, images)

    binary = binarize(images, generator=generator)
    assert binary.device.type == "cuda" and binary.shape == images.shape
    assert set(binary.unique().tolist()) <= {0, 255}
    assert (binary[images == 0] == 0).all() and (binary[images == 255] == 255).all()


def test_a_cpu_generator_gives_the_same_images_on_cuda_as_on_the_cpu():
    images = digits(64)
    pool = digits(200)

    def make(device: str) -> list[torch.Tensor]:
        generator = torch.Generator().manual_seed(3)
        # The clutter pool stays on the CPU: pieces are cut there and moved to the digits.
        canvases = place(
            images.to(device), canvas=100, generator=generator, clutter_pool=pool, clutter=8
        )
        return [
            canvases.images,
            canvases.digit_boxes,
            canvases.clutter_boxes,
            shift_randomly(images.to(device), 3, generator=generator),
            binarize(images.to(device), generator=generator),
        ]

    for on_gpu, on_cpu in zip(make("cuda"), make("cpu"), strict=True):
        assert on_gpu.device.type == "cuda"
        assert torch.equal(on_gpu.cpu(), on_cpu)


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_glimpse_figures_of_a_cuda_model(name, tmp_path):
    torch.manual_seed(0)
    model = tiny_model(name).cuda().eval()
    side = CLASSIFIERS[name]
    images = torch.rand(4, 1, side, side, device="cuda")
    episodes = glimpse_episodes(model, images, torch.arange(4, device="cuda"))
    shown = [episodes.images, episodes.outlines, episodes.views, episodes.predictions]
    assert all(t.device.type == "cpu" for t in shown)
    paths = [
        glimpse_grid(tmp_path / "glimpses.png", episodes),
        glimpse_animation(tmp_path / "glimpses.gif", episodes),
        view_strips(tmp_path / "views.png", episodes),
    ]
    assert all(path.stat().st_size > 0 for path in paths)


TINY_GPU = {
    "model": "ram",
    "model_args": {"glimpses": 4, "patch_size": 8, "scales": 2, "location_std": 0.15},
    "data": {"task": "mnist", "sample": True, "val_size": 500},
    "optim": {"lr": 2e-3},
    "trainer": {"max_epochs": 2, "accelerator": "gpu", "devices": 1, "progress_bar": False},
}


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["32-true", "16-mixed"])
def test_tiny_training_on_a_gpu_trains_and_tests(tmp_path, precision):
    config = RunConfig.from_dict(TINY_GPU).updated({"trainer": {"precision": precision}})
    result = fit(config, tmp_path)
    assert result.module.trainer.strategy.root_device.type == "cuda"
    assert result.best_checkpoint.is_file() and result.train_images_per_s > 0
    assert all(torch.isfinite(p).all() for p in result.module.parameters())
    tested = evaluate(result.best_checkpoint, accelerator="gpu")
    assert tested["test_error_pct"] < 80, tested  # chance is 90%
