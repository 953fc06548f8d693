"""explain_unit against PyTorch itself: the hand-made total of random units of every conv of several
architectures equals the activation the layer computes, and the model is left as found."""

from __future__ import annotations

import random

import pytest
import torch
import torchvision
from torch import nn

from cnnviz.models.embedded import load_embedded
from cnnviz.models.lite0 import load_lite0
from cnnviz.network.units import explain_unit


def _state(model: nn.Module) -> tuple[object, ...]:
    hooks = sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
    modes = tuple(m.training for m in model.modules())
    return hooks, modes, tuple((p.requires_grad, p.grad is None) for p in model.parameters())


def _check_every_conv(model: nn.Module, x: torch.Tensor, seed: int, per_conv: int = 1) -> int:
    """Each conv's random units: total == PyTorch's activation; returns how many convs were checked."""
    rng = random.Random(seed)
    outputs: dict[str, torch.Tensor] = {}
    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    handles = [
        m.register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out.detach().clone()))
        for name, m in convs.items()
    ]
    with torch.no_grad():
        model(x)
    for handle in handles:
        handle.remove()
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
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    x = torch.randn(1, 1, 5, 5)
    with pytest.raises(KeyError, match="no layer"):
        explain_unit(model, x, "9", (0, 0, 0))
    with pytest.raises(TypeError, match="not a Conv2d"):
        explain_unit(model, x, "1", (0, 0, 0))
    with pytest.raises(ValueError, match="outside"):
        explain_unit(model, x, "0", (2, 0, 0))
