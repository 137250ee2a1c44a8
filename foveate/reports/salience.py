"""Salience maps: activation times gradient of a class score, at the input or at a named layer.

For a classifier f with class score f_y(x) (the logit of class y) and an activation A of shape
(C, h, w) on the way (the input image itself, or a layer's output), the salience of a location
is sum_c A_c * d f_y / d A_c: the first-order share of the score that the activation there
carries ("gradient times input": Shrikumar et al. 2016; Ancona et al., ICLR 2018, sec. 2;
at a convolutional layer, the unpooled form of Grad-CAM, Selvaraju et al., ICCV 2017). It
says what a model's answer rests on, measured, which its attention map only claims.

One function serves every classifier whose forward returns logits (B, K) or an output with a
``logits`` field (RAM, DRAW's classifier, the STN, the CNN), and any model given a score of its
own (a reader's: the logits of the tokens it read, ``reading_score``); a stochastic model (RAM)
is run with one set of draws, or averaged over ``samples`` of them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from foveate.models.interface import Stochastic


def class_logits(model: nn.Module, images: Tensor) -> Tensor:
    """A classifier's logits (B, K) for images (B, C, H, W), differentiable (draws made here)."""
    draws = (model.sample_noise(images),) if isinstance(model, Stochastic) else ()
    output = model(images, *draws)
    logits = output if isinstance(output, Tensor) else getattr(output, "logits", None)
    if not isinstance(logits, Tensor) or logits.dim() != 2:
        raise ValueError(
            f"salience needs a classifier whose forward gives logits (B, K); "
            f"{type(model).__name__} gives {type(output).__name__}"
        )
    return logits


def reading_score(model: nn.Module, images: Tensor) -> Tensor:
    """A reader's score of its own greedy reading of images (B, C, H, W) -> (B,): the logits of
    the tokens it read, summed over its steps up to its end token (a sequence's class score)."""
    tokens, output = model.read(images)  # (B, T), -1 after the end
    read = output.logits.gather(2, tokens.clamp_min(0)[..., None]).squeeze(2)  # (B, T)
    return (read * (tokens >= 0)).sum(1)


def salience(
    model: nn.Module,
    images: Tensor,
    targets: Tensor | None = None,
    *,
    layer: str | None = None,
    samples: int = 1,
    score: Callable[[nn.Module, Tensor], Tensor] | None = None,
) -> Tensor:
    """Activation times gradient of the score of ``targets`` (default: the predicted classes).

    Args:
        model: a classifier (see ``class_logits``).
        images: (B, C, H, W).
        targets: (B,) the classes whose logits are explained.
        layer: the name of a module (as ``model.named_modules()`` gives it) whose output (B, C,
            h, w) is the activation; None: the input image.
        samples: draws averaged for a stochastic model.
        score: (model, images) -> (B,) the scores to explain instead of class logits (a
            reader's: ``reading_score``); ``targets`` is then unused.

    Returns:
        (B, H, W) at the input, or (B, h, w) at the layer: sum over channels of A * dscore/dA
        (summed over the uses of a layer that runs at several steps).
    """
    modules = dict(model.named_modules())
    if layer is not None and layer not in modules:
        known = ", ".join(name for name in modules if name)
        raise ValueError(f"no layer {layer!r} in {type(model).__name__} (layers: {known})")
    was_training = model.training
    model.eval()
    total = None
    try:
        for _ in range(samples):
            captured: list[Tensor] = []
            handle = None
            x = images.detach().clone().requires_grad_()
            if layer is not None:
                handle = modules[layer].register_forward_hook(
                    lambda module, inputs, output, into=captured: into.append(output)
                )
            with torch.enable_grad():
                if score is not None:
                    explained = score(model, x).sum()  # samples are independent
                else:
                    logits = class_logits(model, x)
                    if targets is None:
                        targets = logits.argmax(-1).detach()
                    explained = logits.gather(1, targets[:, None]).sum()
                activations = [x] if layer is None else captured
                if any(a.dim() != 4 for a in activations):
                    shape = tuple(activations[0].shape)
                    raise ValueError(f"layer {layer!r} gives {shape}, not a map (B, C, h, w)")
                gradients = torch.autograd.grad(explained, activations)
            if handle is not None:
                handle.remove()
            # a layer used at several steps (a recurrent model's) adds up its uses
            part = sum((a.detach() * g).sum(1) for a, g in zip(activations, gradients, strict=True))
            total = part if total is None else total + part
    finally:
        model.train(was_training)
    return total / samples
