"""explain_unit against PyTorch itself: the hand-made total of random units of every conv of several
architectures equals the activation the layer computes, and the model is left as found."""

from __future__ import annotations

import math
import random

import pytest
import torch
import torchvision
from torch import nn

from cnnviz.models.embedded import load_embedded
from cnnviz.models.lite0 import load_lite0
from cnnviz.network.units import ACTIVATIONS, explain_unit, softmax_unit
from tests.reference import layer_outputs


def _state(model: nn.Module) -> tuple[object, ...]:
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    modes = tuple(m.training for m in model.modules())
    return hooks, modes, tuple((p.requires_grad, p.grad is None) for p in model.parameters())


def _check_every_conv(model: nn.Module, x: torch.Tensor, seed: int, per_conv: int = 1) -> int:
    """Each conv's random units: total == PyTorch's activation; returns how many convs were checked."""
    rng = random.Random(seed)
    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    outputs = layer_outputs(model, x, convs)
    before = _state(model)
    for name in convs:
        shape = outputs[name].shape[1:]
        for _ in range(per_conv):
            unit = (rng.randrange(shape[0]), rng.randrange(shape[1]), rng.randrange(shape[2]))
            computation = explain_unit(model, x, name, unit)
            expected = float(outputs[name][(0, *unit)])
            assert computation.activation == pytest.approx(expected, rel=1e-6, abs=1e-6)
            assert computation.total == pytest.approx(expected, rel=1e-4, abs=1e-4), (name, unit)
    assert _state(model) == before
    return len(convs)


@pytest.mark.parametrize(
    "builder",
    ["resnet18", "mobilenet_v3_large", "efficientnet_b0", "densenet121", "alexnet"],
)
def test_every_conv_of_torchvision_models(builder: str) -> None:
    torch.manual_seed(0)
    model = getattr(torchvision.models, builder)().eval()
    x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    assert _check_every_conv(model, x, seed=len(builder)) > 4


def test_every_conv_of_tinyvgg_and_the_photo_model() -> None:
    tiny, _meta = load_embedded()
    assert _check_every_conv(tiny, torch.rand(1, 3, 64, 64), seed=2, per_conv=5) >= 2
    lite0 = load_lite0()
    assert _check_every_conv(lite0, torch.rand(1, 3, 96, 96) * 2 - 1, seed=3) > 40


@pytest.mark.parametrize(
    "settings",
    [
        {"padding": 0},
        {"stride": 2, "padding": 1},
        {"stride": (1, 2), "padding": (2, 0), "dilation": (2, 1)},
        {"padding": "same", "dilation": 2},
        {"padding": "same", "kernel_size": 4},  # asymmetric: 1 before, 2 after
        {"groups": 2, "padding": 1},
        {"groups": 6, "padding": 1, "bias": False},  # depthwise
        {"padding": 1, "padding_mode": "reflect"},
        {"padding": 2, "padding_mode": "circular"},
        {"kernel_size": 1},  # pointwise
    ],
)
def test_every_unit_of_one_conv_equals_pytorch(settings: dict[str, object]) -> None:
    settings = dict(settings)
    kernel = settings.pop("kernel_size", 3)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(6, 12, kernel, **settings), nn.ReLU(inplace=True))  # type: ignore[arg-type]
    x = torch.randn(1, 6, 7, 8)
    expected = model[0](x).detach()
    for c in range(0, 12, 5):
        for r in range(expected.shape[2]):
            for col in range(expected.shape[3]):
                computation = explain_unit(model, x, "0", (c, r, col))
                assert computation.total == pytest.approx(float(expected[0, c, r, col]), rel=1e-4, abs=1e-5)
    assert all(not m._forward_hooks for m in model.modules())


def test_the_window_and_padding_marks_by_hand() -> None:
    """A 3×3 input 1..9, 3×3 kernel of ones, padding 1: unit (0, 0, 0) sees [[pad, pad, pad], [pad, 1, 2],
    [pad, 4, 5]]: 1 + 2 + 4 + 5 = 12 plus the bias 0.5."""
    conv = nn.Conv2d(1, 1, 3, padding=1)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.fill_(0.5)
    x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    computation = explain_unit(conv, x, "", (0, 0, 0))
    (term,) = computation.terms
    assert term.window.tolist() == [[0, 0, 0], [0, 1, 2], [0, 4, 5]]
    assert term.on_padding.tolist() == [[True, True, True], [True, False, False], [True, False, False]]
    assert term.sum == 12
    assert computation.total == 12.5 == computation.activation
    assert computation.origin == (-1, -1)


