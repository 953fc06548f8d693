"""A forward pass stage by stage: what each conv, ReLU, pooling and fully connected layer outputs for one
image, in numbers, and the softmax that turns the last layer's scores into probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from cnnviz.network.features import activations


@dataclass(frozen=True)
class Stage:
    """One layer's output for one image: its shape (no batch) and summary numbers."""

    name: str
    kind: str
    shape: tuple[int, ...]
    minimum: float
    maximum: float
    mean: float
    zero_fraction: float


@dataclass(frozen=True)
class ForwardPass:
    """Every stage in order, the logits of the last one and their softmax, and each stage's output (1, …)."""

    stages: list[Stage]
    logits: Tensor
    probabilities: Tensor
    outputs: dict[str, Tensor]


def leaf_layers(model: nn.Module) -> list[str]:
    """Names of the modules with no children, in registration order (the order of a sequential model)."""
    return [name for name, module in model.named_modules() if name and not any(module.children())]


def forward_pass(model: nn.Module, x: Tensor) -> ForwardPass:
    """The output of each leaf layer of ``model`` for the one image in ``x`` (1, C, H, W), summarised, and
    the softmax of the last one (the logits)."""
    if x.dim() != 4 or len(x) != 1:
        raise ValueError("expected one image, shaped (1, C, H, W).")
    kinds = dict(model.named_modules())
    names = leaf_layers(model)
    outputs = activations(model, x, names)
    stages = []
    for name in names:
        out = outputs[name][0]
        stages.append(
            Stage(
                name,
                type(kinds[name]).__name__,
                tuple(out.shape),
                float(out.min()),
                float(out.max()),
                float(out.mean()),
                float((out == 0).float().mean()),
            )
        )
    logits = outputs[names[-1]][0]
    probabilities = torch.softmax(logits.double(), dim=0)  # in double, as predict() does
    return ForwardPass(stages, logits, probabilities, outputs)
