"""The overview's library parts against independent readings: columns from plain forward hooks, map pictures
decoded back to the colour map's levels, receptive fields worked out by hand, a unit's animation against
explain_unit and PyTorch, the class logit against the model's output, and "Open in the arithmetic page" against
F.conv2d's output size."""

from __future__ import annotations

import base64
import io
import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn

from cnnviz.arithmetic import geometry as ar
from cnnviz.links import check_query, layer_query
from cnnviz.models.embedded import load_embedded
from cnnviz.models.lite0 import load_lite0
from cnnviz.network.architecture import summarize
from cnnviz.network.overview import field_box, field_picture, map_png, overview_stages, short_name, stage_names
from cnnviz.network.unit_player import logit_sentence, softmax_sentence, unit_payload
from cnnviz.network.units import LinearUnit, UnitComputation, classifier_layer, explain_unit, softmax_unit
from cnnviz.overlay import colormap
from tests.reference import layer_outputs, replay


def tinyvgg() -> nn.Module:
    loaded = load_embedded()
    return loaded[0] if isinstance(loaded, tuple) else loaded


def decode(url: str) -> Image.Image:
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_tinyvgg_columns_are_every_stage_with_the_strongest_channels():
    model = tinyvgg()
    table = summarize(model, (64, 64))
    names = stage_names(table)
    assert names[0] == "features.conv_1_1" and names[-1] == "features.max_pool_3" and len(names) == 15
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    stages = overview_stages(model, x, names)
    reference = layer_outputs(model, x, names)
    for stage in stages:
        maps = reference[stage.name][0].numpy()
        np.testing.assert_allclose(stage.maps, maps, rtol=1e-6)
        means = maps.reshape(maps.shape[0], -1).mean(1)
        assert len(stage.shown) == min(10, maps.shape[0])
        strongest = sorted(means.tolist(), reverse=True)[: len(stage.shown)]  # (ties: dead channels all mean 0)
        assert means[list(stage.shown)].tolist() == strongest
        assert (stage.low, stage.high) == (pytest.approx(maps.min()), pytest.approx(maps.max()))


def test_map_png_holds_the_colour_maps_levels():
    values = np.array([[0.0, 1.0], [2.0, 4.0]])
    picture = decode(map_png(values, 0.0, 4.0, "viridis")).convert("RGB")
    table = colormap("viridis")
    expected = table[[[0, 64], [128, 255]]]  # 0, 1/4, 1/2 and 1 of the range: levels 0, 63.75, 127.5, 255
    np.testing.assert_array_equal(np.asarray(picture), expected)


def test_receptive_field_boxes_are_the_hand_worked_ones():
    table = {layer.name: layer for layer in summarize(tinyvgg(), (64, 64)).layers}
    # conv 3×3 (padding 1): 3 pixels; a second one: 5; then a 2×2 pool: 6 with jump 2
    assert field_box(table["features.conv_1_1"].field, 0, 0) == (-1, -1, 1, 1)
    assert field_box(table["features.conv_1_2"].field, 10, 20) == (8, 18, 12, 22)
    assert field_box(table["features.max_pool_1"].field, 3, 4) == (4, 6, 9, 11)
    assert field_box("global", 0, 0) is None
    pixels = np.zeros((3, 8, 8))
    picture = np.asarray(field_picture(pixels + 0.5, (2, 3, 4, 5), side=80))  # scale 10
    assert tuple(picture[20, 35]) == (255, 127, 14)  # the frame's top edge
    assert picture[30, 45].tolist() == [128, 128, 128] and picture[5, 5].max() < 128  # inside kept, outside dimmed


@pytest.mark.parametrize("builder", ["resnet18", "mobilenet_v3_large", "tinyvgg"])
def test_a_units_animation_is_its_computation(builder):
    model = tinyvgg() if builder == "tinyvgg" else getattr(torchvision.models, builder)().eval()
    size = 64 if builder == "tinyvgg" else 96
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(2))
    rng = random.Random(3)
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    outputs = layer_outputs(model, x, convs)
    for name in rng.sample(convs, min(6, len(convs))):
        shape = outputs[name].shape[1:]
        unit = tuple(rng.randrange(n) for n in shape)
        c = explain_unit(model, x, name, unit)
        assert isinstance(c, UnitComputation)
        data = unit_payload(c)
        assert len(data["steps"]) == len(c.terms) + 1
        for i, term in enumerate(c.terms):
            region = data["panels"][2 * i]
            tapped = data["steps"][i]["red"][0]
            assert tapped[0] == 2 * i
            values = [float(region["text"][cell]) for cell in tapped[1]]  # the region's written numbers at the taps
            np.testing.assert_allclose(values, term.window.flatten().numpy(), atol=0.006)
            grey = set(region["grey"])
            assert [cell in grey for cell in tapped[1]] == term.on_padding.flatten().tolist()
        final = replay(data, len(data["steps"]) - 1)
        total = float(final[-1][0])
        assert total == pytest.approx(float(outputs[name][(0, *unit)]), abs=0.006)


