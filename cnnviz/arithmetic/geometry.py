"""Convolution arithmetic: output sizes, validity and index maps, exactly as PyTorch computes them.

Covers ``"conv"`` (``nn.Conv2d``), ``"transposed"`` (``nn.ConvTranspose2d``), ``"maxpool"``
(``nn.MaxPool2d``) and ``"avgpool"`` (``nn.AvgPool2d``), with height and width set independently.
Settings PyTorch rejects raise ``ValueError`` with a plain explanation.

Notation follows Dumoulin & Visin, "A guide to convolution arithmetic for deep learning":
``i`` input size, ``k`` kernel size, ``s`` stride, ``p`` padding, ``d`` dilation, ``a`` output padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Op = Literal["conv", "transposed", "maxpool", "avgpool"]
OPS: tuple[Op, ...] = ("conv", "transposed", "maxpool", "avgpool")
OP_NAMES: dict[str, str] = {
    "conv": "Convolution",
    "transposed": "Transposed convolution",
    "maxpool": "Max pooling",
    "avgpool": "Average pooling",
}
PADDING_PRESETS = ("valid", "same", "full")
"""``valid`` (no padding) and ``same`` are PyTorch's own; ``full`` is the paper's p = d·(k−1)."""

Size = int | tuple[int, int]
Padding = int | tuple[int, int] | str


@dataclass(frozen=True)
class Axis:
    """The geometry of one spatial dimension (rows or columns)."""

    size: int
    kernel: int
    stride: int
    dilation: int
    pad_before: int
    pad_after: int
    output_padding: int
    ceil_mode: bool
    output: int

    @property
    def padded(self) -> int:
        """Input size with its padding."""
        return self.size + self.pad_before + self.pad_after


@dataclass(frozen=True)
class Geometry:
    """A validated setting: the operation and its rows and columns axes."""

    op: Op
    rows: Axis
    cols: Axis
    padding_preset: str | None = None

    @property
    def input_size(self) -> tuple[int, int]:
        return self.rows.size, self.cols.size

    @property
    def output_size(self) -> tuple[int, int]:
        return self.rows.output, self.cols.output

    @property
    def pooling(self) -> bool:
        return self.op in ("maxpool", "avgpool")


def _pair(value: Size, name: str) -> tuple[int, int]:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer or a pair of integers, not {value!r}.")
    if isinstance(value, int):
        return value, value
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an integer or a pair of integers, not {value!r}.")


def _check_positive(values: tuple[int, int], name: str) -> None:
    for v in values:
        if v < 1:
            raise ValueError(f"{name} must be at least 1 (got {v}).")


def _pool_output(i: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """PyTorch's ``pooling_output_shape``: floor (or ceil) division, then the ceil-mode correction."""
    numerator = i + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = numerator // s + 1
    if ceil_mode and (out - 1) * s >= i + p:
        out -= 1  # the last window would start in the right padding only
    return out


def _axis(op: Op, dim: str, i: int, k: int, s: int, pad: tuple[int, int], d: int, a: int, ceil: bool) -> Axis:
    before, after = pad
    if op == "conv":
        padded = i + before + after
        eff = d * (k - 1) + 1
        if eff > padded:
            raise ValueError(
                f"The {dim} kernel spans {eff} cells (dilation {d} × ({k} − 1) + 1) but the padded input "
                f"has only {padded}: PyTorch rejects a kernel larger than the padded input."
            )
        out = (padded - eff) // s + 1
    elif op == "transposed":
        if not (a < s or a < d):
            raise ValueError(
                f"The {dim} output padding ({a}) must be smaller than the stride ({s}) or the dilation ({d}); "
                "PyTorch rejects it otherwise."
            )
        out = (i - 1) * s - 2 * before + d * (k - 1) + a + 1
        # A negative size always raises in PyTorch; a 0-cell output raises in some of its CPU kernels and
        # gives an empty tensor in others. cnnviz rejects both: there is nothing to show.
        if out < 1:
            raise ValueError(
                f"The {dim} output would have {out} cells: (i−1)·s − 2p + d·(k−1) + a + 1 = "
                f"({i}−1)·{s} − 2·{before} + {d}·({k}−1) + {a} + 1. Use less padding."
            )
    else:
        if before > k // 2:
            raise ValueError(
                f"The {dim} pool padding ({before}) can be at most half the kernel size ({k} // 2 = {k // 2}); "
                "PyTorch rejects more."
            )
        out = _pool_output(i, k, s, before, d, ceil)
        if out < 1:
            raise ValueError(
                f"The {dim} output would be empty: the pooling window ({d * (k - 1) + 1} cells) does not fit "
                f"in the padded input ({i + 2 * before} cells)."
            )
    return Axis(i, k, s, d, before, after, a, ceil, out)


