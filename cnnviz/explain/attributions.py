"""Captum's input attributions: Guided Grad-CAM, Integrated Gradients, Saliency, SmoothGrad and Occlusion.

They need gradients through the whole network, backward hooks and many passes: they run on a private copy of the
model (:func:`cnnviz.models.sharing.borrowed`), with its in-place ReLUs made out-of-place for the call, so nobody
waits for the shared model meanwhile.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from captum.attr import GuidedGradCam, IntegratedGradients, NoiseTunnel, Occlusion, Saliency
from torch import Tensor, nn

from cnnviz.explain.cams import EPS, Explanation
from cnnviz.models.sharing import borrowed, in_use
from cnnviz.progress import Progress

CAPTUM_METHODS: tuple[str, ...] = ("Guided Grad-CAM", "Integrated Gradients", "Saliency", "SmoothGrad", "Occlusion")


# --- captum ------------------------------------------------------------------------------------------------


def attribute(
    model: nn.Module,
    x: Tensor,
    target: int,
    method: str,
    layer: str | None = None,
    baseline: Tensor | None = None,
    progress: Progress | None = None,
) -> Explanation:
    """An input attribution of captum ``method`` for class ``target``: the per-pixel magnitude (summed
    over colour channels), normalised to [0, 1] by its 99.5th percentile."""
    baseline = torch.zeros_like(x) if baseline is None else baseline
    inputs = x.detach().clone().requires_grad_(True)
    size = x.shape[-2:]
    with borrowed(model) as own, in_use(own, grad=True, out_of_place=True) as work:
        if method == "Saliency":
            attr = Saliency(work).attribute(inputs, target=target, abs=True)
        elif method == "SmoothGrad":
            noise = float(0.15 * (x.max() - x.min()))
            attr = NoiseTunnel(Saliency(work)).attribute(
                inputs, nt_type="smoothgrad", nt_samples=16, nt_samples_batch_size=8, stdevs=noise, target=target
            )
        elif method == "Integrated Gradients":
            attr = IntegratedGradients(work).attribute(
                inputs, baselines=baseline, target=target, n_steps=32, internal_batch_size=8
            )
        elif method == "Occlusion":
            window, channels = max(2, min(size) // 8), x.shape[1]
            attr = Occlusion(work).attribute(
                inputs,
                sliding_window_shapes=(channels, window, window),
                strides=(channels, window // 2, window // 2),
                baselines=baseline,
                target=target,
                perturbations_per_eval=16,
            )
        elif method == "Guided Grad-CAM":
            if layer is None:
                raise ValueError("Guided Grad-CAM needs a layer")
            attr = GuidedGradCam(work, dict(work.named_modules())[layer]).attribute(inputs, target=target)
        else:
            raise ValueError(f"unknown attribution method {method!r}")
    if progress:
        progress(1, 1)
    raw = attr.detach()[0].abs().sum(0) if method != "Occlusion" else F.relu(attr.detach()[0].sum(0))
    top = torch.quantile(raw.flatten(), 0.995) if raw.numel() > 1 else raw.max()
    return Explanation(method, target, torch.clamp(raw / (top + EPS), 0, 1), raw)
