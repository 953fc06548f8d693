"""A model's layer table: output shapes, parameters, multiply-accumulates and receptive fields.

One traced forward pass of a blank input does it all. Forward hooks record each leaf module's output;
a :class:`~torch.overrides.TorchFunctionMode` follows every tensor operation and carries the receptive
field (size, jump and start, per axis, in input pixels) from the input to each tensor, so skip
connections, functional calls and reshapes are all accounted for, whatever the architecture.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from cnnviz.models.sharing import in_use


@dataclass(frozen=True)
class Field:
    """The receptive field along one axis: ``size`` pixels, ``jump`` pixels between neighbouring units,
    and ``start``, the centre of the first unit's field (pixel centres are 0, 1, 2, ...)."""

    size: float
    jump: float
    start: float

    def span(self, unit: int) -> tuple[float, float]:
        """First and last input pixel of unit ``unit``'s field (possibly outside the image)."""
        centre = self.start + unit * self.jump
        return centre - (self.size - 1) / 2, centre + (self.size - 1) / 2


GLOBAL = "global"  # the whole input (after flatten, global pooling or a linear layer)
UNKNOWN = "unknown"  # an operation whose spatial effect is not modelled
FieldPair = tuple[Field, Field] | str


@dataclass(frozen=True)
class Layer:
    """One row of the layer table."""

    name: str
    kind: str
    output_shape: tuple[int, ...]  # without the batch dimension
    params: int
    macs: int
    field: FieldPair
    input_shape: tuple[int, ...] = ()  # the first input tensor's, without the batch dimension


@dataclass(frozen=True)
class Summary:
    """The layer table with its totals."""

    layers: list[Layer]
    input_size: tuple[int, int]
    total_params: int
    total_macs: int


def _conv_field(field: Field, k: int, s: int, p: float, d: int) -> Field:
    return Field(
        field.size + (k - 1) * d * field.jump, field.jump * s, field.start + ((k - 1) * d / 2 - p) * field.jump
    )


def _pair(value: Any, n: int = 2) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n


def _union(fields: list[FieldPair]) -> FieldPair:
    if any(f == UNKNOWN for f in fields):
        return UNKNOWN
    if any(f == GLOBAL for f in fields):
        return GLOBAL
    out = []
    for axis in range(2):
        spans = [f[axis].span(0) for f in fields if not isinstance(f, str)]
        low, high = min(a for a, _ in spans), max(b for _, b in spans)
        jump = max(f[axis].jump for f in fields if not isinstance(f, str))
        out.append(Field(high - low + 1, jump, (low + high) / 2))
    return out[0], out[1]


_CONV = {torch.conv2d, F.conv2d}
_MAXPOOL = {F.max_pool2d, torch.max_pool2d, F.max_pool2d_with_indices}
_AVGPOOL = {F.avg_pool2d, torch._C._nn.avg_pool2d}
_ADAPTIVE = {F.adaptive_avg_pool2d, F.adaptive_max_pool2d, torch._C._nn.adaptive_avg_pool2d}
_PAD = {F.pad, torch._C._nn.pad}


