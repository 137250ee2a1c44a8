"""How a scene model counts: true against inferred object counts on the validation scenes.

    python benchmarks/air_count_probe.py air_multimnist --name air_probe
    python benchmarks/air_count_probe.py dair_interpolation_memoryless --counts 2

Reads the validation scenes (never the test set: this is a diagnostic for choosing settings) of
a scene model's run (a benchmark's or probe's name, whose record names the weights of its seed
0, or a checkpoint file) and prints the confusion of true and inferred counts (rows: true count,
columns: objects found by the most likely decomposition), and per true count each step's mean
q(z_pres = 1) and window half-width. Over-segmentation (a digit explained by several objects)
shows as counts above the diagonal, merging (two digits in one window) below it. For scenes of
two or more digits it also gives the accuracy by how far apart the nearest two digits are (the
larger of their horizontal and vertical offsets, in pixels): digits a few pixels apart are one
blot.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import load_data, load_trained, write_results

from foveate.models.air import where_to_window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a benchmark or probe of air or dair, or a checkpoint")
    parser.add_argument("--data-dir", help="the dataset's directory, if not the run's")
    parser.add_argument("--name", help="also write benchmarks/records/probes/<name>.json")
    parser.add_argument(
        "--counts",
        help="make the validation scenes with these digit counts instead of the run's (e.g. 2: "
        "how a model trained on 0, 1 and 3 takes two digits, on validation digits)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    counts = {"counts": [int(c) for c in args.counts.split(",")]} if args.counts else {}
    model, config, source = load_trained(args.model)
    data = load_data(config, data_dir=args.data_dir, **counts)
    true_counts, found_counts, rhos, scales, boxes = [], [], [], [], []
    with torch.no_grad():
        for images, truth in data.val_dataloader():
            out = model(images, mode=True)
            true_counts.append(truth["count"])
            boxes.append(truth["boxes"])
            found_counts.append(out.z_pres.sum(-1).round().long())
            rhos.append(out.pres_probs)
            scales.append(where_to_window(out.z_where, model.scale_range)[..., 0])
    true, found = torch.cat(true_counts), torch.cat(found_counts)
    rho, scale, box = torch.cat(rhos), torch.cat(scales), torch.cat(boxes)
    rows, columns = int(true.max()) + 1, model.steps + 1
    confusion = torch.zeros(rows, columns, dtype=torch.long)
    confusion.index_put_((true, found), torch.ones_like(true), accumulate=True)
    accuracy = 100 * (true == found).float().mean().item()
    print(f"validation count accuracy {accuracy:.2f}% on {len(true)} scenes")
    print("true \\ found " + " ".join(f"{c:>6}" for c in range(columns)))
    for r in range(rows):
        print(f"{r:>12} " + " ".join(f"{int(v):>6}" for v in confusion[r]))
    metrics: dict[str, float] = {"val_count_accuracy_pct": round(accuracy, 2)}
    for r in range(rows):
        here = true == r
        print(
            f"true count {r}: q(z_pres=1) per step {rho[here].mean(0).numpy().round(3)}, "
            f"window half-width {scale[here].mean(0).numpy().round(2)}"
        )
        for c in range(columns):
            metrics[f"true{r}_found{c}"] = int(confusion[r, c])
    for r in range(2, rows):
        here_r = true == r
        if not here_r.any():
            continue
        centres = box[here_r, :r, :2]  # (scenes, r, 2) pixels
        offsets = (centres[:, :, None] - centres[:, None]).abs().amax(-1)  # (scenes, r, r)
        offsets = offsets + torch.eye(r) * 1e9
        closest = offsets.flatten(1).amin(-1)  # (scenes,) the nearest pair's offset
        right = (found == true)[here_r]
        for lo, hi in ((0, 3), (4, 7), (8, 11), (12, 99)):
            here = (closest >= lo) & (closest <= hi)
            if here.any():
                share = 100 * right[here].float().mean().item()
                label = f"{lo}-{hi}" if hi < 99 else f"{lo}+"
                print(
                    f"{r} digits, nearest two {label} px apart: {int(here.sum())} scenes, "
                    f"{share:.1f}% right"
                )
                key = f"{r}_digits_nearest_{label.replace('+', 'plus')}px_apart_accuracy_pct"
                metrics[key] = round(share, 1)
    if args.name:
        path = write_results(
            args.name,
            metrics=metrics,
            seed=0,
            wall_s=time.perf_counter() - started,
            notes=(
                f"Validation scenes of {source} (data_seed "
                f"{config.data.get('data_seed', 0)}): true<r>_found<c> counts scenes of r digits "
                "explained by c objects in the most likely decomposition."
            ),
        )
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
