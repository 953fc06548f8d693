"""One unit of a network, computed by hand: :func:`explain_unit` takes any model, an input, a ``Conv2d``'s name
and one of its output units ``(channel, row, column)``, and returns every number that made that activation — for
each input channel of the unit's group, the window of the layer's real input (the cells that fall on padding
marked), the kernel slice, their products and sum — plus the bias, and the total, which is the activation PyTorch
computed there (checked by the caller or the tests, ≤ 1e-4 relative).

The layer's input and output are captured with hooks on the shared model under its guard
(:func:`cnnviz.models.sharing.in_use`): cloned at once, so an in-place ReLU after the layer cannot change them,
and the hooks removed in ``finally``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from timm.layers import Conv2dSame
from timm.layers.padding import get_same_padding
from torch import Tensor, nn

from cnnviz.models.sharing import in_use

Unit = tuple[int, int, int]


@dataclass(frozen=True)
class ChannelTerm:
    """One input channel's part of a unit: the window under the kernel's taps and the kernel slice."""

    channel: int  # the input channel (numbered as in the layer's input)
    window: Tensor  # (kh, kw) the input values at the taps (padding cells hold the padding's value)
    on_padding: Tensor  # (kh, kw) bool: True where a tap falls outside the input
    kernel: Tensor  # (kh, kw)
    products: Tensor  # window × kernel

    @property
    def sum(self) -> float:
        return float(self.products.sum())


@dataclass(frozen=True)
class UnitComputation:
    """How one output unit of a ``Conv2d`` was computed, with the layer's settings."""

    layer: str
    unit: Unit
    terms: tuple[ChannelTerm, ...]
    bias: float
    activation: float  # what PyTorch computed at the unit
    origin: tuple[int, int]  # the input position of the window's top-left tap (negative: on padding)
    stride: tuple[int, int]
    dilation: tuple[int, int]
    padding: tuple[int, int, int, int]  # left, right, top, bottom, as applied
    groups: int

    @property
    def total(self) -> float:
        """Σ over channels of Σ window × kernel, plus the bias (summed in float64)."""
        return float(sum(t.products.double().sum() for t in self.terms)) + self.bias


def _capture(module: nn.Module, x: Tensor, layer: str) -> tuple[nn.Conv2d, Tensor, Tensor]:
    """The conv ``layer`` of ``module`` and copies of its input and output for ``x``."""
    try:
        conv = module.get_submodule(layer)
    except AttributeError as exc:
        raise KeyError(f"no layer named {layer!r} in this model") from exc
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"{layer} is a {type(conv).__name__}, not a Conv2d")
    captured: dict[str, Tensor] = {}

    def hook(_module: nn.Module, inputs: tuple[Any, ...], output: Tensor) -> None:
        captured["input"] = inputs[0].detach().clone()  # (a later in-place op must not change them)
        captured["output"] = output.detach().clone()

    with in_use(module):
        handle = conv.register_forward_hook(hook)
        try:
            module(x)
        finally:
            handle.remove()
    if "input" not in captured:
        raise RuntimeError(f"{layer} did not run for this input")
    return conv, captured["input"], captured["output"]


def _padding(conv: nn.Conv2d, size: torch.Size) -> tuple[int, int, int, int]:
    """The padding ``conv`` applies to an input of ``size`` (left, right, top, bottom): its own (numbers or
    ``'same'``, as PyTorch stores it), and for timm's ``Conv2dSame`` (TensorFlow's "SAME", computed from the input
    size in its forward: EfficientNet-Lite0's strided convs) the padding timm adds, from timm's own function."""
    left, right, top, bottom = (int(p) for p in conv._reversed_padding_repeated_twice)
    if isinstance(conv, Conv2dSame):
        (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
        pad_h = get_same_padding(int(size[0]), kh, sh, dh)
        pad_w = get_same_padding(int(size[1]), kw, sw, dw)
        left, right, top, bottom = (
            left + pad_w // 2,
            right + pad_w - pad_w // 2,
            top + pad_h // 2,
            bottom + pad_h - pad_h // 2,
        )
    return left, right, top, bottom


def explain_unit(module: nn.Module, x: Tensor, layer: str, unit: Unit) -> UnitComputation:
    """The computation of output ``unit`` = (channel, row, column) of the ``Conv2d`` named ``layer`` in
    ``module`` for the input batch ``x`` (1, C, H, W): see :class:`UnitComputation`. Any stride, padding (numbers,
    ``'same'``, any padding mode), dilation, groups (depthwise included), with or without bias."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"x must be one image batch (1, C, H, W), not {tuple(x.shape)}")
    conv, inputs, output = _capture(module, x, layer)
    channel, row, column = unit
    out_channels, out_h, out_w = output.shape[1:]
    if not (0 <= channel < out_channels and 0 <= row < out_h and 0 <= column < out_w):
        raise ValueError(f"unit {unit} is outside {layer}'s output ({out_channels}, {out_h}, {out_w})")
    left, right, top, bottom = _padding(conv, inputs.shape[-2:])
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    padded = F.pad(inputs[0:1], (left, right, top, bottom), mode=mode)[0]
    inside = F.pad(torch.ones_like(inputs[0:1, :1]), (left, right, top, bottom), value=0.0)[0, 0] == 0
    (sh, sw), (dh, dw) = conv.stride, conv.dilation
    kh, kw = conv.kernel_size
    rows = row * sh + dh * torch.arange(kh)
    cols = column * sw + dw * torch.arange(kw)
    per_group = conv.in_channels // conv.groups
    group = channel // (conv.out_channels // conv.groups)
    weight = conv.weight.detach()
    terms = []
    for k in range(per_group):
        c = group * per_group + k
        window = padded[c][rows][:, cols].clone()
        kernel = weight[channel, k].clone()
        terms.append(ChannelTerm(c, window, inside[rows][:, cols].clone(), kernel, window * kernel))
    bias = 0.0 if conv.bias is None else float(conv.bias.detach()[channel])
    return UnitComputation(
        layer,
        unit,
        tuple(terms),
        bias,
        float(output[0, channel, row, column]),
        (row * sh - top, column * sw - left),
        (sh, sw),
        (dh, dw),
        (left, right, top, bottom),
        conv.groups,
    )