class _FieldTracker(TorchFunctionMode):
    """Carries receptive fields from tensor to tensor through every torch operation."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[int, FieldPair] = {}
        self._alive: list[Tensor] = []  # keeps ids unique while tracing

    def mark(self, tensor: Tensor, field: FieldPair) -> None:
        self.fields[id(tensor)] = field
        self._alive.append(tensor)

    def field_of(self, tensor: Tensor) -> FieldPair | None:
        return self.fields.get(id(tensor))

    def __torch_function__(
        self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        inputs = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, Tensor) and id(a) in self.fields]
        if not inputs:
            return out
        source = inputs[0]
        field = self._rule(func, args, kwargs, source, inputs, out)
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, Tensor):
                self.mark(tensor, field if tensor.dim() >= 3 or field in (GLOBAL, UNKNOWN) else GLOBAL)
        return out

    def _rule(
        self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], source: Tensor, inputs: list[Tensor], out: Any
    ) -> FieldPair:
        base = self.fields[id(source)]
        params = _bind(func, args, kwargs)
        if func in _CONV or func in _MAXPOOL or func in _AVGPOOL:
            if isinstance(base, str):  # GLOBAL or UNKNOWN
                return base
            weight = params.get("weight")
            kernel = _pair(weight.shape[-2:]) if weight is not None else _pair(params["kernel_size"])
            stride = _pair(params.get("stride") or (1 if weight is not None else kernel))
            dilation = _pair(params.get("dilation", 1)) if func not in _AVGPOOL else (1, 1)
            padding = params.get("padding", 0)
            if isinstance(padding, str):  # 'valid' or 'same'
                padding = (
                    (0, 0)
                    if padding == "valid"
                    else tuple(d * (k - 1) / 2 for k, d in zip(kernel, dilation, strict=True))
                )
            padding = _pair(padding)
            return (
                _conv_field(base[0], kernel[0], stride[0], padding[0], dilation[0]),
                _conv_field(base[1], kernel[1], stride[1], padding[1], dilation[1]),
            )
        if func in _PAD and not isinstance(base, str):
            # (left, right, top, bottom): the grid's first unit is now ``left`` (``top``) units before the old one
            pad = list(params.get("pad", ())) + [0] * 4
            return (
                Field(base[0].size, base[0].jump, base[0].start - pad[2] * base[0].jump),
                Field(base[1].size, base[1].jump, base[1].start - pad[0] * base[1].jump),
            )
        first = tree_flatten(out)[0][0] if not isinstance(out, Tensor) else out
        if func in _ADAPTIVE and isinstance(first, Tensor) and not isinstance(base, str):
            size_in, size_out = source.shape[-2:], first.shape[-2:]
            if tuple(size_out) == (1, 1):
                return GLOBAL
            kernels = [math.ceil(i / o) for i, o in zip(size_in, size_out, strict=True)]
            strides = [i // o for i, o in zip(size_in, size_out, strict=True)]
            return _conv_field(base[0], kernels[0], strides[0], 0, 1), _conv_field(
                base[1], kernels[1], strides[1], 0, 1
            )
        if not isinstance(first, Tensor) or first.dim() < 3:
            return GLOBAL
        same_grid = all(t.dim() >= 3 and t.shape[-2:] == first.shape[-2:] for t in inputs)
        return _union([self.fields[id(t)] for t in inputs]) if same_grid else UNKNOWN


def _bind(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Name the positional arguments of the few functions whose geometry matters."""
    if func in _CONV:
        names: tuple[str, ...] = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    elif func in _MAXPOOL:
        names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode")
    elif func in _AVGPOOL:
        names = ("input", "kernel_size", "stride", "padding", "ceil_mode")
    elif func in _PAD:
        names = ("input", "pad")
    else:
        names = ("input",)
    bound = dict(zip(names, args, strict=False))
    bound.update(kwargs)
    return bound


def _macs(module: nn.Module, inputs: Any, output: Tensor) -> int:
    per_sample = output[0] if output.dim() > 1 else output
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return per_sample.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return per_sample.numel() * module.in_features
    return 0


def summarize(model: nn.Module, input_size: tuple[int, int], in_channels: int = 3) -> Summary:
    """The layer table of ``model`` for one ``in_channels``×H×W input (a blank image, in eval mode)."""
    tracker = _FieldTracker()
    rows: dict[str, dict[str, Any]] = {}
    order: list[str] = []

    def hook_for(name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            tensor = (
                output
                if isinstance(output, Tensor)
                else next((o for o in tree_flatten(output)[0] if isinstance(o, Tensor)), None)
            )
            if tensor is None:
                return
            if name not in rows:
                order.append(name)
                first = next((i for i in tree_flatten(inputs)[0] if isinstance(i, Tensor)), None)
                rows[name] = {"macs": 0, "input": () if first is None else tuple(first.shape[1:])}
            rows[name]["shape"] = tuple(tensor.shape[1:])
            rows[name]["macs"] += _macs(module, inputs, tensor)
            rows[name]["field"] = tracker.field_of(tensor) or UNKNOWN

        return hook

    leaves = [  # nn.Identity stands in for a part the architecture leaves out (timm's empty attention, dropout)
        (n, m)
        for n, m in model.named_modules()
        if n and not any(True for _ in m.children()) and not isinstance(m, nn.Identity)
    ]
    with in_use(model):
        handles = [m.register_forward_hook(hook_for(n)) for n, m in leaves]
        try:
            x = torch.zeros(1, in_channels, *input_size)
            with tracker:
                tracker.mark(x, (Field(1, 1, 0), Field(1, 1, 0)))
                model(x)
        finally:
            for handle in handles:
                handle.remove()
    modules = dict(leaves)
    layers = [
        Layer(
            name=n,
            kind=type(modules[n]).__name__,
            output_shape=rows[n]["shape"],
            params=sum(p.numel() for p in modules[n].parameters(recurse=False)),
            macs=rows[n]["macs"],
            field=rows[n]["field"],
            input_shape=rows[n]["input"],
        )
        for n in order
    ]
    return Summary(
        layers=layers,
        input_size=input_size,
        total_params=sum(p.numel() for p in model.parameters()),
        total_macs=sum(layer.macs for layer in layers),
    )


def field_text(field: FieldPair) -> tuple[str, str, str]:
    """Size, jump and start of a field as table text (one number where both axes agree)."""
    if isinstance(field, str):
        return field, "", ""

    def both(a: float, b: float) -> str:
        fa, fb = (f"{v:g}" for v in (a, b))
        return fa if fa == fb else f"{fa}×{fb}"

    rows, cols = field
    return both(rows.size, cols.size), both(rows.jump, cols.jump), both(rows.start, cols.start)
