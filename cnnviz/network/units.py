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

import functools
import math
from collections.abc import Callable
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
    region: Tensor  # the padded input around the window, one stride further on each side where there is input
    region_on_padding: Tensor  # (bool) True where the region's cell is padding
    first_tap: tuple[int, int]  # where tap (0, 0) lies in ``region``; tap (i, j) is dilation · (i, j) further

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


def _capture(module: nn.Module, x: Tensor, layer: str) -> tuple[nn.Module, Tensor, Tensor]:
    """The submodule ``layer`` of ``module`` and copies of its input and output for ``x``."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"x must be one image batch (1, C, H, W), not {tuple(x.shape)}")
    try:
        target = module.get_submodule(layer)
    except AttributeError as exc:
        raise KeyError(f"no layer named {layer!r} in this model") from exc
    captured: dict[str, Tensor] = {}

    def before(_module: nn.Module, inputs: tuple[Any, ...]) -> None:
        # A module run twice (resnet's ReLU after bn1 and after the sum) is explained at its last call, the one
        # whose output the feature maps and the overview show (cnnviz.network.features.activations).
        if not inputs or not isinstance(inputs[0], Tensor):
            raise TypeError(f"{layer} does not take a single tensor")
        captured["input"] = inputs[0].detach().clone()  # before the layer runs: an in-place layer changes it

    def after(_module: nn.Module, _inputs: tuple[Any, ...], output: Any) -> None:
        if not isinstance(output, Tensor):
            raise TypeError(f"{layer} does not give a single tensor")
        captured["output"] = output.detach().clone()  # at once: a later in-place op must not change it

    with in_use(module):
        handles = [target.register_forward_pre_hook(before), target.register_forward_hook(after)]
        try:
            module(x)
        finally:
            for handle in handles:
                handle.remove()
    if "input" not in captured:
        raise RuntimeError(f"{layer} did not run for this input")
    return target, captured["input"], captured["output"]


def _check_unit(layer: str, unit: tuple[int, ...], shape: tuple[int, ...]) -> None:
    if len(unit) != len(shape) or not all(0 <= u < n for u, n in zip(unit, shape, strict=True)):
        raise ValueError(f"unit {tuple(unit)} is outside {layer}'s output {tuple(shape)}")


def applied_padding(conv: nn.Conv2d, size: tuple[int, ...]) -> tuple[int, int, int, int]:
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


def explain_unit(module: nn.Module, x: Tensor, layer: str, unit: tuple[int, ...]) -> UnitExplanation:
    """How PyTorch computed output ``unit`` of the submodule named ``layer`` of ``module`` for the input batch
    ``x`` (1, C, H, W): for a ``Conv2d`` (``unit`` = (channel, row, column)) a :class:`UnitComputation` — any
    stride, padding (numbers, ``'same'``, any padding mode, timm's TensorFlow "SAME"), dilation, groups (depthwise
    included), with or without bias; for a BatchNorm a :class:`NormUnit`, an activation an
    :class:`ActivationUnit`, a pooling layer a :class:`PoolUnit` (each ``unit`` = (channel, row, column)), and for
    a ``Linear`` (``unit`` = (output,)) a :class:`LinearUnit`. Each has ``.total`` (the hand computation) and
    ``.activation`` (what PyTorch computed there)."""
    target, inputs, output = _capture(module, x, layer)
    unit = tuple(int(u) for u in unit)
    _check_unit(layer, unit, tuple(output.shape[1:]))
    if isinstance(target, nn.Conv2d):
        return _conv_unit(target, layer, inputs, output, unit)  # type: ignore[arg-type]
    if isinstance(target, nn.BatchNorm2d):
        return _norm_unit(target, layer, inputs, output, unit)  # type: ignore[arg-type]
    if isinstance(target, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return _pool_unit(target, layer, inputs, output, unit)  # type: ignore[arg-type]
    if isinstance(target, nn.Linear):
        return _linear_unit(target, layer, inputs, output, unit)
    if type(target) in ACTIVATIONS:
        value, how = float(inputs[0][unit]), ACTIVATIONS[type(target)]
        return ActivationUnit(
            layer, unit, how.name, value, how.compute(target, value), float(output[0][unit]), how.formula
        )
    raise TypeError(
        f"{layer} is a {type(target).__name__}: only convs, batch norms, activations, pooling and "
        "linear layers are explained unit by unit"
    )


def _conv_unit(conv: nn.Conv2d, layer: str, inputs: Tensor, output: Tensor, unit: Unit) -> UnitComputation:
    channel, row, column = unit
    left, right, top, bottom = applied_padding(conv, tuple(inputs.shape[-2:]))
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    per_group = conv.in_channels // conv.groups
    group = channel // (conv.out_channels // conv.groups)
    first = group * per_group  # only the unit's group is padded: a depthwise unit reads one channel
    padded = F.pad(inputs[0:1, first : first + per_group], (left, right, top, bottom), mode=mode)[0]
    on_pad = F.pad(torch.ones_like(inputs[0:1, :1]), (left, right, top, bottom), value=0.0)[0, 0] == 0
    (sh, sw), (dh, dw) = conv.stride, conv.dilation
    kh, kw = conv.kernel_size
    rows = row * sh + dh * torch.arange(kh)
    cols = column * sw + dw * torch.arange(kw)
    weight = conv.weight.detach()
    top_row, left_col = max(0, row * sh - sh), max(0, column * sw - sw)  # one stride before, where there is room
    last_row = min(padded.shape[-2], row * sh + dh * (kh - 1) + sh + 1)
    last_col = min(padded.shape[-1], column * sw + dw * (kw - 1) + sw + 1)
    region_on_pad = on_pad[top_row:last_row, left_col:last_col]
    terms = []
    for k in range(per_group):
        c = first + k
        window = padded[k][rows][:, cols].clone()
        kernel = weight[channel, k].clone()
        terms.append(
            ChannelTerm(
                c,
                window,
                on_pad[rows][:, cols].clone(),
                kernel,
                window * kernel,
                padded[k, top_row:last_row, left_col:last_col].clone(),
                region_on_pad,
                (row * sh - top_row, column * sw - left_col),
            )
        )
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


@dataclass(frozen=True)
class NormUnit:
    """Batch norm of one value with the layer's running statistics (per channel, averaged over the batches and
    the spatial positions it was trained on): (v − mean) / √(var + eps) × weight + bias, then timm's fused
    activation where the layer has one."""

    layer: str
    unit: Unit
    value: float
    mean: float
    var: float
    eps: float
    weight: float
    bias: float
    activation: float
    then: str | None  # the fused activation's name (timm's BatchNormAct2d), else None
    then_compute: Callable[[float], float] | None  # that activation with the layer's settings

    @property
    def normalized(self) -> float:
        return (self.value - self.mean) / math.sqrt(self.var + self.eps)

    @property
    def affine(self) -> float:
        return self.normalized * self.weight + self.bias

    @property
    def total(self) -> float:
        return self.affine if self.then_compute is None else self.then_compute(self.affine)


def _norm_unit(norm: nn.BatchNorm2d, layer: str, inputs: Tensor, output: Tensor, unit: Unit) -> NormUnit:
    if norm.running_mean is None or norm.running_var is None:
        raise TypeError(f"{layer} keeps no running statistics: it normalises with each batch's own")
    channel = unit[0]
    act = getattr(norm, "act", None)
    then, then_compute = None, None
    if isinstance(act, nn.Module) and not isinstance(act, nn.Identity):
        if type(act) not in ACTIVATIONS:
            raise TypeError(f"{layer}'s activation {type(act).__name__} is not one explained by hand")
        how = ACTIVATIONS[type(act)]
        then, then_compute = how.name, functools.partial(how.compute, act)
    return NormUnit(
        layer,
        unit,
        float(inputs[0][unit]),
        float(norm.running_mean[channel]),
        float(norm.running_var[channel]),
        float(norm.eps),
        1.0 if norm.weight is None else float(norm.weight.detach()[channel]),
        0.0 if norm.bias is None else float(norm.bias.detach()[channel]),
        float(output[0][unit]),
        then,
        then_compute,
    )


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


def _gelu(module: nn.Module, v: float) -> float:
    if getattr(module, "approximate", "none") == "tanh":
        return 0.5 * v * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (v + 0.044715 * v**3)))
    return 0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0)))


def _leaky(module: nn.Module, v: float) -> float:
    slope = module.negative_slope if isinstance(module, nn.LeakyReLU) else 0.01
    return v if v >= 0 else slope * v


@dataclass(frozen=True)
class Activation:
    """An activation function as taught: its name, its formula, and the formula computed for a module's settings."""

    name: str
    formula: str
    compute: Callable[[nn.Module, float], float]


