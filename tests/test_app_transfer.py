"""Streamlit AppTest for "Your own classes": example classes, a linear probe and a fine-tuning, the model on
every page (Grad-CAM included), bad images skipped by name, and the downloads loaded back."""

from __future__ import annotations

import pytest
from PIL import Image

from cnnviz.models import custom
from cnnviz.models.tinyvgg import TINYVGG
from cnnviz.transfer.run import class_names_file, weights_file
from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, shown, start  # noqa: F401 (fixtures)
from tests.conftest import encode

PAGE = "pages/transfer.py"


def texts(at) -> str:
    return "\n".join([shown(m.value) for m in at.markdown] + [shown(c.value) for c in at.caption])


def trained(mode: str = "probe"):
    at = start(PAGE)
    at.button(key="transfer_examples").click().run()
    assert at.number_input(key="transfer_count").value == 3
    assert [at.text_input(key=f"transfer_name_{i}").value for i in range(3)] == ["hexagon", "frame", "zigzag"]
    if mode != "probe":
        at.radio(key="transfer_mode").set_value(mode).run()
        at.select_slider(key="transfer_steps").set_value(20).run()
    return finished(at.button(key="transfer_train").click().run())


def finished(at):
    """``at`` after its training, which runs in the background, has ended and the page has shown its result."""
    assert_no_exception(at)
    job = at.session_state["_transfer_job"]
    assert job.wait(timeout=240) == "done", job.status
    at.run()
    assert_no_exception(at)
    assert "_transfer_job" not in at.session_state  # let go once its result is kept
    return at


def test_a_probe_on_example_classes_joins_every_page_and_explains():
    at = trained()
    assert "**Held-out accuracy" in texts(at)
    accuracy = int(texts(at).split("**Held-out accuracy ")[1].split("%")[0])
    assert accuracy >= 80
    # the example classes are small (a few dozen images): leave-one-out by default, every image checked
    crossed = at.session_state["_transfer_result"].cross_validation
    assert at.selectbox(key="transfer_cross_check").value == "leave-one-out" and crossed.method == "leave-one-out"
    assert f"**Cross-validated (leave-one-out): {crossed.accuracy:.0%}, each of the {crossed.total} images" in texts(at)
    assert f"{crossed.correct} of {crossed.total} correct; 95 % interval" in texts(at)
    assert len(at.main.dataframe[0].value) == 3  # the split, class by class
    at.button(key="transfer_use").click().run()
    model_key = at.sidebar.selectbox(key="model_key").value
    assert model_key.startswith("transfer-")
    at.switch_page("pages/explain.py").run()
    assert_no_exception(at)
    captions = [i.proto.imgs[0].caption for i in at.main.image]
    assert any(c.startswith("Grad-CAM for ") for c in captions)
    assert set(at.selectbox(key="target").options) == {"hexagon", "frame", "zigzag"}
    for page in ("pages/home.py", "pages/arithmetic.py", "pages/network.py", "pages/playground.py", "pages/learn.py"):
        at.switch_page(page).run()
        assert_no_exception(at)
        assert at.sidebar.selectbox(key="model_key").value == model_key


@pytest.mark.slow
def test_fine_tuning_shows_features_before_and_after():
    at = trained("fine-tune")
    charts = [c.proto.spec for c in at.main.get("plotly_chart")]
    assert any("After fine-tuning" in spec for spec in charts) and any("Backbone features" in spec for spec in charts)
    assert "the last stage fine-tuned" in texts(at)


def test_the_downloads_load_back_through_bring_your_own_model():
    at = trained()
    weights = next(b for b in at.get("download_button") if "safetensors" in b.proto.label)
    listed = next(b for b in at.get("download_button") if "class names" in b.proto.label)
    assert weights.proto.url and listed.proto.url  # served by the media file manager; read them from the result
    result = at.session_state["_transfer_result"]
    names = custom.parse_class_names(class_names_file(result.classes))  # as the sidebar reads the names file
    back = custom.load_uploaded_model(weights_file(result.model.module), TINYVGG, 3, names, "mine.safetensors")
    assert back.classes == ("hexagon", "frame", "zigzag")
    for key, value in result.model.module.state_dict().items():
        assert back.module.state_dict()[key].equal(value)


