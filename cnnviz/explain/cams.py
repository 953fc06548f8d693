"""Class activation maps: Grad-CAM, Grad-CAM++ and Score-CAM.

They hook one layer of the shared model under its lock: the hook swaps the layer's output for a copy that
requires grad (so in-place ReLUs after it are harmless), the forward pass builds a graph from that layer on
only (parameters never require grad), and ``torch.autograd.grad`` of the class score gives the layer's
gradients. The cost is about one forward pass. Score-CAM makes a forward pass per channel, so it runs on a
private copy of the model (:func:`cnnviz.models.sharing.borrowed`) instead of holding the shared one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cnnviz.models.sharing import borrowed, in_use
from cnnviz.progress import Progress

CamMethod = Literal["Grad-CAM", "Grad-CAM++", "Score-CAM"]
CAM_METHODS: tuple[str, ...] = ("Grad-CAM", "Grad-CAM++", "Score-CAM")
EPS = 1e-7


@dataclass(frozen=True)
class Explanation:
    """A map in [0, 1] at the input's resolution, and the raw map it came from (low resolution for CAMs)."""

    method: str
    target: int
    heatmap: Tensor  # (H, W)
    raw: Tensor  # (h, w) for CAMs, (H, W) for input attributions


def min_max(values: Tensor) -> Tensor:
    """Min-max scaling to [0, 1] with an epsilon (how torchcam and captum scale a map): (v − min) / (max − min + ε)."""
    shifted = values - values.min()
    return shifted / (shifted.max() + EPS)


