"""Streamlit AppTest for "Train a CNN"."""

from __future__ import annotations

import json

import pytest

from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, start  # noqa: F401 (fixtures)

PAGE = "pages/playground.py"


def start_training(at, steps: int) -> None:
    next(n for n in at.number_input if n.label == "Steps").set_value(steps)
    next(b for b in at.button if b.label == "Start a new training").click().run()
    assert_no_exception(at)


def filters_url(at) -> str:
    image = next(i for i in at.image if i.proto.imgs[0].caption.startswith("First-layer filters"))
    return image.proto.imgs[0].url


@pytest.mark.slow
def test_train_a_few_steps_see_curves_filters_results_and_use_the_model():
    at = start(PAGE)
    assert any("start a training" in i.value for i in at.info)
    start_training(at, 30)
    first = filters_url(at)
    trainer = at.session_state["_cnnviz_trainer"]
    assert trainer.wait(timeout=300) == "done"
    at.run()
    at.run()  # the live fragment sees the end and reruns the page with the results
    assert_no_exception(at)
    curves = json.loads(next(c for c in at.get("plotly_chart") if "curves" in c.proto.id).proto.spec)
    assert len(curves["data"][0]["x"]) == 30  # a loss value per step
    assert curves["layout"]["legend"]["orientation"] == "h" and curves["layout"]["legend"]["y"] < 0  # below the plot
    assert filters_url(at) != first  # the filters changed as it trained
    assert any(s.value.startswith("Held-out accuracy") for s in at.subheader)
    assert any("confusion" in c.proto.id for c in at.get("plotly_chart"))
    at.button(key="use_model").click().run()
    assert at.sidebar.selectbox(key="model_key").value.startswith("trained-")
    at.switch_page("pages/home.py").run()
    assert_no_exception(at)
    assert {m.label: m.value for m in at.metric}["Architecture"] == "playground CNN"


@pytest.mark.slow
def test_stop_and_resume():
    at = start(PAGE)
    start_training(at, 2000)
    trainer = at.session_state["_cnnviz_trainer"]
    at.button(key="stop").click().run()
    assert trainer.state == "stopped"
    assert trainer.snapshot().step < 2000
    assert any("· stopped" in p.proto.text for p in at.get("progress"))
    at.button(key="resume").click().run()
    assert trainer.state in ("queued", "running")
    trainer.stop()
    trainer.wait(timeout=60)
    assert_no_exception(at)


@pytest.mark.slow
def test_the_quick_preset_fills_the_form_and_trains_on_fewer_images():
    at = start(PAGE)
    at.radio(key="train_preset").set_value("quick").run()
    values = {w.key: w.value for w in [*at.slider, *at.select_slider, *at.number_input] if w.key}
    assert (values["t_blocks"], values["t_channels"], values["t_steps"], values["t_batch"]) == (3, 8, 400, 64)
    next(b for b in at.button if b.label == "Start a new training").click().run()
    trainer = at.session_state["_cnnviz_trainer"]
    assert trainer.config.train_size == 3000 and trainer.config.net.channels == 8
    assert any(p.text.startswith(("making the images first", "step ")) for p in at.get("progress") if p.text)
    trainer.stop()
    trainer.wait(timeout=60)
    at.radio(key="train_preset").set_value("standard").run()
    assert next(n for n in at.number_input if n.key == "t_steps").value == 600
    assert_no_exception(at)
