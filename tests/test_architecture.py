"""cnnviz.network.architecture: the layer table against hand-worked numbers, torchvision's own figures, and
receptive fields read off gradients."""

from __future__ import annotations

import copy

import pytest
import torch
import torchvision
from torch import nn

from cnnviz.models.embedded import load_embedded
from cnnviz.network.architecture import GLOBAL, Field, field_text, summarize
from tests.reference import hook_count


@pytest.fixture(scope="module")
def tiny():
    return load_embedded()[0]


def test_tinyvgg_table_by_hand(tiny):
    table = summarize(tiny, (64, 64))
    rows = {layer.name: layer for layer in table.layers}
    conv = rows["features.conv_1_1"]
    assert conv.output_shape == (16, 64, 64) and conv.params == 3 * 16 * 9 + 16
    assert conv.macs == 64 * 64 * 16 * 3 * 9
    # Receptive field sizes by hand: +2 per 3x3 conv, pools add 1 jump and double it.
    expected = {
        "features.conv_1_1": (3, 1, 0),
        "features.conv_1_2": (5, 1, 0),
        "features.max_pool_1": (6, 2, 0.5),
        "features.conv_2_2": (14, 2, 0.5),
        "features.max_pool_2": (16, 4, 1.5),
        "features.conv_3_2": (32, 4, 1.5),
        "features.max_pool_3": (36, 8, 3.5),
    }
    for name, (size, jump, start) in expected.items():
        assert rows[name].field == (Field(size, jump, start),) * 2, name
    assert rows["classifier.fc"].field == GLOBAL and rows["classifier.fc"].macs == 3072 * 10
    assert table.total_params == sum(p.numel() for p in tiny.parameters()) == sum(r.params for r in table.layers)
    assert hook_count(tiny) == 0


@pytest.mark.parametrize("key", ["resnet18", "vgg16", "mobilenet_v3_large", "efficientnet_b0", "densenet121"])
def test_macs_match_torchvisions_published_figures(key):
    torch.manual_seed(0)
    model = torchvision.models.get_model(key)
    table = summarize(model, (224, 224))
    published = torchvision.models.get_model_weights(key).DEFAULT.meta["_ops"]  # GFLOPs as multiply-adds
    assert table.total_macs / 1e9 == pytest.approx(published, rel=0.02)
    assert table.total_params == torchvision.models.get_model_weights(key).DEFAULT.meta["num_params"]


def _linearised(model: nn.Module) -> nn.Module:
    """The same geometry with every nonlinearity made linear: ReLU -> identity, max -> average pooling, so
    a gradient reaches every pixel an output unit depends on."""
    model = copy.deepcopy(model).eval()
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, (nn.ReLU, nn.ReLU6)):
                setattr(module, child_name, nn.Identity())
            elif isinstance(child, nn.MaxPool2d):
                setattr(module, child_name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.abs() + 0.01)  # positive weights: no cancellation can hide a dependency
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_var.fill_(1.0)
                m.running_mean.zero_()
    return model


@pytest.mark.parametrize(
    "layer", ["maxpool", "layer1.1.conv2", "layer2.0.conv1", "layer2.1.bn2", "layer3.0.downsample.0"]
)
def test_receptive_fields_agree_with_gradients_on_resnet18(layer):
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    size = 192
    table = {row.name: row for row in summarize(model, (size, size)).layers}
    rows_field, cols_field = table[layer].field
    assert_field_is_the_gradients_support(_linearised(model), layer, size, (rows_field, cols_field))


def assert_field_is_the_gradients_support(probe: nn.Module, layer: str, size: int, fields) -> None:
    """The input pixels that reach ``layer``'s central unit in the linearised ``probe`` span exactly ``fields``."""
    x = torch.zeros(1, 3, size, size, requires_grad=True)
    captured = {}
    handle = dict(probe.named_modules())[layer].register_forward_hook(lambda m, i, o: captured.update(out=o))
    probe(x)
    handle.remove()
    out = captured["out"]
    unit = (out.shape[2] // 2, out.shape[3] // 2)
    (grad,) = torch.autograd.grad(out[0, :, unit[0], unit[1]].sum(), x)
    support = torch.nonzero(grad[0].abs().sum(0))
    first, last = support.min(0).values.tolist(), support.max(0).values.tolist()
    for axis, field in enumerate(fields):
        low, high = field.span(unit[axis])
        assert low >= 0 and high < size  # the unit's field lies inside the image: no clipping
        assert (first[axis], last[axis]) == (low, high), (layer, axis, field)


def test_field_text():
    assert field_text((Field(3, 1, 0), Field(3, 1, 0))) == ("3", "1", "0")
    assert field_text((Field(3, 1, 0), Field(5, 2, 0.5))) == ("3×5", "1×2", "0×0.5")
    assert field_text(GLOBAL) == ("global", "", "")
