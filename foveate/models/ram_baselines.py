"""The baselines of RAM's tables: networks that see the whole image at once.

Mnih, Heess, Graves, Kavukcuoglu, "Recurrent Models of Visual Attention", NIPS 2014, sec. 4.1
and tables 1-2: a fully connected network of two hidden layers of 256 rectifiers, and a
convolutional network of two layers, one convolution (8 filters of 10x10, stride 5) and one
fully connected layer of 256 rectifiers, each under a softmax. Their cost grows with the image's
pixels; RAM's does not (``benchmarks/ram_cost.py``).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from foveate.models import register_model
from foveate.models.cnn import WholeImageClassifier


@register_model("fc", tiny=dict(hidden_size=8))
class FullyConnectedNet(WholeImageClassifier):
    """Two hidden layers of rectifiers over the image's pixels, then class logits.

    Args:
        image_size: side S of the square input.
        channels: input channels C.
        num_classes: outputs.
        hidden_size: units of each hidden layer (256 in [RAM], table 1).
    """

    label = "the fully connected baseline"

    def __init__(
        self,
        *,
        image_size: int = 60,
        channels: int = 1,
        num_classes: int = 10,
        hidden_size: int = 256,
    ) -> None:
        super().__init__()
        if image_size < 1 or hidden_size < 1:
            raise ValueError(
                f"fc needs positive sizes, got image {image_size}, hidden {hidden_size}"
            )
        self.image_size, self.num_classes = image_size, num_classes
        self.channels = channels
        self.hidden = nn.Sequential(
            nn.Linear(channels * image_size**2, hidden_size),
            nn.ReLU(),
            nn.Linear(hidden_size, hidden_size),
            nn.ReLU(),
        )
        self.classify = nn.Linear(hidden_size, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        """images (B, C, S, S) -> logits (B, num_classes)."""
        self.check_images(images)
        return self.classify(self.hidden(images.flatten(1)))


@register_model("shallow_cnn", tiny=dict(filters=2, hidden_size=8))
class ShallowConvNet(WholeImageClassifier):
    """One convolution and one fully connected layer of rectifiers, then class logits.

    Args:
        image_size: side S of the square input, at least ``kernel_size``.
        channels: input channels C.
        num_classes: outputs.
        filters, kernel_size, stride: the convolution (8 of 10x10, stride 5, in [RAM], sec. 4.1);
            its map is (S - kernel_size) // stride + 1 on a side.
        hidden_size: units of the fully connected layer (256).
    """

    label = "the shallow CNN"

    def __init__(
        self,
        *,
        image_size: int = 60,
        channels: int = 1,
        num_classes: int = 10,
        filters: int = 8,
        kernel_size: int = 10,
        stride: int = 5,
        hidden_size: int = 256,
    ) -> None:
        super().__init__()
        if image_size < kernel_size:
            raise ValueError(
                f"the shallow CNN's {kernel_size}x{kernel_size} kernel is larger than the "
                f"{image_size}x{image_size} images"
            )
        if min(filters, kernel_size, stride, hidden_size) < 1:
            raise ValueError(
                "the shallow CNN needs positive filters, kernel, stride and hidden size"
            )
        self.image_size, self.num_classes = image_size, num_classes
        self.channels = channels
        self.conv = nn.Conv2d(channels, filters, kernel_size, stride=stride)
        side = (image_size - kernel_size) // stride + 1
        self.hidden = nn.Linear(filters * side * side, hidden_size)
        self.classify = nn.Linear(hidden_size, num_classes)

    def forward(self, images: Tensor) -> Tensor:
        """images (B, C, S, S) -> logits (B, num_classes)."""
        self.check_images(images)
        features = F.relu(self.conv(images)).flatten(1)
        return self.classify(F.relu(self.hidden(features)))
