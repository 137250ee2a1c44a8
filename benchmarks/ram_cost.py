"""RAM's cost against the image's size: per-image inference time and multiply-accumulates of RAM
and of the convolutional baseline on cluttered canvases of 60 to 400 pixels a side, and the
batched retina against a per-sample crop-and-resize loop.

    python benchmarks/ram_cost.py --threads 1

The paper's claim (Mnih et al. 2014, sec. 1): RAM's computation is set by its glimpses, not by
the image, while a convolutional network's grows with the pixels. Both models are the ones of
the cluttered 100x100 row: RAM as the benchmark ``ram_cluttered100_8g`` builds it (8 glimpses
of 12x12 at 4 scales, an LSTM core), and the shallow CNN (8 filters of 10x10, stride 5, then 256
units), built for each canvas size, untrained (cost does not depend on the weights). Times are
compiled as in training, the median of repeated calls divided by the batch, at two batches: 32,
whose 400-pixel canvases (20 MB) fit in this machine's 32 MB last-level cache, so that the time
measures computation (the headline ratio); and 128, whose canvases at 400 pixels (82 MB) do not,
so that every glimpse's coarse patch is read from memory. Multiply-accumulates are counted by
``torch.utils.flop_counter`` on one canvas (half its floating-point operations). Measure with
nothing else running. Writes benchmarks/records/probes/ram_cost.json and docs/figures/ram_cost.png.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from common import write_results
from torch.utils.flop_counter import FlopCounterMode

from foveate import create_model
from foveate.attention.retina import patch_widths, retina
from foveate.bench import load_specs
from foveate.data.mnist import load_mnist_sample
from foveate.data.tasks import place

ROOT = Path(__file__).resolve().parents[1]
SIDES = (60, 100, 200, 400)
BATCHES = (32, 128)  # the first fits 400-pixel canvases in the cache, the second does not
LOOP_BATCH = 128
REPEATS = 20
RAM = "ram_cluttered100_8g"  # the benchmark whose model is measured


def canvases(side: int, count: int) -> torch.Tensor:
    """Cluttered canvases (count, 1, side, side): one MNIST digit and, like cluttered100's 8
    pieces on 100x100, one 8x8 piece of clutter per 1,250 pixels."""
    digits, _ = load_mnist_sample("train")
    generator = torch.Generator().manual_seed(side)
    pieces = max(1, round(side * side / 1250))
    placed = place(
        digits[:count], canvas=side, generator=generator, clutter_pool=digits, clutter=pieces
    )
    return placed.images[:, None].float() / 255


def median_seconds(run, repeats: int) -> float:
    for _ in range(5):  # warm-up (and compilation)
        run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def macs(model, images: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(images)
    return counter.get_total_flops() // 2


def measure(side: int, repeats: int) -> dict:
    """Per-image time (at each of ``BATCHES``) and multiply-accumulates of both models on
    canvases of ``side`` pixels."""
    config = load_specs(ROOT)[RAM].run_config(ROOT)
    ram = create_model(config.model, **config.model_args).eval()
    cnn = create_model("shallow_cnn", image_size=side).eval()
    ram_logits = torch.compile(lambda x, n: ram(x, n).logits)
    cnn_logits = torch.compile(cnn)
    row = {"side": side}
    for batch in BATCHES:
        images = canvases(side, batch)
        noise = ram.sample_noise(images)
        with torch.no_grad():
            ram_s = median_seconds(lambda: ram_logits(images, noise), repeats)  # noqa: B023
            cnn_s = median_seconds(lambda: cnn_logits(images), repeats)  # noqa: B023
        row[f"ram_us_per_image_batch{batch}"] = 1e6 * ram_s / batch
        row[f"cnn_us_per_image_batch{batch}"] = 1e6 * cnn_s / batch
    row["ram_macs"] = macs(lambda x: ram(x, noise[:1]), images[:1])
    row["cnn_macs"] = macs(cnn, images[:1])
    return row


def crop_and_resize_loop(images: torch.Tensor, locations: torch.Tensor, *, size: int, scales: int):
    """The straightforward retina: for each image and scale, pad, slice, and resize by area."""
    H, W = images.shape[-2:]
    out = []
    for image, (x, y) in zip(images, locations.tolist(), strict=True):
        cx, cy = (x + 1) / 2 * W, (y + 1) / 2 * H
        patches = []
        for width in patch_widths(size, scales):
            pad = width
            padded = F.pad(image, (pad, pad, pad, pad))
            left, top = round(cx - width / 2) + pad, round(cy - width / 2) + pad
            crop = padded[:, top : top + width, left : left + width]
            patches.append(F.interpolate(crop[None], size=(size, size), mode="area")[0])
        out.append(torch.stack(patches))
    return torch.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    torch.manual_seed(0)
    rows = [measure(side, REPEATS) for side in SIDES]
    for row in rows:
        for batch in BATCHES:
            print(
                f"{row['side']:>4} px, batch {batch:>3}: RAM "
                f"{row[f'ram_us_per_image_batch{batch}']:8.1f} us/image "
                f"{row['ram_macs']:>12,} MACs; CNN {row[f'cnn_us_per_image_batch{batch}']:8.1f} "
                f"us/image {row['cnn_macs']:>12,} MACs"
            )
    first, last = rows[0], rows[-1]
    span = f"{last['side']}_vs_{first['side']}"

    def ratio(key: str, batch: int) -> float:
        key = f"{key}_us_per_image_batch{batch}"
        return round(last[key] / first[key], 3)

    images = canvases(100, LOOP_BATCH)
    locations = torch.rand(LOOP_BATCH, 2, generator=torch.Generator().manual_seed(1)) * 2 - 1
    batched = retina(images, locations, size=12, scales=4)
    looped = crop_and_resize_loop(images, locations, size=12, scales=4)
    if not torch.allclose(batched, looped, atol=1e-6):
        raise SystemExit("the loop and the retina disagree: the comparison would be meaningless")
    retina_s = median_seconds(lambda: retina(images, locations, size=12, scales=4), REPEATS)
    compiled = torch.compile(lambda x, loc: retina(x, loc, size=12, scales=4))
    compiled_s = median_seconds(lambda: compiled(images, locations), REPEATS)
    loop_s = median_seconds(
        lambda: crop_and_resize_loop(images, locations, size=12, scales=4), REPEATS // 4
    )
    metrics = {
        f"ram_cost_ratio_{span}": ratio("ram", BATCHES[0]),
        f"cnn_cost_ratio_{span}": ratio("cnn", BATCHES[0]),
        f"ram_cost_ratio_{span}_batch{BATCHES[1]}": ratio("ram", BATCHES[1]),
        f"cnn_cost_ratio_{span}_batch{BATCHES[1]}": ratio("cnn", BATCHES[1]),
        f"ram_macs_ratio_{last['side']}_vs_{first['side']}": round(
            last["ram_macs"] / first["ram_macs"], 3
        ),
        f"cnn_macs_ratio_{last['side']}_vs_{first['side']}": round(
            last["cnn_macs"] / first["cnn_macs"], 3
        ),
        "retina_speedup_vs_loop": round(loop_s / retina_s, 1),
        "compiled_retina_speedup_vs_loop": round(loop_s / compiled_s, 1),
        "retina_ms_per_batch": round(1e3 * retina_s, 2),
        "compiled_retina_ms_per_batch": round(1e3 * compiled_s, 2),
        "loop_ms_per_batch": round(1e3 * loop_s, 2),
        "sizes": [
            {k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()} for row in rows
        ],
    }
    path = write_results(
        "ram_cost",
        metrics=metrics,
        seed=0,
        wall_s=time.perf_counter() - started,
        notes=(
            f"Inference on cluttered canvases, {args.threads} thread(s), torch.compile'd, median "
            "of repeated calls / batch. ram_cost_ratio_*: at batch 32 (400-pixel canvases fit "
            "in the 32 MB last-level cache); *_batch128: at batch 128 (82 MB of 400-pixel "
            f"canvases, read from memory). RAM: the model of benchmark {RAM} (8 "
            "glimpses of 12x12 at 4 scales, LSTM core; the crop path: a compiled graph never "
            "reads through the summed-area table), the shallow CNN of RAM's tables. Retina vs "
            f"loop: one glimpse of 4 scales on {LOOP_BATCH} canvases of 100x100, the retina eager "
            "(as the loop) and compiled, checked to give the same patches."
        ),
    )
    print(f"wrote {path}")
    figure(rows, ROOT / "docs" / "figures" / "ram_cost.png")


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sides = [r["side"] for r in rows]
    fig, (time_ax, macs_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    for key, label, colour in [("ram", "RAM, 8 glimpses", "C0"), ("cnn", "shallow CNN", "C1")]:
        for batch, style in zip(BATCHES, ("o-", "s--"), strict=True):
            time_ax.plot(
                sides,
                [r[f"{key}_us_per_image_batch{batch}"] for r in rows],
                style,
                color=colour,
                label=f"{label}, batch {batch}",
            )
        macs_ax.plot(sides, [r[f"{key}_macs"] / 1e6 for r in rows], "o-", color=colour, label=label)
    for ax, ylabel in [(time_ax, "microseconds per image"), (macs_ax, "million MACs per image")]:
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sides, [str(s) for s in sides])
        ax.set_xlabel("canvas side (pixels)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    time_ax.legend(fontsize=7)
    fig.suptitle("Cost against image size: RAM looks at the same pixels on any canvas")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
