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


@register_model(
    "relation_reader",
    data="scene_tasks",
    tiny=dict(encoder=None, encoder_args={**TINY_AIR, "initial_presence": 0.9}, hidden=16),
)
class RelationReader(nn.Module):
    """A scene's pixels (B, 1, S, S) -> a frozen AIR's latents per step -> logits (B, K).

    The latents of a scene are, per step, (z_pres, the mean of z_where, the mean of z_what) of
    AIR's most likely decomposition (``AIR.forward(mode=True)``), z_where and z_what zeroed where
    no object is: (B, T, 1 + 3 + D). ``RelationNetwork`` reads them.

    AIR is frozen: its weights are buffers that no gradient reaches and the optimiser never sees,
    and it stays in eval mode. It is not saved with this model's weights, only its SHA-256
    (``encoder_digest``): a model loaded again reads its encoder from ``encoder`` again, and
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
        features = 1 + 3 + built.z_what_size
        self.reader = RelationNetwork(features, num_classes, hidden)

    def train(self, mode: bool = True) -> RelationReader:
        super().train(mode)
        self.encoder.eval()  # frozen: always AIR's evaluation
        return self

    def check_input_size(self, height: int, width: int) -> None:
        self.encoder.check_input_size(height, width)

    def latents(self, images: Tensor) -> Tensor:
        """Images (B, 1, S, S) -> (B, T, 1 + 3 + D) per step: z_pres, z_where's mean, z_what's
        mean (zero where no object is)."""
        out = self.encoder(images, mode=True)
        present = out.z_pres[..., None]
        return torch.cat([present, out.where_loc * present, out.what_loc * present], -1)

    def read(self, z: Tensor) -> Tensor:
        """Latents (B, T, F) -> logits (B, K)."""
        return self.reader(z)

    def forward(self, images: Tensor) -> Tensor:
        """Images (B, 1, S, S) -> logits (B, K)."""
        check_input(self, images, ("B", self.encoder.channels, self.image_size, self.image_size))
        return self.read(self.latents(images))

    def loss(self, logits: Tensor, targets: Tensor) -> ClassifierLoss:
        return cross_entropy_loss(logits, targets)

    @torch.no_grad()
    def predict_proba(self, images: Tensor, *, samples: int = 1) -> Tensor:
        """(B, K); deterministic, so ``samples`` changes nothing."""
        return self(images).softmax(-1)


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
