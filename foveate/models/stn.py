"""The spatial transformer network: a classifier that first warps its input to look at the object.

[1] Jaderberg, Simonyan, Zisserman, Kavukcuoglu, "Spatial Transformer Networks", NIPS 2015.

Parts, named as in [1] sec. 3 (U is the input image, V the transformed one):
    localisation network   theta = f_loc(U), six affine parameters (sec. 3.1)
    grid generator         source points T_theta(G_i) = A_theta (x^t_i, y^t_i, 1)^T (eq. 1)
    sampler                V = bilinear samples of U at those points (eq. 5)
and a CNN that classifies V (the ST-CNN of sec. 4.1). Everything is differentiable, so the whole
network trains by backpropagating the cross-entropy; nothing tells the localisation network
where the digit is.

Location-wise soft attention: V is a view of U chosen by the network (``Glimpses`` with one
step, whose outline is where the sampling grid fell).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foveate.attention.transformer import affine_warp, grid_corners, window_theta
from foveate.models import register_model
from foveate.models.cnn import ConvClassifier, conv_pool_stages, cross_entropy_loss
from foveate.models.interface import ClassifierLoss, Glimpses, check_input, check_square_size

TRANSFORM_PARAMS = {"affine": 6, "attention": 3}


class LocalisationNetwork(nn.Module):
    """f_loc ([1] sec. 3.1): a small CNN over a downsampled input, regressing the transform.

    The last layer starts at zero weights and the identity transform's bias (as [1] does for
    its MNIST experiments), so training starts by looking at the whole image.

    Args:
        image_size: side of the square input.
        channels: input channels.
        transform: 'affine' (six parameters, A_theta of eq. 1) or 'attention' (three: scale and
            shift, the window z_where = (s, x, y) of AIR; sec. 3.1's attention special case).
        downsample: average-pool the input by this factor first (the localisation needs the
            layout, not the strokes, and the convolutions then cost a quarter).
        filters: filters of its two 5x5 convolutions.
        hidden_size: units of its fully connected layer.
    """

    def __init__(
        self,
        *,
        image_size: int,
        channels: int,
        transform: Literal["affine", "attention"],
        downsample: int = 2,
        filters: int = 20,
        hidden_size: int = 50,
    ) -> None:
        super().__init__()
        self.transform, self.downsample = transform, downsample
        self.features = conv_pool_stages(channels, filters, filters, 5)
        side = image_size // downsample // 4
        if side < 1:
            raise ValueError(
                f"the localisation network needs images of at least {4 * downsample} pixels, "
                f"got {image_size}"
            )
        self.hidden = nn.Linear(filters * side * side, hidden_size)
        self.regress = nn.Linear(hidden_size, TRANSFORM_PARAMS[transform])
        identity = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0] if transform == "affine" else [1.0, 0.0, 0.0]
        with torch.no_grad():
            self.regress.weight.zero_()
            self.regress.bias.copy_(torch.tensor(identity))

    def forward(self, images: Tensor) -> Tensor:
        """images (B, C, H, W) -> theta (B, 2, 3), the map from output to input coordinates.

        theta is computed in float32 even under mixed precision: bfloat16 keeps 8 bits of
        mantissa, so near the identity's 1.0 it rounds away any change below 1/128, and the
        small, image-dependent part of a young localisation network's output is lost.
        """
        x = F.avg_pool2d(images, self.downsample) if self.downsample > 1 else images
        hidden = F.relu(self.hidden(self.features(x).flatten(1)))
        with torch.autocast(images.device.type, enabled=False):
            params = self.regress(hidden.float())
        if self.transform == "affine":
            return params.view(-1, 2, 3)
        return window_theta(params)


@dataclass
class StnOutput:
    """logits: (B, num_classes); theta: (B, 2, 3) the predicted transforms; transformed:
    (B, C, h, w) V, what the classifier saw."""

    logits: Tensor
    theta: Tensor
    transformed: Tensor


@register_model(
    "stn", tiny=dict(conv_width=4, hidden_size=16, localisation_filters=4, localisation_hidden=8)
)
class SpatialTransformerNetwork(nn.Module):
    """ST-CNN ([1] sec. 4.1): localisation network, grid generator and sampler, then a CNN.

    Args:
        image_size: side of the square input images (60 for the translated and cluttered tasks).
        channels: image channels.
        num_classes: classes.
        transform: 'affine' (the paper's general affine) or 'attention' (scale and shift).
        output_size: side of the transformed image V that the classifier sees.
        localisation_downsample: average-pooling factor before the localisation network.
        localisation_filters: filters of each of its two convolutions.
        localisation_hidden: units of its fully connected layer.
        conv_width, kernel_size, hidden_size: the classifier's (``ConvClassifier``).
    """

    def __init__(
        self,
        *,
        image_size: int = 60,
        channels: int = 1,
        num_classes: int = 10,
        transform: Literal["affine", "attention"] = "affine",
        output_size: int = 28,
        localisation_downsample: int = 2,
        localisation_filters: int = 20,
        localisation_hidden: int = 50,
        conv_width: int = 16,
        kernel_size: int = 5,
        hidden_size: int = 256,
    ) -> None:
        super().__init__()
        if transform not in TRANSFORM_PARAMS:
            raise ValueError(f"transform must be 'affine' or 'attention', got {transform!r}")
        if not 4 <= output_size:
            raise ValueError(f"output_size must be at least 4, got {output_size}")
        if localisation_downsample < 1:
            raise ValueError(
                f"localisation_downsample must be at least 1, got {localisation_downsample}"
            )
        self.image_size, self.output_size, self.num_classes = image_size, output_size, num_classes
        self.channels = channels
        self.localisation = LocalisationNetwork(
            image_size=image_size,
            channels=channels,
            transform=transform,
            downsample=localisation_downsample,
            filters=localisation_filters,
            hidden_size=localisation_hidden,
        )
        self.classifier = ConvClassifier(
            image_size=output_size,
            channels=channels,
            num_classes=num_classes,
            conv_width=conv_width,
            kernel_size=kernel_size,
            hidden_size=hidden_size,
        )

    def check_input_size(self, height: int, width: int) -> None:
        check_square_size("the STN", self.image_size, height, width)

    def forward(self, images: Tensor) -> StnOutput:
        """images (B, C, H, W) -> logits of the classifier on the transformed images."""
        check_input(self, images, ("B", self.channels, self.image_size, self.image_size))
        theta = self.localisation(images)  # (B, 2, 3), float32
        size = (self.output_size, self.output_size)
        with torch.autocast(images.device.type, enabled=False):  # the sampler in float32 too
            transformed = affine_warp(images.float(), theta, size=size)  # (B, C, h, w), eq. 1, 5
        return StnOutput(self.classifier(transformed), theta, transformed)

    def loss(self, output: StnOutput, targets: Tensor) -> ClassifierLoss:
        return cross_entropy_loss(output.logits, targets)

    @torch.no_grad()
    def predict_proba(self, images: Tensor, *, samples: int = 1) -> Tensor:
        """(B, num_classes); deterministic, so ``samples`` changes nothing."""
        return self(images).logits.softmax(-1)

    def attended(self, images: Tensor, output: StnOutput) -> Glimpses:
        """One step: the sampling grid's outline on the input, and V, what the classifier saw."""
        height, width = images.shape[-2:]
        outline = grid_corners(output.theta, height=height, width=width)  # (B, 4, 2)
        return Glimpses(outlines=outline[:, None, None], views=output.transformed[:, None])