def test_a_class_takes_fifty_images_and_names_the_rest():
    at = start(PAGE)
    png = encode(Image.new("RGB", (40, 30), (0, 120, 0)))
    uploader = at.file_uploader(key="transfer_upload_0_0")
    for i in range(53):
        uploader.upload(f"g{i}.png", png, "image/png")
    at.run()
    assert_no_exception(at)
    skipped = [shown(w.value) for w in at.warning]
    assert skipped == [f"Skipped g{i}.png: not added, this class already has 50 images." for i in (50, 51, 52)]
    assert "50 images, full" in [c.value for c in at.caption]
    at.file_uploader(key="transfer_upload_0_1").upload("late.png", png, "image/png").run()
    assert [shown(w.value) for w in at.warning] == ["Skipped late.png: not added, this class already has 50 images."]
    at.button(key="transfer_forget_0").click().run()
    assert "0 images, room for 50 more" in [c.value for c in at.caption]


def test_bad_images_are_skipped_by_name_and_the_rest_kept():
    at = start(PAGE)
    assert at.button(key="transfer_train").disabled  # no images yet: the info says what is missing
    assert any("at least 5 images" in i.value for i in at.info)
    for label, colour in ((0, (200, 0, 0)), (1, (0, 0, 200))):
        uploader = at.file_uploader(key=f"transfer_upload_{label}_0")
        for i in range(5):
            uploader.upload(f"c{label}-{i}.png", encode(Image.new("RGB", (40, 30), colour)), "image/png")
        if label == 0:
            uploader.upload("broken.png", b"\x89PNG\r\n\x1a\nnot really a picture", "image/png")
    at.run()
    assert_no_exception(at)
    skipped = [shown(w.value) for w in at.warning if w.value.startswith("Skipped ")]
    assert len(skipped) == 1 and skipped[0].startswith("Skipped broken.png: ")
    # Read and let go: each uploader is a new, empty one, and the classes hold the decoded images.
    assert [at.file_uploader(key=f"transfer_upload_{label}_1").value for label in (0, 1)] == [[], []]
    assert [len(held.images) for held in at.session_state["_transfer_images"][:2]] == [5, 5]
    assert sum("5 images, room for 45 more" in c.value for c in at.caption) == 2
    assert not at.button(key="transfer_train").disabled  # 5 good images in each class: enough
    finished(at.button(key="transfer_train").click().run())
    result = at.session_state["_transfer_result"]
    assert result.split_counts() == ([4, 4], [1, 1]) and "broken.png" not in result.images.names
    at.button(key="transfer_use").click().run()
    at.switch_page("pages/explain.py").run()  # the uploaded classes' model explains the sidebar's image
    assert_no_exception(at)
    assert any(i.proto.imgs[0].caption.startswith("Grad-CAM for ") for i in at.main.image)
    assert set(at.selectbox(key="target").options) == {"class 1", "class 2"}


def test_an_uploaded_onnx_graph_is_a_backbone_and_its_model_downloads_as_onnx():
    import torch

    from tests.onnx_files import StudentNet, exported

    torch.manual_seed(0)
    at = start(PAGE)
    next(w for w in at.sidebar if getattr(w, "key", None) == "own_arch").set_value("onnx").run()
    at.file_uploader(key="own_file").upload("student.onnx", exported(StudentNet(4), (1, 3, 48, 48)), "").run()
    at.button(key="own_load").click().run()
    assert_no_exception(at)
    uploaded = at.sidebar.selectbox(key="model_key").value
    assert uploaded.startswith("upload-") and "student · ONNX" in at.selectbox(key="transfer_backbone").options
    at.selectbox(key="transfer_backbone").set_value(uploaded).run()
    at.button(key="transfer_examples").click().run()
    at = finished(at.button(key="transfer_train").click().run())
    (button,) = [b for b in at.get("download_button") if b.proto.label == "Download model (ONNX)"]
    assert button.proto.url
    assert "architecture ONNX file (any architecture); the graph says its 3 classes" in texts(at)
    result = at.session_state["_transfer_result"]
    assert result.model.card.architecture == custom.ONNX_GRAPH and result.classes == ("hexagon", "frame", "zigzag")
