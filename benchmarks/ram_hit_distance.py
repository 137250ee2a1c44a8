"""How far a trained RAM's glimpses land from the digit, on the validation canvases.

    python benchmarks/ram_hit_distance.py ram_cluttered100_8g --name cluttered100_8g
    python benchmarks/ram_hit_distance.py c100_ablation_base --name c100_ablation_base  # a probe

The hit rate (``foveate.reports.hits``) says whether a glimpse of the episode's second half
covers the digit's centre with its finest window; this says, for the canvases it misses, by how
much: a few pixels (the policy found the digit and the finest window sits beside its centre) or
far (it looks elsewhere). For each path, sampled as in the hit rate and greedy (the policy's
mean), it measures the Chebyshev distance in pixels from each glimpse's finest window centre
to the digit's centre and bins, per canvas, the nearest glimpse of the second half. The model is
a benchmark's or a probe's name (the weights its record names for seed 0) or a checkpoint file.
Validation canvases only (held-out training digits): it is for choosing what to change, and its
``sampled_hit_rate_pct`` is a probe's validation hit rate. Writes the probe
record benchmarks/records/probes/ram_hit_distance_<name>.json (its nested figures flattened to
metrics, kept whole under ``details``).
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from common import load_data, load_trained, write_results

from foveate.reports.hits import glimpse_offsets

EDGES = (1.0, 1.5, 2.0, 4.0, 8.0)  # in finest-window half-widths: 1 is a hit


def measure(model, images, labels, centres, *, greedy: bool, batch_size: int = 500) -> dict:
    offsets, halves, step_logits, locations = [], [], [], []
    for start in range(0, len(labels), batch_size):
        batch = images[start : start + batch_size][:, None].float() / 255
        offset, half, output = glimpse_offsets(
            model, batch, centres[start : start + batch_size], greedy=greedy
        )
        offsets.append(offset)
        halves.append(half)
        step_logits.append(output.step_logits)
        locations.append(output.locations)
    offset, half = torch.cat(offsets), torch.cat(halves)
    step_logits, locations = torch.cat(step_logits), torch.cat(locations)  # (N, T, C), (N, T, 2)
    right = step_logits[:, -1].argmax(-1) == labels
    T = offset.shape[1]
    true_class = step_logits.softmax(-1).gather(2, labels[:, None, None].expand(-1, T, 1))[..., 0]
    # in half-widths, so 1 is the edge of the finest window whatever the retina's size
    distance = (offset.abs() / half).amax(-1)  # (N, T)
    nearest = distance[:, T // 2 :].amin(1)  # (N,)
    bins, low = {}, -1.0
    for edge in (*EDGES, float("inf")):
        name = f"within_{edge:g}" if edge != float("inf") else f"beyond_{EDGES[-1]:g}"
        bins[name] = round(100 * ((nearest > low) & (nearest <= edge)).float().mean().item(), 2)
        low = edge
    missed, far = nearest > 1, nearest > 2
    return {
        "hit_rate_pct": round(100 * (~missed).float().mean().item(), 2),
        "error_pct": round(100 * (~right).float().mean().item(), 2),
        "nearest_later_glimpse_pct_by_half_widths": bins,
        "median_nearest_of_misses_px": (
            round((nearest[missed] * half[missed, 0, 0]).median().item(), 1)
            if missed.any()
            else None
        ),
        "covers_centre_pct_by_step": [
            round(100 * (distance[:, t] <= 1).float().mean().item(), 1) for t in range(T)
        ],
        "error_pct_when_missed": round(100 * (~right[missed]).float().mean().item(), 2)
        if missed.any()
        else None,
        "error_pct_when_hit": round(100 * (~right[~missed]).float().mean().item(), 2),
        "hit_rate_pct_by_class": [
            round(100 * (nearest[labels == k] <= 1).float().mean().item(), 1)
            for k in range(step_logits.shape[-1])
        ],
        # the canvases whose nearest later glimpse is beyond twice the half-width: which
        # digits, how sure the model already was when the second half began, and where it looked
        "far_misses": {
            "pct": round(100 * far.float().mean().item(), 2),
            "count_by_class": torch.bincount(labels[far], minlength=step_logits.shape[-1]).tolist(),
            **sureness_and_place(far, true_class, locations),
            **most_common(far, labels, true_class, locations),
        },
    }


def sureness_and_place(among: torch.Tensor, true_class, locations, prefix: str = "") -> dict:
    """For the canvases ``among`` (N,) bool: the true class's mean probability after each
    glimpse, and the mean location of the episode's second half."""
    T = locations.shape[1]
    return {
        f"{prefix}true_class_probability_by_step": [
            round(p, 3) for p in true_class[among].mean(0).tolist()
        ],
        f"{prefix}later_locations_mean_xy": [
            round(v, 2) for v in locations[among][:, T // 2 :].mean((0, 1)).tolist()
        ],
    }


def most_common(far: torch.Tensor, labels, true_class, locations) -> dict:
    """The same for the far misses of the class that has most of them."""
    if not far.any():
        return {}
    k = torch.bincount(labels[far]).argmax().item()
    among = far & (labels == k)
    return {"most_common_class": k, **sureness_and_place(among, true_class, locations, "its_")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a benchmark or probe of ram, or a checkpoint")
    parser.add_argument("--name", required=True, help="the record's name, e.g. the table row")
    parser.add_argument("--data-dir", help="the dataset's directory, if not the run's")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    started = time.perf_counter()
    model, config, source = load_trained(args.model)
    data = load_data(config, data_dir=args.data_dir, stage="fit")
    val = data.datasets["val"]
    paths = {
        path: measure(model, val.images, val.labels, val.centres, greedy=path == "greedy")
        for path in ("sampled", "greedy")
    }
    path = write_results(
        f"ram_hit_distance_{args.name}",
        metrics=paths,
        seed=0,
        wall_s=time.perf_counter() - started,
        title=f"How far RAM's glimpses land from the digit, {args.name}: {len(val.labels)} "
        f"validation canvases of {config.data['task']}",
        model=source,
        notes=(
            f"{len(val.labels)} validation canvases of {config.data['task']}, one episode per path. "
            "Distances in the finest window's half-widths (Chebyshev, centre to digit centre): "
            "<= 1 covers the centre (a hit). nearest_later_glimpse: the nearest glimpse of the "
            "episode's second half, per canvas, binned by the upper edge. greedy: the policy's "
            "mean at every step (no exploration noise), so the core sees other glimpses too. "
            "far_misses: canvases whose nearest later glimpse lies beyond 2 half-widths; "
            "later_locations_mean_xy in the model's normalised coordinates (-1 to 1, x right, "
            "y down)."
        ),
    )
    print(json.dumps(paths, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
