"""Streamlit AppTest for the app shell and the Home page."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torchvision
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnviz.models import registry
from cnnviz.models.lite0 import LITE0
from cnnviz.models.tinyvgg import TINYVGG
from cnnviz.models.weights import cache_path
from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, start  # noqa: F401 (fixtures)
from tests.conftest import ROOT, cache_random_weights, encode


def chart_categories(at: AppTest) -> list[str]:
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    figure = json.loads(charts[0].proto.spec)
    return list(figure["data"][0]["y"])[::-1]  # most likely first


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def prediction_text(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Prediction:"))


def test_home_shows_the_embedded_model_card_and_a_prediction():
    at = start()
    assert at.title[0].value == "cnnviz"
    card = metrics(at)
    assert card["Architecture"] == "TinyVGG" and card["Input size"] == "64×64"
    assert card["Top-1 accuracy"].endswith("%") and float(card["Top-1 accuracy"][:-1]) >= 95
    default = at.sidebar.selectbox(key="sample_name").value
    assert default.startswith("synthetic: ")
    assert chart_categories(at)[0] == default.removeprefix("synthetic: ")
    assert prediction_text(at).startswith(f"**Prediction: {default.removeprefix('synthetic: ')}**")


def test_home_links_every_other_page_with_what_it_offers():
    """A card per page of the navigation (Learn and Your own classes too), each link to that page."""
    at = start()
    links = {link.proto.page: link.proto.label for link in at.get("page_link")}
    assert links == {
        "arithmetic": "**Convolution arithmetic**",
        "network": "**Inside the network**",
        "explain": "**Explain a prediction**",
        "playground": "**Train a CNN**",
        "transfer": "**Your own classes**",
        "learn": "**Learn**",
    }
    offers = [c.value for c in at.caption]
    assert any("in 10 steps" in c for c in offers) and any("classes of your own" in c for c in offers)
    at.switch_page("pages/learn.py").run()  # where the Learn card leads
    assert_no_exception(at)
    assert at.title[0].value == "Learn"


@pytest.mark.parametrize("name", ["synthetic: star", "synthetic: dots", "photo: cat"])
def test_picking_a_sample_updates_the_prediction(name):
    at = start()
    at.sidebar.selectbox(key="sample_name").set_value(name).run()
    assert_no_exception(at)
    top = chart_categories(at)
    assert len(top) == 10
    if name.startswith("synthetic"):
        assert top[0] == name.removeprefix("synthetic: ")
        assert at.sidebar.selectbox(key="model_key").value == TINYVGG
    else:  # a photo: the ImageNet model that ships with the install takes over, and names the cat
        assert at.sidebar.selectbox(key="model_key").value == LITE0
        assert {"Egyptian cat", "tiger cat", "tabby"} & set(top[:3])


def model_box(at: AppTest) -> str:
    return at.sidebar.selectbox(key="model_key").value


def test_the_model_follows_the_image_until_the_visitor_picks_one():
    """Transition after transition: photo and synthetic samples, uploads, a pick that does not suit the image (it
    stays) and one that does (the model follows the image again)."""
    at = start()
    assert model_box(at) == TINYVGG and "EfficientNet-Lite0" in " ".join(c.value for c in at.sidebar.caption)
    steps = [
        (lambda: at.sidebar.selectbox(key="sample_name").set_value("photo: coffee"), LITE0, "espresso"),
        (lambda: at.sidebar.selectbox(key="sample_name").set_value("synthetic: ring"), TINYVGG, "ring"),
        (lambda: at.sidebar.selectbox(key="sample_name").set_value("photo: cat"), LITE0, None),
        (lambda: at.sidebar.selectbox(key="model_key").set_value(TINYVGG), TINYVGG, None),  # picked: it stays
        (lambda: at.sidebar.selectbox(key="sample_name").set_value("photo: coffee"), TINYVGG, None),
        (lambda: at.sidebar.selectbox(key="sample_name").set_value("synthetic: star"), TINYVGG, "star"),
        (lambda: at.sidebar.radio(key="image_source").set_value("Upload"), TINYVGG, None),
        (lambda: at.sidebar.radio(key="image_source").set_value("Sample"), TINYVGG, "star"),
        (lambda: at.sidebar.selectbox(key="sample_name").set_value("photo: coffee"), TINYVGG, None),
        (lambda: at.sidebar.selectbox(key="model_key").set_value(LITE0), LITE0, "espresso"),  # suits: follows
        (lambda: at.sidebar.selectbox(key="sample_name").set_value("synthetic: dots"), TINYVGG, "dots"),
        (lambda: at.sidebar.radio(key="image_source").set_value("Upload"), LITE0, None),
        (lambda: at.sidebar.radio(key="image_source").set_value("Draw"), TINYVGG, None),  # a drawing: shapes
        (lambda: at.sidebar.radio(key="image_source").set_value("Sample"), TINYVGG, "dots"),
    ]
    for n, (act, model, top) in enumerate(steps):
        act().run()
        assert_no_exception(at)
        assert model_box(at) == model, n
        assert metrics(at)["Architecture"] == {TINYVGG: "TinyVGG", LITE0: "EfficientNet-Lite0"}[model], n
        if top is not None:
            assert chart_categories(at)[0] == top, n


def test_upload_bad_file_then_good_file():
    at = start()
    at.sidebar.radio(key="image_source").set_value("Upload").run()
    assert any("Choose an image" in i.value for i in at.sidebar.info)
    assert model_box(at) == LITE0  # an upload is taken for a photo ...
    at.sidebar.selectbox(key="model_key").set_value(TINYVGG).run()  # ... this one is a synthetic drawing
    at.file_uploader(key="upload").upload("notes.png", b"this is not a png", "image/png").run()
    assert_no_exception(at)
    assert any("not an image" in e.value for e in at.sidebar.error)
    assert not at.get("plotly_chart")
    star = Image.open(ROOT / "assets" / "samples" / "synthetic" / "star.png")
    at.file_uploader(key="upload").upload("star.png", encode(star), "image/png").run()
    assert_no_exception(at)
    assert not at.sidebar.error
    assert chart_categories(at)[0] == "star"


def test_camera_photo_is_classified():
    at = start()
    at.sidebar.radio(key="image_source").set_value("Camera").run()
    at.sidebar.selectbox(key="model_key").set_value(TINYVGG).run()  # the photo shows a synthetic drawing
    assert not at.get("plotly_chart")
    ring = Image.open(ROOT / "assets" / "samples" / "synthetic" / "ring.png").convert("RGB")
    at.camera_input(key="camera").upload("photo.jpg", encode(ring, "JPEG", quality=95), "image/jpeg").run()
    assert_no_exception(at)
    assert chart_categories(at)[0] == "ring"


def test_torchvision_model_from_the_local_cache(torch_home, offline):
    cache_random_weights("resnet18")
    at = start()
    at.sidebar.selectbox(key="model_key").set_value("resnet18").run()
    assert_no_exception(at)
    assert offline == []
    card = metrics(at)
    assert card["Architecture"] == "resnet18" and card["Input size"] == "224×224"
    assert at.expander[0].label == "1000 classes"
    assert len(chart_categories(at)) == 10


def test_offline_torchvision_choice_falls_back_to_the_embedded_model(torch_home, offline):
    at = start()
    at.sidebar.selectbox(key="model_key").set_value("resnet50").run()
    assert_no_exception(at)
    assert len(offline) == 1
    warning = " ".join(w.value for w in at.sidebar.warning)
    assert "offline" in warning and "TinyVGG (built in), which ships with the install, is in use" in warning
    assert "Errno" not in warning
    assert at.sidebar.selectbox(key="model_key").value == TINYVGG  # the box shows the model in use
    assert metrics(at)["Architecture"] == "TinyVGG"
    assert chart_categories(at)  # the app keeps working
    at.run()  # a rerun does not try the download again ...
    assert len(offline) == 1
    at.sidebar.button(key="retry_download").click().run()  # ... until asked to
    assert len(offline) == 2
    assert at.sidebar.selectbox(key="model_key").value == TINYVGG and at.sidebar.warning
    at.sidebar.selectbox(key="model_key").set_value("resnet18").run()  # another model: one more try
    assert len(offline) == 3 and at.sidebar.warning[0].value.startswith("resnet18 is not")
    assert at.sidebar.selectbox(key="model_key").value == TINYVGG
    assert_no_exception(at)


def test_on_a_photo_a_failed_download_leaves_the_photo_model_standing_in(torch_home, offline):
    at = start()
    at.sidebar.selectbox(key="sample_name").set_value("photo: cat").run()
    at.sidebar.selectbox(key="model_key").set_value("resnet50").run()
    assert_no_exception(at)
    assert len(offline) == 1 and model_box(at) == LITE0
    assert "EfficientNet-Lite0 (photo), which ships with the install" in " ".join(w.value for w in at.sidebar.warning)
    assert metrics(at)["Architecture"] == "EfficientNet-Lite0"


def test_first_use_fetches_the_weights_with_progress_then_uses_the_cache(torch_home, monkeypatch):
    fetched, reported = [], []

    def fake_fetch(url, progress=None):  # stands in for the network: writes what a download would
        path = cache_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(torchvision.models.resnet18().state_dict(), path)
        for done in (10, 20):
            progress(done, 20)
            reported.append(done)
        fetched.append(url)
        return path

    monkeypatch.setattr(registry, "fetch", fake_fetch)  # the one place a download starts
    at = start()
    at.sidebar.selectbox(key="model_key").set_value("resnet18").run()
    assert_no_exception(at)
    assert fetched == [registry.default_weights("resnet18").url] and reported == [10, 20]
    assert metrics(at)["Architecture"] == "resnet18"
    assert not at.sidebar.warning
    at.run()
    assert len(fetched) == 1  # now cached


def test_the_drawing_canvas_offers_its_brush_and_asks_for_a_drawing():
    at = start()
    at.sidebar.radio(key="image_source").set_value("Draw").run()
    assert_no_exception(at)
    assert at.sidebar.slider(key="brush_size").value == 18 and at.sidebar.color_picker(key="brush_colour").value
    assert any("Draw a shape on the canvas" in i.value for i in at.sidebar.info)
    assert [e.proto.component_name for e in at.get("bidi_component")] == ["cnnviz_canvas"]
    assert not at.get("plotly_chart")  # nothing drawn yet: no prediction


@pytest.mark.parametrize(
    "strokes",
    [
        [{"size": 10, "colour": "#000000", "points": [[1.0, 1.0]] * 20_001}],  # more points than a drawing holds
        [{"size": 10, "colour": "#000000", "points": [[float("nan"), 1.0]]}],
        [{"size": 10, "colour": "<img src=x onerror=alert(1)>", "points": [[1.0, 1.0]]}],
        [{"size": 10**9, "colour": "#000000", "points": [[1.0, 1.0]]}],  # a brush that would paint a billion pixels
        "x" * 100_000,
    ],
)
def test_hostile_strokes_sent_as_the_canvas_state_are_refused_then_a_drawing_works(strokes):
    at = start()
    at.sidebar.radio(key="image_source").set_value("Draw").run()
    at.session_state["canvas"] = {"strokes": strokes}  # what a crafted websocket message would set
    at.run()
    assert_no_exception(at)
    assert any("This drawing cannot be used" in e.value for e in at.sidebar.error)
    assert not at.get("plotly_chart") and "<img" not in " ".join(e.value for e in at.sidebar.error)
    disc = [
        {
            "size": 40,
            "colour": "#1f3f8f",
            "points": [[128.0 + 50 * math.cos(a / 10), 128.0 + 50 * math.sin(a / 10)] for a in range(64)],
        },
        {"size": 60, "colour": "#1f3f8f", "points": [[128.0, 128.0]]},
    ]
    at.session_state["canvas"] = {"strokes": disc}
    at.run()
    assert not at.sidebar.error and "circle" in chart_categories(at)[:2]
