"""Where a spatial transformer looks: does its transform depend on the canvas, and does it centre
on the digit?

    python benchmarks/stn_window_probe.py runs/bench-stn_cluttered60/checkpoints/best.ckpt \
        --results-name stn_cluttered60_window

On the first N test canvases of the checkpoint's task, regenerated with the digits' boxes (the
generator is replayed with the test set's seed, and the canvases are checked to be the test
set's): the spread of each of theta's six parameters over the canvases (0 means one transform
for every canvas), the sampling grid's mean width in pixels, and the fraction of canvases on
which the grid's centre falls inside the digit's 28x28 box.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import load_run, write_results

from foveate.data.tasks import place


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data-dir", help="the dataset's directory, if not the run's")
    parser.add_argument("--results-name", required=True)
    parser.add_argument("--canvases", type=int, default=2000)
    args = parser.parse_args()
    started = time.perf_counter()
    model, config, data = load_run(args.checkpoint, data_dir=args.data_dir, stage="test")
    test = data.datasets["test"]
    n = min(args.canvases, len(test))
    images, _ = test.__getitems__(list(range(n)))
    # The test canvases are made once, from a generator seeded with data_seed: replay it.
    generator = torch.Generator().manual_seed(data.data_seed)
    spec = test.spec
    canvases = place(
        test.digits,
        canvas=spec.canvas,
        generator=generator,
        clutter_pool=test.clutter_pool,
        clutter=spec.clutter,
        piece=spec.piece,
    )
    assert torch.equal(canvases.images[:n, None].float() / 255, images), "replay differs"
    boxes = canvases.digit_boxes[:n].float()  # (n, 4) left, top, right, bottom
    with torch.no_grad():
        theta = model.localisation(images)  # (n, 2, 3)
    side = images.shape[-1]
    centre = (theta[:, :, 2] + 1) / 2 * side  # (n, 2) pixels (x, y)
    inside = (
        (centre[:, 0] >= boxes[:, 0])
        & (centre[:, 0] < boxes[:, 2])
        & (centre[:, 1] >= boxes[:, 1])
        & (centre[:, 1] < boxes[:, 3])
    )
    digit_centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    width = theta[:, 0, 0].abs() * side  # the grid's horizontal extent, in pixels
    spread = theta.flatten(1).std(0)
    metrics = {f"theta_std_{i}": round(v, 4) for i, v in enumerate(spread.tolist())}
    metrics.update(
        grid_width_px_mean=round(width.mean().item(), 2),
        centre_in_digit_box_pct=round(100 * inside.float().mean().item(), 2),
        centre_to_digit_centre_px_median=round(
            (centre - digit_centre).norm(dim=-1).median().item(), 2
        ),
        canvases=n,
    )
    for name, value in metrics.items():
        print(f"{name:34s} {value}")
    write_results(
        args.results_name,
        metrics=metrics,
        seed=0,
        wall_s=time.perf_counter() - started,
        notes=f"{args.checkpoint} on the first {n} test canvases of {spec.name}. theta_std_i: the "
        "standard deviation over the canvases of theta's entries in the order a11, a12, tx, a21, "
        "a22, ty; a digit's box is its 28x28 square.",
    )


if __name__ == "__main__":
    main()
