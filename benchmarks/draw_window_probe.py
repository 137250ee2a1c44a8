"""Where do a DRAW classifier's read windows go? Grid centres and intensities, glimpse by glimpse.

    python benchmarks/draw_window_probe.py CHECKPOINT \
        --results-name NAME [--unbounded]

Runs a checkpoint of ``draw_classifier`` on validation canvases (held out of the training
digits) and reports, for each glimpse t, the fraction of grid centres off the canvas, the median
intensity gamma, filter variance sigma^2 and stride delta, and the mean |glimpse| fed to the
LSTM, and the validation error. ``--unbounded`` reads the windows through eq. 21 as it stands
(checkpoints trained before ``keep_on_image``).
"""

from __future__ import annotations

import argparse
import time

import torch
from common import write_results

from foveate.data.datamodule import TaskDataModule
from foveate.training.fit import load_config, load_module


@torch.no_grad()
def probe(model, images: torch.Tensor) -> tuple[dict[str, float], torch.Tensor]:
    """The classifier's glimpse loop, step by step, to see each window; also its logits."""
    side = model.image_size
    h = images.new_zeros(len(images), model.core.hidden_size)
    cell = torch.zeros_like(h)
    metrics = {}
    for t in range(model.glimpses):
        glimpse, window = model.reader(images[:, None], h)
        off = ((window.centre < 0.5) | (window.centre > side + 0.5)).any(-1)
        metrics[f"off_canvas_pct_t{t + 1}"] = round(100 * off.float().mean().item(), 2)
        metrics[f"median_gamma_t{t + 1}"] = round(window.intensity.median().item(), 3)
        metrics[f"median_variance_t{t + 1}"] = round(window.variance.median().item(), 3)
        metrics[f"median_stride_t{t + 1}"] = round(window.stride.median().item(), 3)
        metrics[f"mean_abs_glimpse_t{t + 1}"] = round(glimpse.abs().mean().item(), 4)
        h, cell = model.core(glimpse, (h, cell))
    return metrics, model.classify(h)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--data-dir", help="MNIST directory, if not the run's")
    parser.add_argument("--results-name", required=True)
    parser.add_argument("--unbounded", action="store_true")
    parser.add_argument("--canvases", type=int, default=2000)
    args = parser.parse_args()
    start = time.time()
    config = load_config(args.checkpoint)
    model = load_module(args.checkpoint, config).model.eval()
    if args.unbounded:
        model.reader.bounded = False
    data = TaskDataModule(
        **{**config.data, **({"data_dir": args.data_dir} if args.data_dir else {})}
    )
    data.prepare_data()
    data.setup("fit")
    images, labels = data.datasets["val"].__getitems__(list(range(args.canvases)))
    metrics, logits = probe(model, images)
    wrong = logits.argmax(-1) != labels
    metrics["val_error_pct"] = round(100 * wrong.float().mean().item(), 2)
    for name, value in metrics.items():
        print(f"{name:24s} {value}")
    write_results(
        args.results_name,
        metrics=metrics,
        seed=0,
        wall_s=time.time() - start,
        notes=f"{args.checkpoint}, on the first {args.canvases} validation canvases. "
        "A centre is off the canvas when it lies more than half a pixel outside the outer pixels.",
    )


if __name__ == "__main__":
    main()
