"""Streamlit AppTest for "Explain a prediction"."""

from __future__ import annotations

import json

import pytest

from cnnviz.explain.methods import METHODS
from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, open_tab, shown, start  # noqa: F401 (fixtures)
from tests.conftest import cache_random_weights

PAGE = "pages/explain.py"
WHERE = "over the image (grey: cropped away before the model saw it)"


def captions(block) -> list[str]:
    return [shown(i.proto.imgs[0].caption) for i in block.image]


def test_prediction_explanation_downloads_compare_and_faithfulness():
    at = start(PAGE)
    predicted = at.selectbox(key="target").value
    assert any(m.value.startswith(f"**Prediction: {predicted}**") for m in at.markdown)
    topk = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len(topk["data"][0]["y"]) == 5
    explanation, compare, faith = at.tabs
    assert captions(explanation) == [f"Grad-CAM for '{predicted}' {WHERE}"]
    assert {b.proto.label for b in at.get("download_button")} == {"Download overlay (PNG)", "Download raw map (.npy)"}
    assert not compare.image and not faith.markdown  # closed: nothing computed for them (issue 23)
    assert captions(open_tab(at, "xtab", "Compare").tabs[1]) == ["Grad-CAM", "Grad-CAM++", "Saliency"]
    assert not at.tabs[0].image and not at.tabs[2].markdown
    assert any(m.value.startswith("Deletion AUC") for m in open_tab(at, "xtab", "Faithfulness").tabs[2].markdown)
    assert not at.tabs[1].image
    open_tab(at, "xtab", "Explanation")
    at.slider(key="k").set_value(8).run()
    assert len(json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]["y"]) == 8
    assert_no_exception(at)


@pytest.mark.parametrize("method", METHODS)
def test_every_method(method):
    at = start(PAGE)
    at.selectbox(key="method").set_value(method).run()
    assert_no_exception(at)
    assert captions(at.tabs[0])[0].startswith(f"{method} for ")


def test_another_class_and_compare_classes():
    at = start(PAGE)
    at.selectbox(key="target").set_value("ring").run()
    assert captions(at.tabs[0]) == [f"Grad-CAM for 'ring' {WHERE}"]
    open_tab(at, "xtab", "Compare").radio(key="compare_mode").set_value("classes for this method").run()
    assert len(captions(at.tabs[1])) == 3
    open_tab(open_tab(at, "xtab", "Faithfulness"), "xtab", "Compare")  # its choices kept while another tab was open
    assert at.radio(key="compare_mode").value == "classes for this method" and len(captions(at.tabs[1])) == 3
    assert_no_exception(at)


@pytest.mark.slow
def test_torchvision_model(torch_home, offline):
    cache_random_weights("resnet18")
    at = start()
    at.sidebar.selectbox(key="model_key").set_value("resnet18").run()
    at.sidebar.selectbox(key="sample_name").set_value("photo: cat").run()
    at.switch_page(PAGE).run()
    assert_no_exception(at)
    assert at.selectbox(key="layer").value == "layer4"
    assert captions(at.tabs[0])[0].startswith("Grad-CAM for ")
    assert offline == []


def test_without_an_image_it_asks_for_one():
    at = start()
    at.sidebar.radio(key="image_source").set_value("Upload").run()
    at.switch_page(PAGE).run()
    assert_no_exception(at)
    assert any("Choose or upload an image" in i.value for i in at.info)


def test_a_new_image_explains_its_own_prediction():
    at = start(PAGE)
    at.selectbox(key="target").set_value("ring").run()
    at.sidebar.selectbox(key="sample_name").set_value("synthetic: star").run()
    assert at.selectbox(key="target").value == "star"
    assert captions(at.tabs[0]) == [f"Grad-CAM for 'star' {WHERE}"]


def test_a_photo_on_the_synthetic_model_is_flagged_and_a_synthetic_sample_is_not():
    at = start(PAGE)
    at.sidebar.selectbox(key="sample_name").set_value("photo: astronaut").run()
    (warning,) = [shown(w.value) for w in at.warning]  # EfficientNet-Lite0 took over: 17 % sure
    assert "The model is unsure" in warning and "TinyVGG" not in warning
    at.sidebar.selectbox(key="model_key").set_value("tinyvgg").run()
    (warning,) = [shown(w.value) for w in at.warning]
    assert "TinyVGG has only seen synthetic drawings" in warning and "says how the picture's patterns" in warning
    at.sidebar.selectbox(key="sample_name").set_value("synthetic: star").run()
    assert not at.warning
    at.sidebar.selectbox(key="model_key").set_value("efficientnet_lite0").run()
    (warning,) = [shown(w.value) for w in at.warning]
    assert "learnt 1000 classes of real photos" in warning and "TinyVGG was trained on these drawings" in warning
    assert_no_exception(at)


def test_faithfulness_curves_are_told_apart_by_colour_and_dash():
    at = open_tab(start(PAGE), "xtab", "Faithfulness")
    (figure,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.key == "faithfulness"]
    deletion, insertion = figure["data"]
    assert deletion["name"].startswith("deletion") and insertion["name"].startswith("insertion")
    assert deletion["line"]["color"] != insertion["line"]["color"]
    assert insertion["line"].get("dash") == "dash" and deletion["line"].get("dash") is None