ACTIVATIONS: dict[type[nn.Module], Activation] = {
    nn.ReLU: Activation("ReLU", "max(0, v)", lambda _m, v: max(0.0, v)),
    nn.ReLU6: Activation("ReLU6", "min(max(0, v), 6)", lambda _m, v: min(max(0.0, v), 6.0)),
    nn.SiLU: Activation("SiLU", "v · σ(v) = v / (1 + e^−v)", lambda _m, v: v * _sigmoid(v)),
    nn.Hardswish: Activation(
        "Hardswish", "v · min(max(v + 3, 0), 6) / 6", lambda _m, v: v * min(max(v + 3.0, 0.0), 6.0) / 6.0
    ),
    nn.Hardsigmoid: Activation(
        "Hardsigmoid", "min(max(v + 3, 0), 6) / 6", lambda _m, v: min(max(v + 3.0, 0.0), 6.0) / 6.0
    ),
    nn.Sigmoid: Activation("Sigmoid", "1 / (1 + e^−v)", lambda _m, v: _sigmoid(v)),
    nn.Tanh: Activation("Tanh", "tanh(v)", lambda _m, v: math.tanh(v)),
    nn.GELU: Activation("GELU", "v · Φ(v) = v/2 · (1 + erf(v / √2))", _gelu),
    nn.LeakyReLU: Activation("LeakyReLU", "v if v ≥ 0, else slope · v", _leaky),
}
"""Every activation explained by hand, declared once (by its exact type)."""


