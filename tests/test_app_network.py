"""Streamlit AppTest for "Inside the network": all five views, on the embedded model and on a torchvision
model whose weights the test makes."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest
import torch
import torch.nn.functional as F
import torchvision

from cnnviz.data.images import fit_within
from cnnviz.data.samples import load_sample
from cnnviz.models import registry
from cnnviz.network.units import UnitComputation, explain_unit
from cnnviz.ui.selection import default_sample
from cnnviz.ui.uploads import MAX_SIDE
from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, open_link, open_tab, start  # noqa: F401 (fixtures)
from tests.conftest import cache_random_weights

PAGE = "pages/network.py"


def texts(block) -> str:
    return " ".join(m.value for m in block.markdown) + " " + " ".join(c.value for c in block.caption)


@pytest.fixture
def resnet_weights(torch_home, offline):
    return cache_random_weights("resnet18")


@pytest.mark.slow
def test_embedded_model_all_views():
    at = start(PAGE)
    architecture, filters, maps, overview, channel = at.tabs
    assert len(architecture.dataframe[0].value) == 17  # TinyVGG's leaf layers
    assert "82,042 parameters" in texts(architecture) and "34.2 M multiply-accumulates" in texts(architecture)
    assert not any(tab.image or tab.get("plotly_chart") for tab in at.tabs[1:])  # closed tabs compute nothing
    filters = open_tab(at, "tab", "Filters").tabs[1]
    assert filters.image and "16 filters of features.conv_1_1" in filters.image[0].proto.imgs[0].caption
    assert len(filters.get("plotly_chart")) == 1
    maps = open_tab(at, "tab", "Feature maps").tabs[2]
    assert maps.image and maps.image[0].proto.imgs[0].caption.startswith("features.conv_1_1: 16 channels of 64×64")
    overview = open_tab(at, "tab", "Overview").tabs[3]
    assert len(overview.image) == 1 and len(overview.get("plotly_chart")) == 1  # the receptive field; the classes
    assert [e.proto.component_name for e in at.get("bidi_component")] == [
        "cnnviz_maps",
        "cnnviz_maps",
        "cnnviz_step_player",
    ]
    channel = open_tab(at, "tab", "What a channel likes").tabs[4]
    assert len(channel.image) == 8  # the synthetic images that excite the channel most
    scores = [float(i.proto.imgs[0].caption.rsplit("· ", 1)[1]) for i in channel.image]
    note = next(c.value for c in channel.caption if c.value.startswith("Each image's score"))
    assert ("All are negative here" in note) == (max(scores) < 0)  # negative scores are explained
    assert_no_exception(at)


@pytest.mark.slow
def test_controls_of_each_view():
    at = open_tab(start(PAGE), "tab", "Filters")
    at.selectbox(key="filter_layer").set_value("features.conv_2_1").run()
    at.radio(key="filter_mode").set_value("one input channel, every filter").run()
    figure = json.loads(at.tabs[1].get("plotly_chart")[0].proto.spec)
    assert figure["layout"]["title"]["text"] == "features.conv_2_1: input channel 0 of every filter"
    open_tab(at, "tab", "Feature maps").selectbox(key="map_layer").set_value("features.max_pool_2").run()
    at.radio(key="map_scale").set_value("global").run()
    at.radio(key="map_sort").set_value("max").run()
    caption = at.tabs[2].image[0].proto.imgs[0].caption
    assert caption == "features.max_pool_2: 32 channels of 16×16, colour range per global"
    at.selectbox(key="map_channel").set_value(at.selectbox(key="map_channel").options[1]).run()
    assert_no_exception(at)
    open_tab(at, "tab", "What a channel likes").select_slider(key="max_steps").set_value(16).run()
    at.button(key="maximise").click().run()
    assert_no_exception(at)
    assert any("responds to strongly" in i.proto.imgs[0].caption for i in at.tabs[4].image)


@pytest.mark.slow
def test_torchvision_model_all_views(resnet_weights, offline):
    at = start()
    at.sidebar.selectbox(key="model_key").set_value("resnet18").run()
    at.switch_page(PAGE).run()
    assert_no_exception(at)
    architecture = at.tabs[0]
    assert len(architecture.dataframe[0].value) == 52  # 20 conv, 20 batch norm, 9 ReLU, 2 pools, fc
    assert "11,689,512 parameters" in texts(architecture)
    assert "64 filters of conv1" in open_tab(at, "tab", "Filters").tabs[1].image[0].proto.imgs[0].caption
    maps = open_tab(at, "tab", "Feature maps").tabs[2]
    assert maps.image[0].proto.imgs[0].caption.startswith("conv1: 64 channels of 112×112")
    overview = open_tab(at, "tab", "Overview")
    assert_no_exception(overview)
    assert at.selectbox(key="ov_from").value == "conv1"  # a deep model: a range of its stages
    assert "**Total " in texts(at.tabs[3])
    open_tab(at, "tab", "What a channel likes").select_slider(key="max_steps").set_value(16).run()
    at.button(key="maximise").click().run()
    assert_no_exception(at)
    assert any("layer4.1.conv2 channel 0" in i.proto.imgs[0].caption for i in at.tabs[4].image)
    assert offline == []


def tinyvgg_input():
    model = registry.load_model("tinyvgg")  # the registry's cache: the object the page used
    return model, model.preprocess(fit_within(load_sample(default_sample()), MAX_SIDE))


def total_text(at) -> str:
    return next(m.value for m in at.tabs[3].markdown if m.value.startswith("**Total"))


@pytest.mark.slow
def test_overview_links_show_the_unit_and_class_they_name_link_after_link():
    model, x = tinyvgg_input()
    at = None
    cases = [
        ("features.conv_1_2", 5, 20, 10),
        ("features.conv_2_1", 31, 0, 0),
        ("features.relu_1_1", 3, 7, 9),
        ("features.max_pool_2", 2, 15, 15),
        ("features.conv_3_2", 0, 4, 12),
    ]
    for layer, channel, row, col in cases:  # one session, link after link: each shows its own unit
        query = {"tab": "Overview", "ov_layer": layer, "ov_map": str(channel), "ov_row": str(row), "ov_col": str(col)}
        if at is None:
            at = start(PAGE, query)
        else:
            for key, value in query.items():
                at.query_params[key] = value
            at.run()
        assert_no_exception(at)
        explained = explain_unit(model.module, x, layer, (channel, row, col))
        heading = next(m.value for m in at.tabs[3].markdown if m.value.startswith("**How unit"))
        assert heading == f"**How unit ({row}, {col}) was computed**"
        if isinstance(explained, UnitComputation):
            assert total_text(at).startswith(f"**Total {explained.total:.6g}**")
            data = player_payloads(at)[-1]
            assert len(data["steps"]) == len(explained.terms) + 1
        else:
            assert any(f"{explained.total:.4g}" in t.value for t in at.tabs[3].text)
    # a class's logit from the link
    with torch.no_grad():
        logits = model.module(x)[0]
    at.query_params["ov_class"] = "4"
    at.run()
    texts_shown = " ".join(t.value for t in at.tabs[3].text)
    assert f"= {float(logits[4]):.4g}. PyTorch computed" in texts_shown
    assert f"{float(torch.softmax(logits.double(), 0)[4]):.4f}." in texts_shown
    links = [e for e in at.tabs[3].get("page_link")]
    assert links  # "Open this layer in the arithmetic page"


def player_payloads(at) -> list[dict]:
    return [
        json.loads(e.proto.json) for e in at.get("bidi_component") if e.proto.component_name == "cnnviz_step_player"
    ]


def test_a_conv_rows_link_opens_its_case_in_the_arithmetic_page(resnet_weights, offline):
    """The layer table's row → "Open this layer in the arithmetic page" → that page shows the layer's kernel,
    stride, padding and groups (resnet18's strided 7×7 stem and a 3×3 of layer2; mobilenet's depthwise comes from
    the library test)."""
    at = start()
    at.sidebar.selectbox(key="model_key").set_value("resnet18").run()
    at.switch_page(PAGE).run()
    table = at.tabs[0].dataframe[0].value
    for name in ("conv1", "layer2.0.conv1"):
        row = list(table["layer"]).index(name)
        at.session_state["layer_rows"] = {"selection": {"rows": [row], "columns": []}}
        at.run()
        (link,) = at.tabs[0].get("page_link")
        query = dict(parse_qsl(link.proto.query_string))
        conv = dict(torchvision.models.resnet18().named_modules())[name]
        assert (int(query["k"]), int(query["s"]), int(query["p"])) == (
            conv.kernel_size[0],
            conv.stride[0],
            conv.padding[0],
        )
        page = open_link("pages/arithmetic.py", query)
        assert_no_exception(page)
        size = int(query["i"])
        expected = F.conv2d(
            torch.zeros(1, 1, size, size),
            torch.zeros(1, 1, *conv.kernel_size),
            stride=conv.stride,
            padding=conv.padding,
        ).shape[-1]
        output = next(m.value for m in page.markdown if m.value.startswith("**Output size"))
        assert output == f"**Output size: {expected} × {expected}**"
    assert offline == []
