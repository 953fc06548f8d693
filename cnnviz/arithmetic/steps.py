"""The numbers behind each animation step: which cells and kernel taps make an output value, and how.

A :class:`Scene` holds a validated :class:`~cnnviz.arithmetic.geometry.Geometry`, small integer values for the
input, kernel and bias, and the output PyTorch computes for them. Steps are worked out here from the
index maps of :mod:`cnnviz.arithmetic.geometry` (never from PyTorch), so the tests can check every step's value
against PyTorch's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from cnnviz.arithmetic.geometry import Axis, Geometry, axis_sources

MAX_IN_CHANNELS = 4
MAX_OUT_CHANNELS = 4


@dataclass(frozen=True)
class Scene:
    """Values for one setting. ``weight`` is (out, in / groups, kh, kw) for convolution and (in, out, kh, kw)
    for transposed convolution, as in PyTorch; pools have neither weight nor bias.

    ``groups`` splits a convolution's channels as ``nn.Conv2d(groups=...)`` does: output channel ``o`` reads only
    the input channels of its group (depthwise: one each). ``flipped`` makes it a true convolution: the kernel
    is rotated by 180° before it slides (``F.conv2d`` with the flipped kernel), where PyTorch's own layers
    compute a cross-correlation."""

    geo: Geometry
    x: np.ndarray  # (in channels, H, W) float64
    weight: np.ndarray | None
    bias: np.ndarray | None
    output: np.ndarray  # (out channels, OH, OW) float64, from PyTorch
    groups: int = 1
    flipped: bool = False

    @property
    def kernel(self) -> np.ndarray:
        """The weights of a convolution's scene (a pool has none)."""
        if self.weight is None:
            raise ValueError(f"a {self.geo.op} scene has no weights")
        return self.weight

    @property
    def applied(self) -> np.ndarray:
        """The kernel as it slides over the input: :attr:`kernel`, rotated by 180° for a true convolution."""
        return self.kernel[:, :, ::-1, ::-1] if self.flipped else self.kernel

    @property
    def in_channels(self) -> int:
        return self.x.shape[0]

    def group_channels(self, out_channel: int) -> range:
        """The input channels output channel ``out_channel`` reads: its group's (all of them when
        ``groups`` is 1); a pool reads its own channel only."""
        if self.geo.pooling:
            return range(out_channel, out_channel + 1)
        if self.geo.op == "transposed":
            return range(self.in_channels)
        per_in, per_out = self.in_channels // self.groups, self.out_channels // self.groups
        first = out_channel // per_out * per_in
        return range(first, first + per_in)

    @property
    def out_channels(self) -> int:
        return self.output.shape[0]

    @property
    def num_steps(self) -> int:
        """One step per output cell of every output channel."""
        return int(self.output.size)


@dataclass(frozen=True)
class Tap:
    """One kernel tap of a step: input ``(channel, row, col)`` (grid coordinates, see :class:`Step`),
    kernel tap ``(k_row, k_col)``, the value read there (0 in padding), the weight and their product."""

    channel: int
    row: int
    col: int
    k_row: int
    k_col: int
    value: float
    weight: float | None
    inside: bool  # False where the tap reads padding (or, for max pooling, is ignored as padding)

    @property
    def product(self) -> float:
        return self.value * self.weight if self.weight is not None else self.value


@dataclass(frozen=True)
class Step:
    """How output cell ``(out_channel, row, col)`` gets its value.

    Tap rows and columns are input coordinates (negative or past the end in padding) for convolution and
    pooling, and coordinates in the zero-inserted, padded grid for the direct view of a transposed
    convolution.
    """

    index: int
    out_channel: int
    row: int
    col: int
    taps: tuple[Tap, ...]
    bias: float | None
    value: float
    divisor: int | None = None  # average pooling only


