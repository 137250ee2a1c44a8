"""Training a model over sets of digits (the pointer, the bag classifier) and checking its weights.

The model owns its loss (the answer's cross-entropy, or REINFORCE for hard attention) and its
most likely answer (``answer``). This module owns the optimiser, the logging and the
evaluation: the answer's accuracy and, for a model with item-wise weights, how often its
highest weight falls on an item the answer rests on (the queried digit; a 9 in a positive bag),
over the sets that have one.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from foveate.training.module import TRAINING_MODULES, Metered, Metric, TrainingModule

Batch = tuple[Tensor, dict[str, Tensor]]


@TRAINING_MODULES.register("sets")
class SetModule(TrainingModule):
    """Trains a set model by its loss; reports accuracy and where its attention peaked.

    Takes ``TrainingModule``'s arguments. Batches are (items (B, K, 1, h, w), truth) with
    truth's ``mask``, ``query``, ``target`` and ``relevant`` (``foveate.data.sets``).
    """

    metrics = {
        "accuracy_pct": Metric("max", "accuracy (sets answered right)", "%"),
        "attention_on_relevant_pct": Metric(
            "max", "sets, of those that have one, whose highest weight is on a deciding item", "%"
        ),
    }
    monitor = "val_accuracy_pct"

    def losses(self, batch: Batch, *draws: Tensor) -> dict[str, Tensor]:
        items, truth = batch
        output = self.model(items, *draws, mask=truth["mask"], query=truth["query"])
        return self._as_dict(self.model.loss(output, truth["target"]))

    def batch_metrics(self, batch: Batch, stage: str) -> dict[str, Metered]:
        """Each metric of a batch, with how many sets it averages."""
        items, truth = batch
        output = self.model.answer(items, mask=truth["mask"], query=truth["query"])
        right = (output.logits.argmax(-1) == truth["target"]).float()
        metrics = {"accuracy_pct": (100 * right.mean(), len(right))}
        relevant = truth["relevant"]
        has = relevant.any(1)
        if output.weights is not None and has.any():
            peak = output.weights.argmax(-1)  # (B,)
            on = relevant.gather(1, peak[:, None]).squeeze(1)[has]
            metrics["attention_on_relevant_pct"] = (100 * on.float().mean(), int(has.sum()))
        return metrics

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        line = f"test accuracy {metrics['test_accuracy_pct']:.2f}% ({metrics['test_images']} sets)"
        if "test_attention_on_relevant_pct" in metrics:
            line += (
                f", highest weight on the deciding item in "
                f"{metrics['test_attention_on_relevant_pct']:.2f}% of the sets that have one"
            )
        return line + cls.best_validation(metrics, "accuracy")