def test_grouped_units_use_their_groups_channels() -> None:
    conv = nn.Conv2d(4, 6, 3, groups=2)
    computation = explain_unit(conv, torch.randn(1, 4, 5, 5), "", (4, 1, 1))
    assert [t.channel for t in computation.terms] == [2, 3]


def test_bad_requests_are_clear_errors() -> None:
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout())
    x = torch.randn(1, 1, 5, 5)
    with pytest.raises(KeyError, match="no layer"):
        explain_unit(model, x, "9", (0, 0, 0))
    with pytest.raises(TypeError, match="Dropout: only convs"):
        explain_unit(model, x, "1", (0, 0, 0))
    with pytest.raises(ValueError, match="outside"):
        explain_unit(model, x, "0", (2, 0, 0))


EXPLAINED = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Linear, *ACTIVATIONS)


@pytest.mark.parametrize("builder", ["resnet18", "mobilenet_v3_large", "efficientnet_b0", "alexnet", "lite0"])
def test_every_kind_of_layer_after_a_conv(builder: str) -> None:
    """Batch norms (timm's with their fused ReLU6 too), activations (in-place ones included), pooling windows and
    linear outputs: the hand total equals the output PyTorch gave, captured independently."""
    torch.manual_seed(0)
    model = load_lite0() if builder == "lite0" else getattr(torchvision.models, builder)().eval()
    if builder != "lite0":  # random running statistics, so a batch norm is not the identity
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
    x = torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(4))
    chosen = [(n, m) for n, m in model.named_modules() if isinstance(m, EXPLAINED) and not isinstance(m, nn.Conv2d)]
    rng = random.Random(5)
    chosen = rng.sample(chosen, min(len(chosen), 25))
    outputs = layer_outputs(model, x, [name for name, _ in chosen])  # (resnet's ReLU runs twice: its last call)
    before = _state(model)
    kinds = set()
    for name, m in chosen:
        shape = outputs[name].shape[1:]
        unit = tuple(rng.randrange(n) for n in shape)
        explained = explain_unit(model, x, name, unit)
        expected = float(outputs[name][(0, *unit)])
        assert explained.activation == pytest.approx(expected, rel=1e-6, abs=1e-6), name
        assert explained.total == pytest.approx(expected, rel=1e-4, abs=1e-5), (name, unit, type(m).__name__)
        kinds.add(type(explained).__name__)
    assert _state(model) == before
    assert {"NormUnit", "ActivationUnit"} <= kinds or builder == "alexnet"


def test_pooling_windows_by_hand() -> None:
    x = torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    cases = [
        (nn.MaxPool2d(2), (0, 1, 1), 16.0),  # [[11, 12], [15, 16]]
        (nn.MaxPool2d(3, stride=2, padding=1), (0, 0, 0), 6.0),  # window rows -1..1, cols -1..1 -> 1, 2, 5, 6
        (nn.AvgPool2d(3, stride=2, padding=1), (0, 0, 0), (1 + 2 + 5 + 6) / 9),  # padding counted
        (nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (0, 0, 0), (1 + 2 + 5 + 6) / 4),
        (nn.AdaptiveAvgPool2d(3), (0, 2, 2), (11 + 12 + 15 + 16) / 4),  # rows/cols [2, 4)
        (nn.AvgPool2d(2, ceil_mode=True, stride=3), (0, 1, 1), 16.0),  # the last window clipped to one cell
    ]
    for pool, unit, value in cases:
        explained = explain_unit(pool, x, "", unit)
        assert explained.total == pytest.approx(value), pool
        assert explained.activation == pytest.approx(float(pool(x)[(0, *unit)])), pool


def test_linear_and_softmax_by_hand() -> None:
    linear = nn.Linear(3, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 1.0, 1.0]]))
        linear.bias.copy_(torch.tensor([0.25, -1.0]))
    model = nn.Sequential(nn.Flatten(), linear)
    explained = explain_unit(model, torch.tensor([[[[2.0]], [[1.0]], [[4.0]]]]), "1", (0,))
    assert explained.products.tolist() == [2.0, -2.0, 2.0]
    assert explained.total == 2.25 == explained.activation
    soft = softmax_unit(torch.tensor([[0.0, math.log(3.0)]]), 1)
    assert soft.total == pytest.approx(0.75)
    logits = torch.randn(1, 10)
    assert softmax_unit(logits, 7).total == pytest.approx(float(torch.softmax(logits, 1)[0, 7]), rel=1e-6)
