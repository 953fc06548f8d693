"""Grouped convolution: which input channels feed which output channels, and what a depthwise-separable pair
(a k×k depthwise convolution, then a 1×1 pointwise one, as in MobileNet and EfficientNet) saves against the
plain convolution it replaces."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go

from cnnviz.arithmetic.steps import check_groups
from cnnviz.charts import readable

GROUP_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")
"""One colour per group (Plotly's qualitative palette, which stays apart for common colour-vision deficiencies
when paired with the group's number in the hover text)."""


def connections(in_channels: int, out_channels: int, groups: int = 1) -> list[tuple[int, int, int]]:
    """``(input channel, output channel, group)`` for every input channel an output channel reads, as
    ``nn.Conv2d(in_channels, out_channels, k, groups=groups)`` wires them.

    Raises:
        ValueError: ``groups`` does not divide both channel counts (PyTorch's own words).
    """
    check_groups(in_channels, out_channels, groups)
    per_in, per_out = in_channels // groups, out_channels // groups
    return [
        (group * per_in + i, group * per_out + o, group)
        for group in range(groups)
        for o in range(per_out)
        for i in range(per_in)
    ]


def grouping_figure(in_channels: int, out_channels: int, groups: int = 1) -> go.Figure:
    """The channel wiring as a diagram: input channels on the left, output channels on the right, a line
    for each input channel an output channel reads, coloured by group."""
    wires = connections(in_channels, out_channels, groups)
    tall = max(in_channels, out_channels)

    def place(i: int, n: int) -> float:
        return (tall - 1) / 2 - (i - (n - 1) / 2)  # centred columns, channel 1 on top

    figure = go.Figure()
    for i, o, g in wires:
        figure.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[place(i, in_channels), place(o, out_channels)],
                mode="lines",
                line={"color": GROUP_COLOURS[g % len(GROUP_COLOURS)], "width": 3},
                hoverinfo="text",
                text=f"in ch {i + 1} → out ch {o + 1} (group {g + 1})",
                showlegend=False,
            )
        )
    for side, n, name in ((0, in_channels, "in"), (1, out_channels, "out")):
        per = n // groups
        figure.add_trace(
            go.Scatter(
                x=[side] * n,
                y=[place(c, n) for c in range(n)],
                mode="markers+text",
                marker={
                    "size": 34,
                    "color": [GROUP_COLOURS[(c // per) % len(GROUP_COLOURS)] for c in range(n)],
                    "line": {"color": "white", "width": 1},
                },
                text=[f"{name} {c + 1}" for c in range(n)],
                textposition="middle left" if side == 0 else "middle right",
                hoverinfo="skip",
                showlegend=False,
            )
        )
    kind = "depthwise" if groups == in_channels == out_channels and groups > 1 else f"groups={groups}"
    figure.update_layout(
        title=f"Which input channels feed which output channels ({kind})",
        height=110 + 58 * tall,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        plot_bgcolor="rgba(0, 0, 0, 0)",
        paper_bgcolor="rgba(0, 0, 0, 0)",
    )
    figure.update_xaxes(visible=False, range=[-0.6, 1.6], fixedrange=True)
    figure.update_yaxes(visible=False, range=[-0.7, tall - 0.3], fixedrange=True)
    return readable(figure)


@dataclass(frozen=True)
class Cost:
    """Weights and multiply-accumulates of one layer (bias included in the weights, as ``numel`` counts)."""

    params: int
    macs: int


@dataclass(frozen=True)
class Separable:
    """A plain k×k convolution against the depthwise-separable pair that replaces it."""

    plain: Cost
    depthwise: Cost
    pointwise: Cost

    @property
    def pair(self) -> Cost:
        return Cost(self.depthwise.params + self.pointwise.params, self.depthwise.macs + self.pointwise.macs)

    @property
    def param_ratio(self) -> float:
        """The pair's weights as a fraction of the plain convolution's."""
        return self.pair.params / self.plain.params

    @property
    def mac_ratio(self) -> float:
        """The pair's multiply-accumulates as a fraction of the plain convolution's: ``1/C_out + 1/k²``
        without biases (Howard et al., MobileNets, 2017)."""
        return self.pair.macs / self.plain.macs


def conv_cost(
    in_channels: int, out_channels: int, kernel: tuple[int, int], output: tuple[int, int], groups: int, bias: bool
) -> Cost:
    """Weights and MACs of ``nn.Conv2d(in_channels, out_channels, kernel, groups=groups, bias=bias)`` producing
    an ``output``-sized map: each output value takes ``in_channels / groups · kh · kw`` products."""
    check_groups(in_channels, out_channels, groups)
    per_value = in_channels // groups * kernel[0] * kernel[1]
    return Cost(
        out_channels * per_value + (out_channels if bias else 0), out_channels * output[0] * output[1] * per_value
    )


def separable(
    in_channels: int, out_channels: int, kernel: tuple[int, int], output: tuple[int, int], bias: bool = True
) -> Separable:
    """The plain convolution (groups 1) against its depthwise (groups = input channels, same kernel, stride and
    padding) and pointwise (1×1, on the depthwise output) pair, both giving ``output``-sized maps."""
    return Separable(
        conv_cost(in_channels, out_channels, kernel, output, 1, bias),
        conv_cost(in_channels, in_channels, kernel, output, in_channels, bias),
        conv_cost(in_channels, out_channels, (1, 1), output, 1, bias),
    )