def upsample(cam: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear upsampling of an (h, w) map to ``size`` (align_corners=False, as captum and torchcam do)."""
    return F.interpolate(cam[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]


def _layer_and_grads(model: nn.Module, x: Tensor, target: int, layer: str) -> tuple[Tensor, Tensor]:
    """The layer's output and the gradient of the class score with respect to it (one forward, short backward)."""
    try:
        module = model.get_submodule(layer)
    except AttributeError as exc:
        raise KeyError(f"no layer named {layer!r} in this model") from exc
    captured: dict[str, Tensor] = {}

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> Tensor:
        if not isinstance(output, Tensor):
            raise TypeError(f"{layer} does not output a single tensor")
        leaf = output.detach().requires_grad_(True)
        captured["leaf"] = leaf
        return leaf * 1.0  # a non-leaf copy: later in-place ops act on it, not on the leaf

    # in_use: no graph before the layer and no parameter gradients; the hook is removed below.
    with in_use(model, grad=True):
        handle = module.register_forward_hook(hook)
        try:
            logits = model(x)
            if not 0 <= target < logits.shape[1]:
                raise ValueError(f"class {target} is outside the model's {logits.shape[1]} classes")
            (grads,) = torch.autograd.grad(logits[0, target], captured["leaf"])
        finally:
            handle.remove()
    return captured["leaf"].detach(), grads


def grad_cam(model: nn.Module, x: Tensor, target: int, layer: str) -> Tensor:
    """Grad-CAM of class ``target`` at ``layer`` for ``x`` (1, C, H, W): an (H, W) map in [0, 1].

    ReLU of the gradient-weighted sum of the layer's channels, bilinear upsampling to the input size,
    min-max normalisation with an epsilon.
    """
    return cam(model, x, target, layer, "Grad-CAM").heatmap


def _gradcam_weights(acts: Tensor, grads: Tensor) -> Tensor:
    return grads.mean(dim=(2, 3))


def _gradcampp_weights(acts: Tensor, grads: Tensor) -> Tensor:
    """Grad-CAM++ (Chattopadhyay et al. 2018, eq. 19): α = g² / (2g² + Σ A · g³), w = Σ α · ReLU(g)."""
    g2 = grads.pow(2)
    g3 = g2 * grads
    denominator = 2 * g2 + acts.sum(dim=(2, 3), keepdim=True) * g3
    alpha = torch.where(grads != 0, g2 / (denominator + 1e-6), torch.zeros_like(g2))
    return (alpha * F.relu(grads)).sum(dim=(2, 3))


def _score_cam_weights(
    model: nn.Module, x: Tensor, target: int, acts: Tensor, batch_size: int, progress: Progress | None
) -> Tensor:
    """Score-CAM as torchcam computes it: each channel, min-max normalised and upsampled, masks the input;
    the weights are a softmax over channels of the masked inputs' class-score gains. Runs in chunks."""
    channels = acts.shape[1]
    flat = acts[0].flatten(1)
    low, high = flat.min(1).values, flat.max(1).values
    masks = (acts[0] - low[:, None, None]) / (high - low + 1e-8)[:, None, None]
    scores = torch.empty(channels)
    with in_use(model):  # a private copy (see cam)
        baseline = model(x)[0, target]
        for start in range(0, channels, batch_size):
            chunk = masks[start : start + batch_size, None]
            upsampled = F.interpolate(chunk, size=x.shape[-2:], mode="bilinear", align_corners=False)
            scores[start : start + len(chunk)] = model(upsampled * x)[:, target]
            if progress:
                progress(min(start + batch_size, channels), channels)
    return torch.softmax(scores - baseline, dim=0)[None]


def cam(
    model: nn.Module,
    x: Tensor,
    target: int,
    layer: str,
    method: CamMethod = "Grad-CAM",
    progress: Progress | None = None,
    batch_size: int = 32,
) -> Explanation:
    """A class activation map of ``method`` for class ``target`` at ``layer`` (Score-CAM on a private copy)."""
    if method == "Score-CAM":
        with borrowed(model) as own:
            return _cam(own, x, target, layer, method, progress, batch_size)
    return _cam(model, x, target, layer, method, progress, batch_size)


def _cam(
    model: nn.Module,
    x: Tensor,
    target: int,
    layer: str,
    method: CamMethod,
    progress: Progress | None,
    batch_size: int,
) -> Explanation:
    acts, grads = _layer_and_grads(model, x, target, layer)
    if acts.dim() != 4:
        raise ValueError(f"{layer} has no spatial output ({tuple(acts.shape)}); choose a conv layer")
    if method == "Grad-CAM":
        weights = _gradcam_weights(acts, grads)
    elif method == "Grad-CAM++":
        weights = _gradcampp_weights(acts, grads)
    elif method == "Score-CAM":
        weights = _score_cam_weights(model, x, target, acts, batch_size, progress)
    else:
        raise ValueError(f"unknown CAM method {method!r}")
    raw = F.relu((weights[:, :, None, None] * acts).sum(dim=1))[0]
    return Explanation(method, target, min_max(upsample(raw, (x.shape[-2], x.shape[-1]))), raw)


def default_layer(model: nn.Module, input_size: tuple[int, int], in_channels: int = 3) -> str:
    """The model's last convolutional stage: the shallowest module producing the last spatial feature map
    that is not a pooling output (``layer4`` for ResNets, ``features.29`` for VGG16)."""
    order: list[tuple[str, int, nn.Module]] = []
    outputs: dict[int, Tensor] = {}

    def hook_for(name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(module: nn.Module, _inputs: Any, output: Any) -> None:
            if isinstance(output, Tensor) and output.dim() == 4 and min(output.shape[-2:]) > 1:
                outputs[id(output)] = output
                order.append((name, id(output), module))

        return hook

    with in_use(model):
        handles = [m.register_forward_hook(hook_for(n)) for n, m in model.named_modules() if n]
        try:
            model(torch.zeros(1, in_channels, *input_size))
        finally:
            for handle in handles:
                handle.remove()
    pooling = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
    pooled = {tid for _, tid, m in order if isinstance(m, pooling)}
    candidates = [(i, name, tid) for i, (name, tid, _) in enumerate(order) if tid not in pooled]
    if not candidates:
        raise ValueError("the model has no spatial layer for a class activation map")
    last = candidates[-1][2]
    # Among the modules giving that tensor, the shallowest; on a tie the later one (an in-place ReLU after
    # its conv returns the same tensor, and its output is the one that matters).
    return min(((i, name) for i, name, tid in candidates if tid == last), key=lambda t: (t[1].count("."), -t[0]))[1]
