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

from foveate.training.module import TRAINING_MODULES, TrainingModule

Batch = tuple[Tensor, dict[str, Tensor]]


@TRAINING_MODULES.register("sets")
class SetModule(TrainingModule):
    """Trains a set model by its loss; reports accuracy and where its attention peaked.

    Takes ``TrainingModule``'s arguments. Batches are (items (B, K, 1, h, w), truth) with
    truth's ``mask``, ``query``, ``target`` and ``relevant`` (``foveate.data.sets``).
    """

    monitor = "val_error_pct"
    monitor_mode = "min"

    def losses(self, batch: Batch, *draws: Tensor) -> dict[str, Tensor]:
        items, truth = batch
        output = self.model(items, *draws, mask=truth["mask"], query=truth["query"])
        return self._as_dict(self.model.loss(output, truth["target"]))

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        losses = self._train_losses(batch, *self.draw_noise(batch[0]))
        self._log_training_losses(losses)
        return losses["total"]

    def _evaluate(self, batch: Batch) -> dict[str, tuple[Tensor, int]]:
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

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        metrics = self._evaluate(batch)
        accuracy, count = metrics["accuracy_pct"]
        self.log("val_error_pct", 100 - accuracy, prog_bar=True, sync_dist=True, batch_size=count)
        if "attention_on_relevant_pct" in metrics:
            value, count = metrics["attention_on_relevant_pct"]
            self.log("val_attention_on_relevant_pct", value, sync_dist=True, batch_size=count)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        for name, (value, count) in self._evaluate(batch).items():
            self.log(f"test_{name}", value, sync_dist=True, batch_size=count)

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        line = f"test accuracy {metrics['test_accuracy_pct']:.2f}% ({metrics['test_images']} sets)"
        if "test_attention_on_relevant_pct" in metrics:
            line += (
                f", highest weight on the deciding item in "
                f"{metrics['test_attention_on_relevant_pct']:.2f}% of the sets that have one"
            )
        if "best_val_error_pct" in metrics:
            line += f", best validation error {metrics['best_val_error_pct']:.2f}%"
        return line