@dataclass(frozen=True)
class ActivationUnit:
    """An activation function applied to one value."""

    layer: str
    unit: tuple[int, ...]
    name: str
    value: float
    total: float
    activation: float
    formula: str


@dataclass(frozen=True)
class PoolUnit:
    """A pooling window of one channel: its values (padding cells marked) and their maximum or mean."""

    layer: str
    unit: Unit
    operation: str  # "max" or "mean"
    window: Tensor  # (kh, kw)
    on_padding: Tensor  # (kh, kw) bool
    divisor: int  # the mean's divisor (cells counted)
    activation: float
    origin: tuple[int, int]

    @property
    def total(self) -> float:
        if self.operation == "max":
            return float(self.window[~self.on_padding].max())
        return float(self.window.double().sum()) / self.divisor


def _pool_unit(pool: nn.Module, layer: str, inputs: Tensor, output: Tensor, unit: Unit) -> PoolUnit:
    channel, row, column = unit
    plane = inputs[0, channel]
    height, width = plane.shape
    operation = "max" if isinstance(pool, (nn.MaxPool2d, nn.AdaptiveMaxPool2d)) else "mean"
    if isinstance(pool, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        out_h, out_w = output.shape[-2:]  # PyTorch's adaptive windows: [⌊i·H/out⌋, ⌈(i+1)·H/out⌉)
        r0, r1 = (row * height) // out_h, -((-(row + 1) * height) // out_h)
        c0, c1 = (column * width) // out_w, -((-(column + 1) * width) // out_w)
        window = plane[r0:r1, c0:c1].clone()
        on_padding = torch.zeros_like(window, dtype=torch.bool)
        return PoolUnit(layer, unit, operation, window, on_padding, window.numel(), float(output[0][unit]), (r0, c0))
    kh, kw = _pair(pool.kernel_size)
    sh, sw = _pair(pool.stride or pool.kernel_size)
    ph, pw = _pair(pool.padding)
    dh, dw = _pair(getattr(pool, "dilation", 1))
    rows = row * sh - ph + dh * torch.arange(kh)
    cols = column * sw - pw + dw * torch.arange(kw)
    valid_r, valid_c = (rows >= 0) & (rows < height), (cols >= 0) & (cols < width)
    on_padding = ~(valid_r[:, None] & valid_c[None, :])
    window = torch.zeros(kh, kw, dtype=plane.dtype)
    window[~on_padding] = plane[rows.clamp(0, height - 1)][:, cols.clamp(0, width - 1)][~on_padding]
    if operation == "max":
        window[on_padding] = float("-inf")
        divisor = 1
    else:  # AvgPool2d: the window clipped to the padded input, padding counted unless count_include_pad=False
        override: Any = getattr(pool, "divisor_override", None)
        if override:
            divisor = int(override)
        elif pool.count_include_pad:
            inside_padded = (rows < height + ph)[:, None] & (cols < width + pw)[None, :]
            divisor = int(inside_padded.sum())
        else:
            divisor = int((~on_padding).sum())
    return PoolUnit(
        layer, unit, operation, window, on_padding, divisor, float(output[0][unit]), (row * sh - ph, column * sw - pw)
    )


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


@dataclass(frozen=True)
class LinearUnit:
    """One output of a linear layer: Σ input × weight row, plus the bias."""

    layer: str
    unit: tuple[int, ...]
    inputs: Tensor  # (N,)
    weights: Tensor  # (N,)
    bias: float
    activation: float

    @property
    def products(self) -> Tensor:
        return self.inputs * self.weights

    @property
    def total(self) -> float:
        return float(self.products.double().sum()) + self.bias


def _linear_unit(linear: nn.Linear, layer: str, inputs: Tensor, output: Tensor, unit: tuple[int, ...]) -> LinearUnit:
    if inputs.dim() != 2:
        raise TypeError(f"{layer} is applied to a {tuple(inputs.shape)} input: one vector per image is explained")
    (j,) = unit
    bias = 0.0 if linear.bias is None else float(linear.bias.detach()[j])
    return LinearUnit(layer, unit, inputs[0].clone(), linear.weight.detach()[j].clone(), bias, float(output[0, j]))


@dataclass(frozen=True)
class SoftmaxUnit:
    """A class's probability from the logits: e^(z_k − max z) / Σ_j e^(z_j − max z)."""

    logits: Tensor
    index: int

    @property
    def exps(self) -> Tensor:
        return torch.exp(self.logits.double() - self.logits.double().max())

    @property
    def total(self) -> float:
        exps = self.exps
        return float(exps[self.index] / exps.sum())


def softmax_unit(logits: Tensor, index: int) -> SoftmaxUnit:
    """Class ``index``'s softmax from a model's ``logits`` (N,) or (1, N), with every number that makes it."""
    flat = logits.detach().reshape(-1).clone()
    if not 0 <= index < flat.numel():
        raise ValueError(f"class {index} is outside the {flat.numel()} logits")
    return SoftmaxUnit(flat, index)


UnitExplanation = UnitComputation | NormUnit | ActivationUnit | PoolUnit | LinearUnit


def classifier_layer(module: nn.Module, classes: int) -> str | None:
    """The name of ``module``'s last ``Linear`` layer with one output per class (whose outputs are the logits the
    softmax turns into probabilities), or None where the model ends otherwise."""
    found = None
    for name, sub in module.named_modules():
        if isinstance(sub, nn.Linear) and sub.out_features == classes:
            found = name
    return found
