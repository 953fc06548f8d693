"""Every explanation method by name: the class activation maps and captum's attributions."""

from __future__ import annotations

from torch import Tensor, nn

from cnnviz.explain.attributions import CAPTUM_METHODS, attribute
from cnnviz.explain.cams import CAM_METHODS, Explanation, cam
from cnnviz.progress import Progress

METHODS = CAM_METHODS + CAPTUM_METHODS


def explain(
    model: nn.Module,
    x: Tensor,
    target: int,
    method: str,
    layer: str,
    baseline: Tensor | None = None,
    progress: Progress | None = None,
) -> Explanation:
    """Any of :data:`METHODS` for class ``target`` (``layer`` is used by the CAM methods)."""
    if method in CAM_METHODS:
        return cam(model, x, target, layer, method, progress)  # type: ignore[arg-type]
    return attribute(model, x, target, method, layer, baseline, progress)
