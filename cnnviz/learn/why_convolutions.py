"""Why convolutions: a convolution layer against a dense layer producing the same output from the same input.

A convolution reuses one small kernel at every position (parameter sharing) and connects each output to a
k×k window only (sparse connectivity); a dense layer with the same input and output sizes has one weight per
input–output pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnnviz.arithmetic import geometry as ar
from cnnviz.network.architecture import Summary


@dataclass(frozen=True)
class LayerCost:
    """Parameters (weights and biases), multiply–accumulates per image, and inputs each output reads."""

    params: int
    macs: int
    inputs_per_output: int


@dataclass(frozen=True)
class ConvVersusDense:
    """The same mapping (C_in×H×W → C_out×H'×W') as a convolution and as a dense layer."""

    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    conv: LayerCost
    dense: LayerCost

    @property
    def param_ratio(self) -> float:
        """How many times more parameters the dense layer needs."""
        return self.dense.params / self.conv.params


def conv_versus_dense(
    in_channels: int, size: tuple[int, int], out_channels: int, kernel: int, stride: int = 1, padding: int = 0
) -> ConvVersusDense:
    """Costs of ``nn.Conv2d(in_channels, out_channels, kernel, stride, padding)`` on a ``size`` input and of the
    ``nn.Linear`` that maps the same flattened input to the same flattened output."""
    if in_channels < 1 or out_channels < 1:
        raise ValueError("channels must be at least 1.")
    geo = ar.geometry("conv", size, kernel, stride, padding)
    oh, ow = geo.output_size
    inputs, outputs = in_channels * size[0] * size[1], out_channels * oh * ow
    window = in_channels * kernel * kernel
    conv = LayerCost(out_channels * window + out_channels, outputs * window, window)
    dense = LayerCost(inputs * outputs + outputs, inputs * outputs, inputs)
    return ConvVersusDense((in_channels, *size), (out_channels, oh, ow), conv, dense)


def field_growth(summary: Summary) -> list[tuple[str, int]]:
    """Each convolution and pooling layer and its receptive field (rows, in input pixels), in order: how far one
    unit sees as the network gets deeper (element-wise layers such as ReLU leave it unchanged)."""
    return [
        (layer.name, int(layer.field[0].size))
        for layer in summary.layers
        if ("Conv" in layer.kind or "Pool" in layer.kind) and isinstance(layer.field, tuple)
    ]
