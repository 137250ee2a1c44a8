"""What AIR's latents are worth: small classifiers of multi-MNIST scenes, on AIR's latents or on pixels.

Eslami et al., "Attend, Infer, Repeat", NIPS 2016, sec. 3.1 ("representational power", fig. 7):
with AIR's inference network frozen, a small network learns from its latents the sum of a
scene's digits and whether they are in ascending order, from few labels, beside a CNN trained
on the pixels with the same labels (the tasks: ``foveate.data.scene_tasks``). The paper says
neither network's form beyond "a small network" and "a CNN"; these are ours:

- ``RelationReader`` ('relation_reader'): the scene's pixels through a frozen AIR, then its
  per-step latents read as a set with pairwise terms, rho(sum_i p_i phi(z_i) + sum_{i != j} p_i
  p_j psi(z_i, z_j)), p_i the step's z_pres: a set reader (Zaheer et al., "Deep Sets", NIPS
  2017) with the pairwise terms of a relation network (Santoro et al., "A simple neural network
  module for relational reasoning", NIPS 2017), so that it need not learn AIR's step order and
  can compare two objects' classes and positions, which the order task needs.
- ``PixelCNN`` ('pixel_cnn'): the CNN on pixels, three 3x3 convolutions with 2x2 max-pooling and
  two fully connected layers (not van den Oord et al.'s autoregressive PixelCNN).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors import safe_open
from safetensors.torch import load_file
from torch import Tensor, nn

from foveate.models import create_model, register_model
from foveate.models.air import TINY as TINY_AIR
from foveate.models.air import AIROutput
from foveate.models.cnn import WholeImageClassifier, cross_entropy_loss
from foveate.models.interface import ClassifierLoss, check_input

CHECKOUT = Path(__file__).resolve().parents[2]  # where benchmarks/ lies, for relative paths
ENCODER_SEED = 0  # the initialisation of an encoder built afresh (``encoder: null``)


def weights_path(path: str | os.PathLike) -> Path:
    """A weights file: as given if it exists (relative paths from the working directory), else
    relative to the checkout foveate is installed from."""
    given = Path(path)
    if given.is_file() or given.is_absolute():
        return given
    return CHECKOUT / given


def load_encoder(path: str | os.PathLike) -> nn.Module:
    """The model of a weights file written by the benchmark runner (``foveate.bench.weights``):
    ``<name>.safetensors``, its state dict with its run config in the file's metadata, and the
    same config beside it in ``<name>.yaml``; the config's ``model`` and ``model_args`` build
    it."""
    weights = weights_path(path)
    if not weights.is_file():
        raise FileNotFoundError(
            f"encoder weights not found: {weights} (the benchmark runner writes them: "
            "foveate bench air_multimnist --seeds 0)"
        )
    with safe_open(str(weights), framework="pt") as file:
        saved = (file.metadata() or {}).get("foveate_config")
    beside = weights.with_suffix(".yaml")
    if saved is None and not beside.is_file():
        raise ValueError(f"{weights}: no run config in its metadata nor in {beside.name} beside it")
    run = yaml.safe_load(saved if saved is not None else beside.read_text())
    model = create_model(run["model"], **(run.get("model_args") or {}))
    model.load_state_dict(load_file(str(weights)))
    return model


def digest(module: nn.Module) -> Tensor:
    """SHA-256 (32 bytes, uint8) of a module's state: its tensors' names and bytes in order."""
    hashed = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        hashed.update(name.encode())
        hashed.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    return torch.tensor(list(hashed.digest()), dtype=torch.uint8)


def _same_encoder(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
    """Refuse weights trained on another encoder than the one the model has read (the file at
    ``encoder`` written again since): their ``encoder_digest`` differs."""
    saved = state_dict.get(f"{prefix}encoder_digest")
    if saved is not None and not torch.equal(saved.cpu(), module.encoder_digest.cpu()):
        errors.append(
            f"these weights were trained on another encoder than {module.encoder_source} "
            "holds now (its weights differ)"
        )


def frozen(module: nn.Module) -> nn.Module:
    """``module`` with its parameters and buffers made non-persistent buffers, in eval mode: they
    move with the model that holds it, never get a gradient, and are not saved with it (the
    model rebuilds them from where they came from)."""
    for sub in module.modules():
        held = [*sub.named_parameters(recurse=False), *sub.named_buffers(recurse=False)]
        for name, tensor in held:
            delattr(sub, name)
            sub.register_buffer(name, tensor.detach(), persistent=False)
    return module.eval()


class RelationNetwork(nn.Module):
    """Per-step latents (B, T, F), column 0 the step's presence p, -> logits (B, K), the same for
    any order of the steps, and nothing read of an absent step (p = 0):
    rho(sum_i p_i phi(z_i) + sum_{i != j} p_i p_j psi(z_i, z_j)), each of phi, psi and rho two
    layers of ``hidden`` units."""

    def __init__(self, features: int, classes: int, hidden: int = 128) -> None:
        super().__init__()
        self.phi = nn.Sequential(
            nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.psi = nn.Sequential(
            nn.Linear(2 * features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.rho = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, z: Tensor) -> Tensor:
        B, T, F = z.shape
        present = z[..., 0]  # (B, T)
        single = (self.phi(z) * present[..., None]).sum(1)  # (B, hidden)
        # every ordered pair (i, j), weighed by p_i p_j, and by 0 where i = j
        pairs = torch.cat([z[:, :, None].expand(B, T, T, F), z[:, None].expand(B, T, T, F)], -1)
        other = 1 - torch.eye(T, dtype=z.dtype, device=z.device)
        weight = present[:, :, None] * present[:, None, :] * other  # (B, T, T)
        pair = (self.psi(pairs) * weight[..., None]).sum((1, 2))  # (B, hidden)
        return self.rho(single + pair)


class FrozenAIRReader(nn.Module):
    """What a reader of a frozen AIR's decomposition shares: the encoder loaded (or built) aside
    from the global random stream, frozen and kept in eval mode, its digest saved in its stead,
    and the cross-entropy of the logits that a subclass's ``read_decomposition`` returns from AIR's output.

    AIR is frozen: its weights are buffers that no gradient reaches and the optimiser never sees,
    and it stays in eval mode. It is not saved with the reader's weights, only its SHA-256
    (``encoder_digest``): a reader loaded again reads its encoder from ``encoder`` again, and
    weights trained on another encoder than the file now holds are refused.

    Args:
        encoder: the AIR (or DAIR) weights file the benchmark runner wrote
            (``benchmarks/weights/<benchmark>/seed<k>.safetensors`` beside its ``.yaml``; a
            relative path from the working directory, else from the checkout). None: a fresh,
            untrained AIR of ``encoder_args`` initialised from a fixed seed, for tests and smoke
            runs (its latents mean nothing).
        encoder_args: the fresh AIR's arguments (with ``encoder`` None only; a weights file
            carries its own).
        num_classes: K (the task's: 19 for the sum, 2 for the order).
    """

    def __init__(
        self,
        *,
        encoder: str | None = None,
        encoder_args: dict[str, Any] | None = None,
        num_classes: int = 19,
    ) -> None:
        super().__init__()
        if encoder is not None and encoder_args:
            raise ValueError(
                "encoder_args builds a fresh AIR (encoder: null); the weights file "
                f"{encoder} carries its own arguments"
            )
        # built aside from the global random stream, which then initialises the reader alone
        with torch.random.fork_rng(devices=[]):
            if encoder is None:
                torch.manual_seed(ENCODER_SEED)
                built = create_model("air", **(encoder_args or {}))
            else:
                built = load_encoder(encoder)
        self.encoder_source = encoder or "a fresh AIR"
        self.register_buffer("encoder_digest", digest(built))
        self.register_load_state_dict_pre_hook(_same_encoder)
        self.encoder = frozen(built)
        self.image_size, self.num_classes = built.image_size, num_classes

    def train(self, mode: bool = True) -> FrozenAIRReader:
        super().train(mode)
        self.encoder.eval()  # frozen: always AIR's evaluation
        return self

    def check_input_size(self, height: int, width: int) -> None:
        self.encoder.check_input_size(height, width)

    def read_decomposition(self, images: Tensor, decomposition: AIROutput) -> Tensor:
        """Images (B, 1, S, S) and AIR's most likely decomposition of them -> logits (B, K)."""
        raise NotImplementedError

    def forward(self, images: Tensor) -> Tensor:
        """Images (B, 1, S, S) -> logits (B, K)."""
        check_input(self, images, ("B", self.encoder.channels, self.image_size, self.image_size))
        # no graph is built through AIR in training (its weights are buffers, the images need
        # no gradient), but one reaches the images where they ask for it (salience maps)
        return self.read_decomposition(images, self.encoder(images, mode=True))

    def loss(self, logits: Tensor, targets: Tensor) -> ClassifierLoss:
        return cross_entropy_loss(logits, targets)

    @torch.no_grad()
    def predict_proba(self, images: Tensor, *, samples: int = 1) -> Tensor:
        """(B, K); deterministic, so ``samples`` changes nothing."""
        return self(images).softmax(-1)


def step_latents(out: AIROutput) -> Tensor:
    """AIR's output -> (B, T, 1 + 3 + D) per step: z_pres, z_where's mean, z_what's mean (zero
    where no object is)."""
    present = out.z_pres[..., None]
    return torch.cat([present, out.where_loc * present, out.what_loc * present], -1)


@register_model(
    "relation_reader",
    data="scene_tasks",
    tiny=dict(encoder=None, encoder_args={**TINY_AIR, "initial_presence": 0.9}, hidden=16),
)
class RelationReader(FrozenAIRReader):
    """A scene's pixels (B, 1, S, S) -> a frozen AIR's latents per step -> logits (B, K).

    The latents of a scene are, per step, (z_pres, the mean of z_where, the mean of z_what) of
    AIR's most likely decomposition (``AIR.forward(mode=True)``), z_where and z_what zeroed where
    no object is: (B, T, 1 + 3 + D) (``step_latents``). ``RelationNetwork`` reads them.

    Args:
        encoder, encoder_args, num_classes: as ``FrozenAIRReader``'s (the AIR weights file, or
            a fresh AIR's arguments; K).
        hidden: units of each layer of ``RelationNetwork``.
    """

    def __init__(
        self,
        *,
        encoder: str | None = None,
        encoder_args: dict[str, Any] | None = None,
        num_classes: int = 19,
        hidden: int = 128,
    ) -> None:
        super().__init__(encoder=encoder, encoder_args=encoder_args, num_classes=num_classes)
        features = 1 + 3 + self.encoder.z_what_size
        self.reader = RelationNetwork(features, self.num_classes, hidden)

    def latents(self, images: Tensor) -> Tensor:
        """Images (B, 1, S, S) -> (B, T, 1 + 3 + D) per step (``step_latents``)."""
        return step_latents(self.encoder(images, mode=True))

    def read(self, z: Tensor) -> Tensor:
        """Latents (B, T, F) -> logits (B, K)."""
        return self.reader(z)

    def read_decomposition(self, images: Tensor, decomposition: AIROutput) -> Tensor:
        return self.read(step_latents(decomposition))


def sum_log_probs(present: Tensor, classes: Tensor, num_sums: int) -> Tensor:
    """log P(sum of the present objects' classes = s), s = 0..num_sums - 1 (B, num_sums).

    present: (B, T) 1 where step t found an object; classes: (B, T, C) each object's class
    probabilities (class c is worth c). The distribution of the sum is built step by step, an
    absent object adding 0; sums past ``num_sums - 1`` (three objects found where the task has at
    most two) are dropped and the rest renormalised.
    """
    B, T, C = classes.shape
    total = classes.new_zeros(B, 1 + T * (C - 1))
    total[:, 0] = 1.0  # no object yet: the sum is 0
    for t in range(T):  # over AIR's few steps, not over the batch
        added = torch.zeros_like(total)
        for c in range(C):
            added[:, c:] += total[:, : total.shape[1] - c] * classes[:, t, c : c + 1]
        p = present[:, t : t + 1]
        total = p * added + (1 - p) * total
    kept = total[:, :num_sums].clamp(min=1e-12).log()
    return kept.log_softmax(-1)


def order_log_probs(present: Tensor, x: Tensor, classes: Tensor) -> Tensor:
    """log P(not ascending), log P(ascending) (B, 2) of the two objects found leftmost.

    present: (B, T); x: (B, T) each object's horizontal place; classes: (B, T, C). The objects
    found come first, left to right (the absent ones after them: a scene where AIR found fewer
    than two is read from the steps it proposed); ascending means the left class <= the right.
    """
    key = torch.where(present > 0.5, x, x.new_full(x.shape, torch.inf))
    order = key.argsort(-1)[:, :2]  # (B, 2) the steps read as left, right
    left, right = (
        classes.gather(1, order[:, i, None, None].expand(-1, 1, classes.shape[-1]))[:, 0]
        for i in (0, 1)
    )
    C = classes.shape[-1]
    at_most = torch.ones(C, C, dtype=classes.dtype, device=classes.device).triu()  # a <= b
    ascending = ((left[:, :, None] * right[:, None, :]) * at_most).sum((1, 2)).clamp(1e-6, 1 - 1e-6)
    return torch.stack([(1 - ascending).log(), ascending.log()], -1)


@register_model(
    "object_reader",
    data="scene_tasks",
    tiny=dict(encoder=None, encoder_args={**TINY_AIR, "initial_presence": 0.9}, hidden=16),
)
class ObjectReader(FrozenAIRReader):
    """A scene read object by object: a frozen AIR finds the objects, a small network names each
    one's class, and the task's answer is composed from those classes exactly.

    Per object found (AIR's most likely decomposition), the class distribution over ``classes``
    values comes from its z_what's mean (``reads: z_what``, an MLP: AIR's latent alone) or from
    the glimpse AIR reads there (``reads: glimpse``, a small CNN over the window of the input at
    z_where: AIR's where with the pixels, not its what). For ``task: sum`` the answer is the
    distribution of the sum of the present objects' classes (``sum_log_probs``), for ``order``
    the probability that the leftmost object's class is at most the next one's
    (``order_log_probs``, left and right by z_where's x). Only the per-object network learns,
    from the task's labels alone: no label names a digit. The composition is the task's own
    definition, built in (the relation reader and the pixel CNN learn it).

    Args:
        encoder, encoder_args, num_classes: as ``FrozenAIRReader``'s (the AIR weights file, or
            a fresh AIR's arguments; K, the task's classes).
        task: 'sum' or 'order' (the data source's, filled in from it).
        reads: 'z_what' or 'glimpse'.
        classes: the values an object may take (digits: 10).
        hidden: units of the per-object network's hidden layer.
    """

    def __init__(
        self,
        *,
        encoder: str | None = None,
        encoder_args: dict[str, Any] | None = None,
        num_classes: int = 19,
        task: str = "sum",
        reads: str = "z_what",
        classes: int = 10,
        hidden: int = 128,
    ) -> None:
        super().__init__(encoder=encoder, encoder_args=encoder_args, num_classes=num_classes)
        if task not in ("sum", "order"):
            raise ValueError(f"task must be 'sum' or 'order', got {task!r}")
        if reads not in ("z_what", "glimpse"):
            raise ValueError(f"reads must be 'z_what' or 'glimpse', got {reads!r}")
        if task == "order" and self.num_classes != 2:
            raise ValueError(f"the order task has 2 classes, got num_classes={self.num_classes}")
        self.task, self.reads = task, reads
        if reads == "z_what":
            self.namer = nn.Sequential(
                nn.Linear(self.encoder.z_what_size, hidden), nn.ReLU(), nn.Linear(hidden, classes)
            )
        else:
            side = self.encoder.window // 4
            self.namer = nn.Sequential(
                nn.Conv2d(self.encoder.channels, 32, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(32, 64, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(64 * side * side, hidden),
                nn.ReLU(),
                nn.Linear(hidden, classes),
            )

    def object_classes(self, images: Tensor, out: AIROutput) -> Tensor:
        """(B, T, classes) each step's object's class probabilities."""
        if self.reads == "z_what":
            return self.namer(out.what_loc).softmax(-1)
        views = self.encoder.attended(images, out).views  # (B, T, C, w, w)
        return self.namer(views.flatten(0, 1)).unflatten(0, views.shape[:2]).softmax(-1)

    def read_decomposition(self, images: Tensor, decomposition: AIROutput) -> Tensor:
        classes = self.object_classes(images, decomposition)
        present = decomposition.z_pres
        if self.task == "sum":
            return sum_log_probs(present, classes, self.num_classes)
        return order_log_probs(present, decomposition.where_loc[..., 1], classes)


@register_model("pixel_cnn", data="scene_tasks", tiny=dict(widths=(4, 4, 4), hidden_size=16))
class PixelCNN(WholeImageClassifier):
    """Images (B, C, S, S) -> logits (B, K): three 3x3 convolutions (padding 1), each followed
    by ReLU and 2x2 max-pooling, then a fully connected layer with ReLU and the output layer.

    Args:
        image_size: side S of the square scenes (multi-MNIST: 50; 50 -> 25 -> 12 -> 6).
        channels: input channels.
        num_classes: K.
        widths: filters of the three convolutions.
        hidden_size: units of the fully connected layer.
    """

    label = "the pixel CNN"

    def __init__(
        self,
        *,
        image_size: int = 50,
        channels: int = 1,
        num_classes: int = 19,
        widths: tuple[int, int, int] = (32, 64, 64),
        hidden_size: int = 256,
    ) -> None:
        super().__init__()
        if image_size < 8:
            raise ValueError(f"the pixel CNN needs images of at least 8x8 pixels, got {image_size}")
        self.image_size, self.num_classes = image_size, num_classes
        self.channels = channels
        layers: list[nn.Module] = []
        size = image_size
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            channels, size = width, size // 2
        self.body = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Sequential(
            nn.Linear(channels * size * size, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, num_classes),
        )

    def forward(self, images: Tensor) -> Tensor:
        """images (B, C, S, S) -> logits (B, K)."""
        self.check_images(images)
        return self.head(self.body(images))