def _resolve_padding(
    op: Op, padding: Padding, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> tuple[tuple[tuple[int, int], tuple[int, int]], str | None]:
    """Padding as (before, after) per axis, and the preset name if one was given."""
    if isinstance(padding, str):
        preset = padding.lower()
        if preset not in PADDING_PRESETS:
            raise ValueError(f"Padding must be a number or one of {', '.join(PADDING_PRESETS)} (got {padding!r}).")
        if preset == "valid":
            return ((0, 0), (0, 0)), preset
        if preset == "same":
            if op != "conv":
                raise ValueError("padding='same' exists only for convolution in PyTorch.")
            if stride != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions (PyTorch needs stride 1).")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
            # PyTorch puts the extra cell of an odd total on the far side (bottom / right).
            return tuple((t // 2, t - t // 2) for t in totals), preset  # type: ignore[return-value]
        if op not in ("conv", "transposed"):
            raise ValueError(
                "Full padding (k−1 on each side) is impossible for pooling: PyTorch allows at most k // 2."
            )
        return tuple((d * (k - 1), d * (k - 1)) for k, d in zip(kernel, dilation, strict=True)), preset  # type: ignore[return-value]
    pads = _pair(padding, "Padding")
    for p in pads:
        if p < 0:
            raise ValueError(f"Padding cannot be negative (got {p}).")
    return ((pads[0], pads[0]), (pads[1], pads[1])), None


def geometry(
    op: Op,
    input_size: Size,
    kernel_size: Size,
    stride: Size = 1,
    padding: Padding = 0,
    dilation: Size = 1,
    output_padding: Size = 0,
    ceil_mode: bool = False,
) -> Geometry:
    """Validate a setting as PyTorch does and work out both axes.

    Raises:
        ValueError: where PyTorch would reject the setting, with the reason in plain words.
    """
    if op not in OPS:
        raise ValueError(f"Unknown operation {op!r}; expected one of {', '.join(OPS)}.")
    size, kernel = _pair(input_size, "Input size"), _pair(kernel_size, "Kernel size")
    strides, dilations = _pair(stride, "Stride"), _pair(dilation, "Dilation")
    out_pads = _pair(output_padding, "Output padding")
    _check_positive(size, "Input size")
    _check_positive(kernel, "Kernel size")
    _check_positive(strides, "Stride")
    _check_positive(dilations, "Dilation")
    if op == "avgpool" and dilations != (1, 1):
        raise ValueError("Average pooling has no dilation in PyTorch (nn.AvgPool2d takes none).")
    if op != "transposed" and out_pads != (0, 0):
        raise ValueError("Output padding exists only for transposed convolution.")
    if any(a < 0 for a in out_pads):
        raise ValueError("Output padding cannot be negative.")
    if ceil_mode and not op.endswith("pool"):
        raise ValueError("ceil_mode exists only for pooling.")
    pads, preset = _resolve_padding(op, padding, kernel, strides, dilations)
    rows = _axis(op, "height", size[0], kernel[0], strides[0], pads[0], dilations[0], out_pads[0], ceil_mode)
    cols = _axis(op, "width", size[1], kernel[1], strides[1], pads[1], dilations[1], out_pads[1], ceil_mode)
    return Geometry(op, rows, cols, preset)


def axis_sources(op: Op, axis: Axis, out: int) -> list[tuple[int, int]]:
    """(input index, kernel tap) pairs along one axis that feed output index ``out``; indices may lie in padding.

    For convolution and pooling the window starts at ``out·s − p`` and tap ``t`` reads ``start + t·d``.
    For transposed convolution input ``x`` reaches output ``x·s − p + t·d``, so the pairs are every ``(x, t)``
    with ``x`` inside the input that land on ``out``.
    """
    if op == "transposed":
        pairs = []
        for t in range(axis.kernel):
            shifted = out + axis.pad_before - t * axis.dilation
            if shifted % axis.stride == 0 and 0 <= shifted // axis.stride < axis.size:
                pairs.append((shifted // axis.stride, t))
        return pairs
    start = out * axis.stride - axis.pad_before
    return [(start + t * axis.dilation, t) for t in range(axis.kernel)]


def output_cells(geo: Geometry, input_cell: tuple[int, int]) -> set[tuple[int, int]]:
    """Every output cell that the input cell (row, column) feeds."""
    r, c = input_cell

    def fed(axis: Axis, index: int) -> set[int]:
        return {o for o in range(axis.output) if any(x == index for x, _ in axis_sources(geo.op, axis, o))}

    return {(y, x) for y in fed(geo.rows, r) for x in fed(geo.cols, c)}


@dataclass(frozen=True)
class Preset:
    """A named case of the conv_arithmetic repository with the sizes of Dumoulin & Visin's figures."""

    key: str
    title: str
    op: Op
    input_size: int
    kernel_size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    output_padding: int = 0
    expected_output: int = 0  # the figure's output size

    def geometry(self) -> Geometry:
        return geometry(
            self.op, self.input_size, self.kernel_size, self.stride, self.padding, self.dilation, self.output_padding
        )


PRESETS: tuple[Preset, ...] = (
    Preset("no_padding_no_strides", "No padding, no strides", "conv", 4, 3, expected_output=2),
    Preset("arbitrary_padding_no_strides", "Arbitrary padding, no strides", "conv", 5, 4, padding=2, expected_output=6),
    Preset("same_padding_no_strides", "Half (same) padding, no strides", "conv", 5, 3, padding=1, expected_output=5),
    Preset("full_padding_no_strides", "Full padding, no strides", "conv", 5, 3, padding=2, expected_output=7),
    Preset("no_padding_strides", "No padding, strides", "conv", 5, 3, stride=2, expected_output=2),
    Preset("padding_strides", "Padding, strides", "conv", 5, 3, stride=2, padding=1, expected_output=3),
    Preset("padding_strides_odd", "Padding, strides (odd)", "conv", 6, 3, stride=2, padding=1, expected_output=3),
    Preset("dilation", "Dilation", "conv", 7, 3, dilation=2, expected_output=3),
    Preset(
        "no_padding_no_strides_transposed", "No padding, no strides, transposed", "transposed", 2, 3, expected_output=4
    ),
    Preset(
        "arbitrary_padding_no_strides_transposed",
        "Arbitrary padding, no strides, transposed",
        "transposed",
        6,
        4,
        padding=2,
        expected_output=5,
    ),
    Preset(
        "same_padding_no_strides_transposed",
        "Half (same) padding, no strides, transposed",
        "transposed",
        5,
        3,
        padding=1,
        expected_output=5,
    ),
    Preset(
        "full_padding_no_strides_transposed",
        "Full padding, no strides, transposed",
        "transposed",
        7,
        3,
        padding=2,
        expected_output=5,
    ),
    Preset(
        "no_padding_strides_transposed",
        "No padding, strides, transposed",
        "transposed",
        2,
        3,
        stride=2,
        expected_output=5,
    ),
    Preset(
        "padding_strides_transposed",
        "Padding, strides, transposed",
        "transposed",
        3,
        3,
        stride=2,
        padding=1,
        expected_output=5,
    ),
    Preset(
        "padding_strides_odd_transposed",
        "Padding, strides (odd), transposed",
        "transposed",
        3,
        3,
        stride=2,
        padding=1,
        output_padding=1,
        expected_output=6,
    ),
)
"""The 15 animations of github.com/vdumoulin/conv_arithmetic, in the repository's order."""


def max_padding(op: Op, size: int, kernel: int, stride: int = 1, dilation: int = 1, output_padding: int = 0) -> int:
    """The largest padding worth offering along one axis.

    Pooling: k // 2, PyTorch's limit. Transposed convolution: the most that leaves at least one output
    cell. Convolution: full padding d·(k−1); PyTorch accepts more, but further rings only add zeros.
    """
    if op in ("maxpool", "avgpool"):
        return kernel // 2
    if op == "transposed":
        return max(0, ((size - 1) * stride + dilation * (kernel - 1) + output_padding) // 2)
    return dilation * (kernel - 1)


def max_output_padding(stride: int, dilation: int) -> int:
    """PyTorch's limit: output padding must be smaller than the stride or the dilation."""
    return max(stride, dilation) - 1
