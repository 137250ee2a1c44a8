"""A supervised CNN that reads an object's identity and pose from a rendered image: the baseline
beside AIR's inverse graphics.

Eslami et al., "Attend, Infer, Repeat", NIPS 2016, sec. 3.3, set AIR, which learns from images
alone, beside a network trained with supervision to predict the same quantities, and found that
the supervised network had difficulty with the rotation of symmetric objects, whose posterior
has several modes: a cube turned by a quarter turn is the same image, and a regression to its
angle is pulled to the modes' average.

This network is the usual way to learn such a mapping, not the paper's (which the paper does not
give): the plain CNN (``foveate.models.cnn.ConvClassifier``) with three heads for outputs: the identity's logits, the
position (x, z), and the rotation as the unit vector (cos theta, sin theta), learnt by
cross-entropy and squared errors. With ``symmetric_rotation`` the rotation target is (cos 4
theta, sin 4 theta) instead, which is the same for every pose a cube shares: the regression
then has one mode, a stronger baseline that knows the cube's symmetry in advance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from foveate.models import register_model
from foveate.models.cnn import ConvClassifier
from foveate.models.interface import Poses, check_input, check_square_size
from foveate.render import SHAPES

CUBE_TURNS = 4  # a cube looks the same after a quarter turn


@dataclass
class PoseOutput:
    """identity_logits: (B, 3); position: (B, 2) as (x, z); rotation_vector: (B, 2) the
    predicted (cos, sin) of theta, or of 4 theta with ``symmetric_rotation``; rotation: (B,)
    the angle they give, radians (within a quarter turn with ``symmetric_rotation``)."""

    identity_logits: Tensor
    position: Tensor
    rotation_vector: Tensor
    rotation: Tensor


@dataclass
class PoseLoss:
    """total: the sum of the three parts. identity: cross-entropy (nats); position, rotation:
    squared errors summed over their two components."""

    total: Tensor
    identity: Tensor
    position: Tensor
    rotation: Tensor


@register_model(
    "pose_cnn",
    training="pose_regression",
    data="rendered_scenes",
    tiny=dict(conv_width=4, hidden_size=16),
)
class PoseCNN(nn.Module):
    """Identity, position and rotation of the one object of a rendered image, by regression.

    Args:
        image_size: side of the square images.
        channels: image channels (1).
        conv_width: filters of the first convolution; the second has twice as many.
        kernel_size: their odd side.
        hidden_size: units of the hidden layer.
        symmetric_rotation: regress (cos 4 theta, sin 4 theta), the same for a cube's four
            equivalent poses, instead of (cos theta, sin theta).
    """

    def __init__(
        self,
        *,
        image_size: int = 32,
        channels: int = 1,
        conv_width: int = 32,
        kernel_size: int = 5,
        hidden_size: int = 256,
        symmetric_rotation: bool = False,
    ) -> None:
        super().__init__()
        self.image_size, self.channels = image_size, channels
        self.turns = CUBE_TURNS if symmetric_rotation else 1
        # the plain CNN's network, its outputs the three heads: the identity's logits, (x, z)
        # and the rotation's vector
        self.network = ConvClassifier(
            image_size=image_size,
            channels=channels,
            num_classes=len(SHAPES) + 2 + 2,
            conv_width=conv_width,
            kernel_size=kernel_size,
            hidden_size=hidden_size,
        )

    def check_input_size(self, height: int, width: int) -> None:
        check_square_size(type(self).__name__, self.image_size, height, width)

    def rotation_target(self, rotation: Tensor) -> Tensor:
        """True rotations (B,) -> the (B, 2) vector the rotation head regresses."""
        return torch.stack([(self.turns * rotation).cos(), (self.turns * rotation).sin()], -1)

    def forward(self, images: Tensor) -> PoseOutput:
        """images (B, C, S, S) -> ``PoseOutput``."""
        check_input(self, images, ("B", self.channels, self.image_size, self.image_size))
        logits, position, vector = self.network(images).split([len(SHAPES), 2, 2], -1)
        rotation = torch.atan2(vector[:, 1], vector[:, 0]) / self.turns
        return PoseOutput(logits, position, vector, rotation)

    def loss(self, out: PoseOutput, truth: dict[str, Tensor]) -> PoseLoss:
        """The supervised loss against the scene's one object (truth as
        ``foveate.data.rendered_scenes`` gives it: its first object)."""
        identity = F.cross_entropy(out.identity_logits, truth["identity"][:, 0])
        position = (out.position - truth["position"][:, 0]).square().sum(-1).mean()
        target = self.rotation_target(truth["rotation"][:, 0])
        rotation = (out.rotation_vector - target).square().sum(-1).mean()
        return PoseLoss(identity + position + rotation, identity, position, rotation)

    def poses(self, images: Tensor) -> Poses:
        """The one object of each image (B, C, S, S), as ``Poses`` of N = 1."""
        out = self(images)
        present = torch.ones(len(images), 1, dtype=torch.bool, device=images.device)
        return Poses(
            out.identity_logits.argmax(-1, keepdim=True),
            out.position[:, None],
            out.rotation[:, None],
            present,
        )
