"""Beyond classification: how a segmentation network's encoder shrinks the feature maps and its decoder's
transposed convolutions grow them back to the image's size, and the grid a detector predicts boxes on."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from cnnviz.arithmetic import geometry as ar

DOWN = {"kernel": 3, "stride": 2, "padding": 1}
"""The encoder's downsampling convolution."""
UP = {"kernel": 4, "stride": 2, "padding": 1}
"""The decoder's transposed convolution: exactly doubles the size (DCGAN's and many U-Nets' choice)."""


@dataclass(frozen=True)
class Resize:
    """One stage of an encoder–decoder: its operation and the feature map's side before and after."""

    name: str
    op: str
    size_in: int
    size_out: int


def encoder_decoder_sizes(size: int, depth: int) -> list[Resize]:
    """The side of the feature map through ``depth`` stride-2 convolutions and ``depth`` stride-2 transposed
    convolutions (:data:`DOWN`, :data:`UP`), from PyTorch's output-size formulas."""
    if size < 1 or depth < 1:
        raise ValueError("size and depth must be at least 1.")
    stages, current = [], size
    for i in range(depth):
        out = ar.geometry("conv", current, DOWN["kernel"], DOWN["stride"], DOWN["padding"]).output_size[0]
        stages.append(Resize(f"down {i + 1}", "conv", current, out))
        current = out
    for i in range(depth):
        out = ar.geometry("transposed", current, UP["kernel"], UP["stride"], UP["padding"]).output_size[0]
        stages.append(Resize(f"up {i + 1}", "transposed", current, out))
        current = out
    return stages


def encoder_decoder(depth: int, channels: int = 4) -> nn.Sequential:
    """The network :func:`encoder_decoder_sizes` describes (ReLUs between stages, one class map out)."""
    layers: list[nn.Module] = []
    width = 3
    for i in range(depth):
        layers += [nn.Conv2d(width, channels * 2**i, DOWN["kernel"], DOWN["stride"], DOWN["padding"]), nn.ReLU()]
        width = channels * 2**i
    for i in reversed(range(depth)):
        out = 1 if i == 0 else channels * 2 ** (i - 1)
        layers += [nn.ConvTranspose2d(width, out, UP["kernel"], UP["stride"], UP["padding"])]
        layers += [nn.ReLU()] if i else []
        width = out
    return nn.Sequential(*layers)
