"""Where a spatial transformer looks: does its transform depend on the canvas, and does it centre
on the digit?

    python benchmarks/stn_window_probe.py stn_cluttered60 --name stn_cluttered60_window

For a spatial transformer (a benchmark's or probe's name, whose record names the weights of its seed
0, or a checkpoint file), on the first 2,000 test canvases of its task, regenerated with the digits'
boxes (the generator is replayed with the test set's seed, and the canvases are checked to be the
test set's): the spread of each of theta's six parameters over the canvases (0 means one transform
for every canvas), the sampling grid's mean width in pixels, and the fraction of canvases on which
the grid's centre falls inside the digit's 28x28 box. Writes the probe record
benchmarks/records/probes/<name>.json.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import load_data, load_trained, write_results

from foveate.data.tasks import place

CANVASES = 2000


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("model", help="a benchmark of the stn, or a checkpoint")
    parser.add_argument("--data-dir", help="the dataset's directory, if not the run's")
    parser.add_argument("--name", required=True, help="the probe record's name")
    args = parser.parse_args()
    started = time.perf_counter()
    model, config, source = load_trained(args.model)
    data = load_data(config, data_dir=args.data_dir, stage="test")
    test = data.datasets["test"]
    n = min(CANVASES, len(test))
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
    path = write_results(
        args.name,
        metrics=metrics,
        seed=0,
        wall_s=time.perf_counter() - started,
        notes=f"{source} on the first {n} test canvases of {spec.name}. "
        "theta_std_i: the standard deviation over the canvases of theta's entries in the order "
        "a11, a12, tx, a21, a22, ty; a digit's box is its 28x28 square.",
        model=source,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
