"""cnnviz.learn.why_convolutions against PyTorch's own modules and the layer table's MAC counts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.learn.why_convolutions import conv_versus_dense
from cnnviz.network.architecture import summarize


@pytest.mark.parametrize(
    ("c_in", "size", "c_out", "k", "s", "p"),
    [(3, (32, 32), 16, 3, 1, 1), (1, (28, 28), 8, 5, 1, 0), (16, (9, 7), 4, 3, 2, 1)],
)
def test_counts_equal_pytorchs_modules(c_in, size, c_out, k, s, p):
    cost = conv_versus_dense(c_in, size, c_out, k, s, p)
    conv = nn.Conv2d(c_in, c_out, k, s, p)
    out = conv(torch.zeros(1, c_in, *size))
    assert cost.output_shape == tuple(out.shape[1:])
    dense = nn.Linear(c_in * size[0] * size[1], out.numel())
    assert cost.conv.params == sum(t.numel() for t in conv.parameters())
    assert cost.dense.params == sum(t.numel() for t in dense.parameters())
    conv_table = {layer.name: layer.macs for layer in summarize(nn.Sequential(conv), size, c_in).layers}
    dense_table = {layer.name: layer.macs for layer in summarize(nn.Sequential(nn.Flatten(), dense), size, c_in).layers}
    assert cost.conv.macs == conv_table["0"] and cost.dense.macs == dense_table["1"]  # the layer table's counts
    assert cost.conv.inputs_per_output == c_in * k * k and cost.param_ratio > 1


def test_a_hand_worked_case():
    # 1×4×4 → 1×2×2 with a 3×3 kernel: 9 weights + 1 bias; dense: 16·4 weights + 4 biases
    cost = conv_versus_dense(1, (4, 4), 1, 3)
    assert (cost.conv.params, cost.conv.macs, cost.dense.params, cost.dense.macs) == (10, 36, 68, 64)
    assert cost.param_ratio == pytest.approx(6.8)


def test_impossible_settings_are_refused():
    with pytest.raises(ValueError):
        conv_versus_dense(3, (4, 4), 8, 7)  # the kernel is larger than the input
    with pytest.raises(ValueError, match="channels"):
        conv_versus_dense(0, (4, 4), 8, 3)
