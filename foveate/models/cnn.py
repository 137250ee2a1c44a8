"""A plain convolutional classifier: the baseline that attention models are measured against,
and the classification head of the spatial transformer network (``stn.py``).

Two convolution + max-pooling stages and two fully connected layers, the small CNN of the
spatial transformer paper's MNIST experiments (Jaderberg et al., NIPS 2015, sec. 4.1, and
appendix A.1) in spirit; sizes are ours.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foveate.models import register_model
from foveate.models.interface import ClassifierLoss, check_input, check_square_size


def conv_pool_stages(channels: int, first: int, second: int, kernel_size: int) -> nn.Sequential:
    """conv(k) -> ReLU -> max-pool 2 -> conv(k) -> ReLU -> max-pool 2: (B, channels, S, S) ->
    (B, second, S // 4, S // 4) for an odd k (its padding, k // 2, keeps the size; each pooling
    halves it). The feature stack of this CNN, of the STN's localisation network and of the set
    models' digit encoder."""
    return nn.Sequential(
        nn.Conv2d(channels, first, kernel_size, padding=kernel_size // 2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(first, second, kernel_size, padding=kernel_size // 2),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class ConvClassifier(nn.Module):
    """conv(k) -> ReLU -> max-pool 2 -> conv(k) -> ReLU -> max-pool 2 -> FC -> ReLU -> FC.

    Args:
        image_size: side of the square input (H = W).
        channels: input channels.
        num_classes: outputs.
        conv_width: filters of the first convolution; the second has twice as many.
        kernel_size: side of their square kernels, odd (padding keeps the size; pooling halves
            it).
        hidden_size: units of the first fully connected layer.
    """

    def __init__(
        self,
        *,
        image_size: int,
        channels: int = 1,
        num_classes: int = 10,
        conv_width: int = 16,
        kernel_size: int = 5,
        hidden_size: int = 256,
    ) -> None:
        super().__init__()
        if image_size < 4:
            raise ValueError(f"the CNN needs images of at least 4x4 pixels, got {image_size}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            # An even kernel with padding k // 2 grows the map by one pixel per convolution, and
            # the first linear layer, sized for image_size // 4, then fails to fit (30 -> 31 -> 15
            # -> 16 -> 8, not 7).
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        first, second = conv_width, 2 * conv_width
        self.features = conv_pool_stages(channels, first, second, kernel_size)
        side = image_size // 4
        self.hidden = nn.Linear(second * side * side, hidden_size)
        self.classify = nn.Linear(hidden_size, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        """images (B, C, S, S) -> logits (B, num_classes)."""
        return self.classify(F.relu(self.hidden(self.features(images).flatten(1))))


def cross_entropy_loss(logits: Tensor, targets: Tensor) -> ClassifierLoss:
    """logits (B, classes), targets (B,) -> the mean cross-entropy and which answers are right."""
    correct = (logits.argmax(-1) == targets).float()
    return ClassifierLoss(total=F.cross_entropy(logits, targets), correct=correct)


class WholeImageClassifier(nn.Module):
    """What the classifiers that see the whole image at once share (this CNN, and RAM's
    baselines in ``ram_baselines``): square images of one size, cross-entropy, deterministic
    prediction. A subclass sets ``image_size``, ``channels``, ``num_classes`` and ``label`` (its name in
    errors) and defines ``forward`` (images -> logits)."""

    image_size: int
    channels: int
    num_classes: int
    label = "the baseline"

    def check_input_size(self, height: int, width: int) -> None:
        check_square_size(self.label, self.image_size, height, width)

    def check_images(self, images: Tensor) -> None:
        """Refuse images (B, C, S, S) of other channels or size than the model's (``forward``)."""
        check_input(self, images, ("B", self.channels, self.image_size, self.image_size))

    def loss(self, logits: Tensor, targets: Tensor) -> ClassifierLoss:
        return cross_entropy_loss(logits, targets)

    @torch.no_grad()
    def predict_proba(self, images: Tensor, *, samples: int = 1) -> Tensor:
        """(B, num_classes); deterministic, so ``samples`` changes nothing."""
        return self(images).softmax(-1)


@register_model("cnn", tiny=dict(conv_width=4, hidden_size=16))
class ConvNet(WholeImageClassifier):
    """The plain CNN baseline: ``ConvClassifier`` over the whole image, no attention.

    Args (``ConvClassifier``'s):
        image_size: side of the square input (H = W); the default, 60, is the canvas of the
            translated and cluttered tasks.
        channels: input channels.
        num_classes: outputs.
        conv_width: filters of the first convolution; the second has twice as many.
        kernel_size: side of their square kernels, odd (padding keeps the size; pooling halves
            it).
        hidden_size: units of the first fully connected layer.
    """

    label = "the CNN"

    def __init__(
        self,
        *,
        image_size: int = 60,
        channels: int = 1,
        num_classes: int = 10,
        conv_width: int = 16,
        kernel_size: int = 5,
        hidden_size: int = 256,
    ) -> None:
        super().__init__()
        self.image_size, self.num_classes = image_size, num_classes
        self.channels = channels
        self.classifier = ConvClassifier(
            image_size=image_size,
            channels=channels,
            num_classes=num_classes,
            conv_width=conv_width,
            kernel_size=kernel_size,
            hidden_size=hidden_size,
        )

    def forward(self, images: Tensor) -> Tensor:
        """images (B, C, S, S) -> logits (B, num_classes)."""
        self.check_images(images)
        return self.classifier(images)
