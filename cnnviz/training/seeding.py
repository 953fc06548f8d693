"""Randomness per job: every seeded job draws from a ``torch.Generator`` of its own, passed down, never from the
process's generator (which every session's thread shares: ``torch.random.fork_rng`` swaps that one generator for
the whole process, so concurrent jobs would draw from, and rewind, each other's state).

PyTorch builds layers from the global generator and its dropout takes no generator, so this module holds the
pieces that need one: initialising a network's layers, and dropout's mask drawn from a generator. Each gives
exactly what PyTorch gives after ``torch.manual_seed`` of the same seed (the same draws in the same order), so a
seed means what it meant before.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import Tensor, nn

M = TypeVar("M", bound=nn.Module)

_PARAMETER_FREE = (
    nn.ReLU,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.Flatten,
    nn.Dropout,
    nn.Sequential,
    nn.Identity,
)


def seeded(build: Callable[[], M], generator: torch.Generator) -> M:
    """The module ``build()`` makes, built on the ``meta`` device (no draw from the global generator) and then
    initialised from ``generator`` as each layer's ``reset_parameters`` would (:func:`initialise`)."""
    with torch.device("meta"):
        module = build()
    return initialise(module.to_empty(device="cpu"), generator)


def initialise(module: M, generator: torch.Generator) -> M:
    """Re-initialise every layer of ``module``, in order, as PyTorch does by default, drawing from ``generator``:
    conv and linear weights Kaiming-uniform (a = √5), their biases uniform in ±1/√fan_in, batch norm at 1 and 0
    with fresh running statistics.

    Raises:
        TypeError: a layer with parameters whose default initialisation is not known here.
    """
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                if layer.bias is not None:
                    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(layer.weight)
                    bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
                    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
            elif isinstance(layer, nn.BatchNorm2d):
                layer.reset_parameters()  # ones, zeros and fresh statistics: nothing random
            elif any(True for _ in layer.parameters(recurse=False)) and not isinstance(layer, _PARAMETER_FREE):
                raise TypeError(f"no seeded initialisation for {type(layer).__name__}")
    return module


def dropout_noise(like: Tensor, p: float, generator: torch.Generator) -> Tensor:
    """What training-mode dropout with probability ``p`` multiplies ``like`` by: 0 where a value is dropped,
    1 / (1 − p) where it is kept, drawn from ``generator`` exactly as ``F.dropout`` draws from the global generator
    (a Bernoulli of 1 − p per value, then scaled)."""
    if p == 1:
        return torch.zeros_like(like)
    return torch.empty_like(like).bernoulli_(1 - p, generator=generator).div_(1 - p)


class SeededDropout(nn.Dropout):
    """``nn.Dropout`` whose training-mode mask comes from ``generator`` when one is set (:func:`seed_dropouts`);
    without one it is ``nn.Dropout``. It has no state of its own: weights load and save as with ``nn.Dropout``."""

    generator: torch.Generator | None = None

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0 or self.generator is None:
            return super().forward(x)
        return x * dropout_noise(x, self.p, self.generator)


def seed_dropouts(module: nn.Module, generator: torch.Generator | None) -> nn.Module:
    """Make every dropout layer of ``module`` draw its masks from ``generator`` (each ``nn.Dropout`` becomes a
    :class:`SeededDropout` with the same ``p``); None hands them back to the global generator."""
    for parent in list(module.modules()):
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                replacement = SeededDropout(child.p)
                replacement.train(child.training)
                parent._modules[name] = child = replacement
            if isinstance(child, SeededDropout):
                child.generator = generator
    return module
