"""Training a model of sequences on a long-term memory problem, and telling whether it solved it.

The model owns its loss (the squared error of its answer, ``foveate.models.ffattention``); this
module owns the optimiser, the logging and the evaluation. Hochreiter and Schmidhuber (Neural
Computation 1997, sec. 5.4) count an answer right when it lies within 0.04 of the target, and
Raffel and Ellis's code (github.com/craffel/ff-attention) calls a problem solved when every test
answer does; so besides the mean squared error this module reports the share of answers within
0.04, the largest error, and ``solved`` (1 when every answer of the set is within 0.04). For a
model that weighs the steps, it also reports how much of the weight lay on the two marked steps.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from torch import Tensor

from foveate.models.ffattention import AnswersSequences
from foveate.training.module import TRAINING_MODULES, Metered, Metric, TrainingModule

Batch = tuple[Tensor, dict[str, Tensor]]
TOLERANCE = 0.04  # an answer within this of the target is right (Hochreiter, Schmidhuber 1997)


@TRAINING_MODULES.register("long_memory")
class LongMemoryModule(TrainingModule):
    """Trains a model of sequences by its squared error; reports whether it solved the problem.

    Takes ``TrainingModule``'s arguments. Batches are (steps (B, T, I), truth) with truth's
    ``target`` (B,), ``mask`` (B, T) and ``marked`` (B, T) (``foveate.data.long_sequences``);
    the model is an ``AnswersSequences``.
    """

    metrics = {
        "mse": Metric("min", "mean squared error"),
        "within_pct": Metric("max", f"answers within {TOLERANCE} of the target", "%"),
        "max_error": Metric("min", "largest absolute error"),
        "solved": Metric("max", f"1 when every answer is within {TOLERANCE}, else 0"),
        "weight_on_marked_pct": Metric("max", "weight on the two marked steps", "%"),
    }
    monitor = "val_mse"
    progress_bar = ("within_pct",)
    # How each metric's batches are combined into the set's value (and across processes);
    # the others are weighted means.
    reductions: ClassVar[dict[str, str]] = {"max_error": "max", "solved": "min"}

    def losses(self, batch: Batch, *draws: Tensor) -> dict[str, Tensor]:
        steps, truth = batch
        output = self.model(steps, *draws, mask=truth["mask"])
        return self._as_dict(self.model.loss(output, truth["target"]))

    def batch_metrics(self, batch: Batch, stage: Literal["val", "test"]) -> dict[str, Metered]:
        """Each metric of a batch, with how many sequences it averages."""
        steps, truth = batch
        model: AnswersSequences = self.model
        output = model.answer_sequence(steps, mask=truth["mask"])
        error = (output.prediction.float() - truth["target"].float()).abs()  # (B,)
        B = len(error)
        metrics = {
            "mse": ((error**2).mean(), B),
            "within_pct": (100 * (error < TOLERANCE).float().mean(), B),
            "max_error": (error.max(), B),
            "solved": ((error < TOLERANCE).all().float(), B),
        }
        if output.weights is not None:
            on_marked = (output.weights * truth["marked"]).sum(1)  # (B,)
            metrics["weight_on_marked_pct"] = (100 * on_marked.mean(), B)
        return metrics

    def _log_metrics(self, batch: Any, stage: Literal["val", "test"]) -> None:
        for name, (value, count) in self.batch_metrics(batch, stage).items():
            key = f"{stage}_{name}"
            shown = key == self.monitor or (stage == "val" and name in self.progress_bar)
            self.log(
                key,
                value,
                prog_bar=shown,
                sync_dist=True,
                batch_size=count,
                reduce_fx=self.reductions.get(name, "mean"),
            )

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        line = (
            f"test MSE {metrics['test_mse']:.3g}, {metrics['test_within_pct']:.2f}% of the "
            f"answers within {TOLERANCE} (largest error {metrics['test_max_error']:.3g}): "
            f"{'solved' if metrics['test_solved'] >= 1 else 'not solved'}"
        )
        if "test_weight_on_marked_pct" in metrics:
            line += f", {metrics['test_weight_on_marked_pct']:.1f}% of the weight on the marks"
        if metrics.get("test_images") is not None:
            line += f" ({metrics['test_images']} sequences)"
        return line + cls.best_validation(metrics, "MSE", ".3g")