def test_a_class_logit_and_its_softmax_are_the_models():
    model = tinyvgg()
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        logits = model(x)[0]
    layer = classifier_layer(model, logits.numel())
    assert layer == "classifier.fc"
    for k in range(logits.numel()):
        u = explain_unit(model, x, layer, (k,))
        assert isinstance(u, LinearUnit) and u.total == pytest.approx(float(logits[k]), rel=1e-4, abs=1e-4)
    sentence, rows = logit_sentence(u, "star")
    assert len(rows) == 8 and abs(rows[0][3]) >= abs(rows[-1][3]) and f"{u.total:.4g}" in sentence
    s = softmax_unit(logits, 3)
    assert s.total == pytest.approx(float(torch.softmax(logits.double(), 0)[3]))
    assert f"{s.total:.4f}" in softmax_sentence(s, tuple(str(i) for i in range(logits.numel())))
    assert classifier_layer(nn.Sequential(nn.Conv2d(3, 4, 3)), 4) is None


@pytest.mark.parametrize("builder", ["resnet18", "mobilenet_v3_large", "efficientnet_b0", "tinyvgg", "lite0"])
def test_open_in_the_arithmetic_page_is_a_valid_link_of_the_layers_case(builder):
    if builder == "tinyvgg":
        model, size = tinyvgg(), 64
    elif builder == "lite0":
        model, size = load_lite0(), 224
    else:
        model, size = getattr(torchvision.models, builder)().eval(), 224
    layers = {layer.name: layer for layer in summarize(model, (size, size)).layers}
    from cnnviz.network.units import applied_padding

    kinds = set()
    for name, conv in model.named_modules():
        if not isinstance(conv, nn.Conv2d):
            continue
        shape = layers[name].input_shape
        padding = applied_padding(conv, shape[-2:])
        query, notes = layer_query(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            padding,
            conv.dilation,
            conv.groups,
            shape[-2:],
        )
        kept, ignored = check_query("arithmetic", {k: [v] for k, v in query.items()})
        assert kept == query and not ignored, (name, ignored)
        groups, cin, cout = int(query["g"]), int(query["cin"]), int(query["cout"])
        assert (groups == cin == cout) == (conv.groups == conv.in_channels == conv.out_channels)  # depthwise stays
        kinds.add("depthwise" if conv.groups > 1 else "plain")
        size_shown = int(query["i"]), int(query.get("iw", query["i"]))
        pads = "same" if query["pm"] == "same" else (int(query["p"]), int(query.get("pw", query["p"])))
        k = int(query["k"]), int(query.get("kw", query["k"]))
        s = int(query["s"]), int(query.get("sw", query["s"]))
        d = int(query["d"]), int(query.get("dw", query["d"]))
        try:
            geo = ar.geometry("conv", size_shown, k, s, pads, d)
        except ValueError:
            continue  # a kernel larger than the small input shown: the page says PyTorch rejects it
        reference = F.conv2d(
            torch.zeros(1, cin, *size_shown),
            torch.zeros(cout, cin // groups, *k),
            stride=s,
            padding=pads,
            dilation=d,
            groups=groups,
        )
        assert geo.output_size == tuple(reference.shape[-2:]), name
        if not any("kernels" in n or "strides" in n for n in notes) and tuple(shape[-2:]) == size_shown:
            real = F.conv2d(
                F.pad(torch.zeros(1, conv.in_channels, *shape[-2:]), padding),
                conv.weight,
                stride=conv.stride,
                dilation=conv.dilation,
                groups=conv.groups,
            )
            assert geo.output_size == tuple(real.shape[-2:]), name
    assert "plain" in kinds


def test_column_titles_drop_leading_parts_of_long_names():
    assert short_name("features.conv_1_1") == "conv_1_1"
    assert short_name("blocks.1.0.conv_pw") == "1.0.conv_pw"
    assert short_name("layer1.0.conv1") == "layer1.0.conv1"
    assert short_name("a_very_long_single_layer_name") == "a_very_long_single_layer_name"


def test_a_layer_called_twice_is_explained_at_the_call_its_map_shows():
    """resnet's BasicBlock runs one ReLU after bn1 and again after the sum: the overview's map is the last call's
    output (cnnviz.network.features.activations), and the unit explained must be that call's too."""
    from cnnviz.network.features import activations

    model = torchvision.models.resnet18().eval()
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(7))
    shown = activations(model, x, ["layer1.0.relu"])["layer1.0.relu"]
    seen = []
    handle = model.layer1[0].relu.register_forward_hook(lambda _m, _i, out: seen.append(out.detach().clone()))
    with torch.no_grad():
        model(x)
    handle.remove()
    assert len(seen) == 2 and not torch.equal(seen[0], seen[1])
    torch.testing.assert_close(shown, seen[1])
    for unit in [(0, 0, 0), (5, 7, 3), (63, 15, 15)]:
        u = explain_unit(model, x, "layer1.0.relu", unit)
        assert u.activation == pytest.approx(float(seen[1][(0, *unit)]), abs=1e-6)
        assert u.total == pytest.approx(u.activation, abs=1e-6)
