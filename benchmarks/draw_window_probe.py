"""Where do a DRAW classifier's read windows go? Grid centres and intensities, glimpse by glimpse.

    python benchmarks/draw_window_probe.py draw_cluttered100 --name draw_cluttered100_windows

Runs a ``draw_classifier`` (a benchmark's or probe's name, whose record names the weights of its
seed 0, or a checkpoint file) on the first 2,000 validation canvases (held out of the training
digits), glimpse by glimpse through the model's own ``step``, and reports for each glimpse t the
fraction of grid centres off the canvas, the median intensity gamma, filter variance sigma^2 and
stride delta, and the mean |glimpse| fed to the LSTM; and the validation error. Writes the probe
record benchmarks/records/probes/<name>.json.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import load_data, load_trained, write_results

from foveate.models.draw import DrawClassifier

CANVASES = 2000


@torch.no_grad()
def probe(model: DrawClassifier, images: torch.Tensor) -> tuple[dict[str, float], torch.Tensor]:
    """Each glimpse's window over images (B, C, H, W), from the classifier's own step; also its
    logits (B, classes) after the last."""
    side = model.image_size
    state = model.initial_state(images)
    metrics = {}
    for t in range(1, model.glimpses + 1):
        state, read = model.step(state, images)
        window = read.window
        off = ((window.centre < 0.5) | (window.centre > side + 0.5)).any(-1)
        metrics[f"off_canvas_pct_t{t}"] = round(100 * off.float().mean().item(), 2)
        metrics[f"median_gamma_t{t}"] = round(window.intensity.median().item(), 3)
        metrics[f"median_variance_t{t}"] = round(window.variance.median().item(), 3)
        metrics[f"median_stride_t{t}"] = round(window.stride.median().item(), 3)
        metrics[f"mean_abs_glimpse_t{t}"] = round(read.glimpse.abs().mean().item(), 4)
    return metrics, model.classify(state.h)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a benchmark of draw_classifier, or a checkpoint")
    parser.add_argument("--data-dir", help="MNIST directory, if not the run's")
    parser.add_argument("--name", required=True, help="the probe record's name")
    args = parser.parse_args()
    start = time.time()
    model, config, source = load_trained(args.model)
    data = load_data(config, data_dir=args.data_dir, stage="fit")
    val = data.datasets["val"]
    n = min(CANVASES, len(val))
    images, labels = val.__getitems__(list(range(n)))
    metrics, logits = probe(model, images)
    wrong = logits.argmax(-1) != labels
    metrics["val_error_pct"] = round(100 * wrong.float().mean().item(), 2)
    for name, value in metrics.items():
        print(f"{name:24s} {value}")
    path = write_results(
        args.name,
        metrics=metrics,
        seed=0,
        wall_s=time.time() - start,
        notes=f"{source}, on the first {n} validation canvases. "
        "A centre is off the canvas when it lies more than half a pixel outside the outer pixels.",
        model=source,
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