def torch_output(
    geo: Geometry, x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, groups: int = 1
) -> np.ndarray:
    """What PyTorch computes for the setting (a convolution split into ``groups``), in float64: the reference
    every step is checked against."""
    t = torch.tensor(np.asarray(x), dtype=torch.float64).unsqueeze(0)  # copies: edited arrays may be read-only
    rows, cols = geo.rows, geo.cols
    stride, dilation = (rows.stride, cols.stride), (rows.dilation, cols.dilation)
    w = None if weight is None else torch.tensor(np.asarray(weight), dtype=torch.float64)
    b = None if bias is None else torch.tensor(np.asarray(bias), dtype=torch.float64)
    kernel = (rows.kernel, cols.kernel)
    padding = (rows.pad_before, cols.pad_before)
    if geo.op in ("conv", "transposed"):
        if w is None:
            raise ValueError(f"a {geo.op} needs weights")
        if geo.op == "transposed":
            output_padding = (rows.output_padding, cols.output_padding)
            out = F.conv_transpose2d(t, w, b, stride, padding, output_padding, dilation=dilation)
        elif geo.padding_preset == "same":
            out = F.conv2d(t, w, b, stride=stride, padding="same", dilation=dilation, groups=groups)
        else:
            out = F.conv2d(t, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    elif geo.op == "maxpool":
        out = F.max_pool2d(t, kernel, stride, padding, dilation, ceil_mode=rows.ceil_mode)
    else:
        out = F.avg_pool2d(t, kernel, stride, padding, ceil_mode=rows.ceil_mode)
    return out[0].numpy()


def random_values(
    geo: Geometry, in_channels: int = 1, out_channels: int = 1, seed: int = 0, bias: bool = True, groups: int = 1
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Small random integers, seeded: input 0..3 (0..9 for pooling), kernel −1..2 (``in_channels / groups``
    slices per output channel), bias −2..2."""
    rng = np.random.default_rng(seed)
    h, w = geo.input_size
    if geo.pooling:
        return rng.integers(0, 10, (in_channels, h, w)).astype(np.float64), None, None
    x = rng.integers(0, 4, (in_channels, h, w)).astype(np.float64)
    shape = (out_channels, max(1, in_channels // groups)) if geo.op == "conv" else (in_channels, out_channels)
    kernel = rng.integers(-1, 3, (*shape, geo.rows.kernel, geo.cols.kernel)).astype(np.float64)
    b = rng.integers(-2, 3, out_channels).astype(np.float64) if bias else None
    return x, kernel, b


def check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    """Raise PyTorch's own complaint (``nn.Conv2d``'s words) where ``groups`` does not split both sides evenly."""
    if groups < 1:
        raise ValueError("groups must be a positive integer")
    if in_channels % groups:
        raise ValueError(f"in_channels must be divisible by groups ({in_channels} input channels, {groups} groups)")
    if out_channels % groups:
        raise ValueError(f"out_channels must be divisible by groups ({out_channels} output channels, {groups} groups)")


def make_scene(
    geo: Geometry,
    x: np.ndarray,
    weight: np.ndarray | None = None,
    bias: np.ndarray | None = None,
    groups: int = 1,
    flip: bool = False,
) -> Scene:
    """Check the arrays against the geometry and compute PyTorch's output for them: ``F.conv2d(groups=...)``,
    with the kernel rotated by 180° when ``flip`` asks for a true convolution (convolution only)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3 or x.shape[1:] != geo.input_size or not 1 <= x.shape[0] <= MAX_IN_CHANNELS:
        raise ValueError(f"input must be (1..{MAX_IN_CHANNELS}, {geo.input_size[0]}, {geo.input_size[1]})")
    if (groups != 1 or flip) and geo.op != "conv":
        raise ValueError("groups and the flipped kernel are shown for convolution only")
    if geo.pooling:
        weight = bias = None
    else:
        if weight is None:
            raise ValueError("convolutions need a weight")
        weight = np.asarray(weight, dtype=np.float64)
        in_axis = 1 if geo.op == "conv" else 0
        kernel = (geo.rows.kernel, geo.cols.kernel)
        out_channels = weight.shape[1 - in_axis] if weight.ndim == 4 else 0
        if not 1 <= out_channels <= MAX_OUT_CHANNELS:
            raise ValueError(f"1..{MAX_OUT_CHANNELS} output channels are supported")
        check_groups(x.shape[0], out_channels, groups)
        if weight.shape[in_axis] != x.shape[0] // groups or weight.shape[2:] != kernel:
            raise ValueError(
                f"weight shape {weight.shape} does not fit {x.shape[0]} input channels in {groups} groups and {kernel}"
            )
        if bias is not None:
            bias = np.asarray(bias, dtype=np.float64).reshape(out_channels)
    applied = weight[:, :, ::-1, ::-1].copy() if flip and weight is not None else weight
    return Scene(geo, x, weight, bias, torch_output(geo, x, applied, bias, groups), groups, flip)


def _position(scene: Scene, index: int) -> tuple[int, int, int]:
    if not 0 <= index < scene.num_steps:
        raise IndexError(f"step {index} is outside 0..{scene.num_steps - 1}")
    oh, ow = scene.geo.output_size
    channel, rest = divmod(index, oh * ow)
    return channel, *divmod(rest, ow)


def _inside(axis: Axis, index: int) -> bool:
    return 0 <= index < axis.size


def step(scene: Scene, index: int) -> Step:
    """Step ``index``: output cells in channel-major, then row-major order."""
    geo = scene.geo
    oc, r, c = _position(scene, index)
    rows, cols = axis_sources(geo.op, geo.rows, r), axis_sources(geo.op, geo.cols, c)
    channels = scene.group_channels(oc)
    taps = []
    for ic in channels:
        for y, ty in rows:
            for x, tx in cols:
                inside = _inside(geo.rows, y) and _inside(geo.cols, x)
                value = float(scene.x[ic, y, x]) if inside else 0.0
                if geo.op == "conv":
                    weight = float(scene.applied[oc, ic - channels.start, ty, tx])
                elif geo.op == "transposed":
                    weight = float(scene.kernel[ic, oc, ty, tx])
                else:
                    weight = None
                taps.append(Tap(ic, y, x, ty, tx, value, weight, inside))
    bias = None if scene.bias is None else float(scene.bias[oc])
    divisor = None
    if geo.op == "maxpool":
        # Padding counts as −∞ in PyTorch's max pooling: it never wins, and a window of padding only gives −∞.
        value = max((t.value for t in taps if t.inside), default=float("-inf"))
    elif geo.op == "avgpool":
        divisor = _avg_divisor(geo.rows, r) * _avg_divisor(geo.cols, c)
        value = sum(t.value for t in taps) / divisor
    else:
        value = sum(t.product for t in taps) + (bias or 0.0)
    return Step(index, oc, r, c, tuple(taps), bias, value, divisor)


def padded_input(scene: Scene, channel: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Input channel with its padding (zeros) around it, and the grid coordinate of its top-left cell."""
    r, c = scene.geo.rows, scene.geo.cols
    grid = np.zeros((r.padded, c.padded))
    grid[r.pad_before : r.pad_before + r.size, c.pad_before : c.pad_before + c.size] = scene.x[channel]
    return grid, (-r.pad_before, -c.pad_before)


def _avg_divisor(axis: Axis, out: int) -> int:
    """Cells of the window inside the padded input: PyTorch's divisor with ``count_include_pad=True``."""
    start = out * axis.stride - axis.pad_before
    end = min(start + axis.kernel, axis.size + axis.pad_before)
    return end - start


# --- transposed convolution, two views -----------------------------------------------------------------


@dataclass(frozen=True)
class DirectGrid:
    """The zero-inserted, padded input over which a stride-1 convolution gives the transposed output.

    ``values`` has shape (in channels, rows, cols); ``source[r, c]`` is the input (row, col) a cell holds,
    or (-1, -1) for an inserted or padding zero.
    """

    values: np.ndarray
    source_rows: np.ndarray
    source_cols: np.ndarray
    pad: tuple[int, int]  # d·(k−1) − p per axis (negative: that many cells are cropped)


def _direct_axis(axis: Axis) -> tuple[np.ndarray, int]:
    """For each cell of the direct-view grid along one axis, the input index it holds or −1."""
    q = axis.dilation * (axis.kernel - 1) - axis.pad_before
    length = (axis.size - 1) * axis.stride + 1 + 2 * q + axis.output_padding
    z = np.arange(length) - q
    holds = (z >= 0) & (z % axis.stride == 0) & (z // axis.stride < axis.size)
    return np.where(holds, z // axis.stride, -1), q


def direct_grid(scene: Scene) -> DirectGrid:
    """The grid of the paper's equivalent direct convolution for a transposed convolution."""
    rows, q_r = _direct_axis(scene.geo.rows)
    cols, q_c = _direct_axis(scene.geo.cols)
    values = np.zeros((scene.in_channels, len(rows), len(cols)))
    mask = (rows[:, None] >= 0) & (cols[None, :] >= 0)
    rr, cc = np.nonzero(mask)
    values[:, rr, cc] = scene.x[:, rows[rr], cols[cc]]
    return DirectGrid(values, rows, cols, (q_r, q_c))


def direct_step(scene: Scene, index: int) -> Step:
    """Step ``index`` of a transposed convolution seen as a direct convolution: a stride-1, dilated
    convolution of the zero-inserted, padded grid with the kernel rotated by 180 degrees."""
    if scene.geo.op != "transposed":
        raise ValueError("the direct view exists for transposed convolution only")
    grid = direct_grid(scene)
    oc, r, c = _position(scene, index)
    kh, kw = scene.geo.rows.kernel, scene.geo.cols.kernel
    dy, dx = scene.geo.rows.dilation, scene.geo.cols.dilation
    taps = []
    for ic in range(scene.in_channels):
        for ty in range(kh):
            for tx in range(kw):
                y, x = r + ty * dy, c + tx * dx
                weight = float(scene.kernel[ic, oc, kh - 1 - ty, kw - 1 - tx])  # the rotated kernel
                taps.append(Tap(ic, y, x, ty, tx, float(grid.values[ic, y, x]), weight, True))
    bias = None if scene.bias is None else float(scene.bias[oc])
    value = sum(t.product for t in taps) + (bias or 0.0)
    return Step(index, oc, r, c, tuple(taps), bias, value)


@dataclass(frozen=True)
class Scatter:
    """Scatter view step: input cell ``(channel, row, col)`` adds value × kernel into the output."""

    index: int
    out_channel: int
    channel: int
    row: int
    col: int
    value: float
    targets: tuple[tuple[int, int, int, int, float], ...]  # (out row, out col, k_row, k_col, added amount)


def scatter_steps(scene: Scene) -> int:
    """Number of scatter-view steps: every input cell of every input channel, for each output channel."""
    return scene.out_channels * scene.x.size


def scatter_step(scene: Scene, index: int) -> Scatter:
    """Scatter-view step ``index``: output channel-major, then input channel, row, column."""
    geo = scene.geo
    if geo.op != "transposed":
        raise ValueError("the scatter view exists for transposed convolution only")
    if not 0 <= index < scatter_steps(scene):
        raise IndexError(f"step {index} is outside 0..{scatter_steps(scene) - 1}")
    oc, rest = divmod(index, scene.x.size)
    ic, rest = divmod(rest, geo.rows.size * geo.cols.size)
    r, c = divmod(rest, geo.cols.size)
    value = float(scene.x[ic, r, c])
    targets = []
    for ty in range(geo.rows.kernel):
        y = r * geo.rows.stride - geo.rows.pad_before + ty * geo.rows.dilation
        if not 0 <= y < geo.rows.output:
            continue
        for tx in range(geo.cols.kernel):
            x = c * geo.cols.stride - geo.cols.pad_before + tx * geo.cols.dilation
            if 0 <= x < geo.cols.output:
                targets.append((y, x, ty, tx, value * float(scene.kernel[ic, oc, ty, tx])))
    return Scatter(index, oc, ic, r, c, value, tuple(targets))


def scatter_partial(scene: Scene, index: int) -> np.ndarray:
    """The output channel of step ``index`` after steps up to and including it: bias plus every
    contribution scattered so far. After the last step of a channel it equals PyTorch's output."""
    position = scatter_step(scene, index)
    done = np.arange(scene.x.size).reshape(scene.x.shape) <= index - position.out_channel * scene.x.size
    oc = position.out_channel
    bias = None if scene.bias is None else scene.bias[oc : oc + 1]
    weight = scene.kernel[:, oc : oc + 1]
    return torch_output(scene.geo, scene.x * done, weight, bias)[0]
