"""AppTest: a model uploaded in the sidebar works on every page for the session; bad files get a message."""

from __future__ import annotations

import pytest
import safetensors.torch
import torch
import torchvision
from streamlit.testing.v1 import AppTest

from cnnviz.ui.keys import SESSION_MODELS_KEY
from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, open_tab, shown, start  # noqa: F401 (fixtures)
from tests.hostile import pickle_attack, saved, torchscript_attack

PAGES = [
    "pages/home.py",
    "pages/arithmetic.py",
    "pages/network.py",
    "pages/explain.py",
    "pages/playground.py",
    "pages/learn.py",
    "pages/transfer.py",
]


def upload_model(at: AppTest, name: str, data: bytes, **settings) -> AppTest:
    at.file_uploader(key="own_file").upload(name, data, "application/octet-stream").run()
    for key, value in settings.items():
        widget = next(w for w in at.sidebar if getattr(w, "key", None) == key)
        widget.set_value(value).run()
    at.button(key="own_load").click().run()
    assert_no_exception(at)
    return at


def every_page_then_explain_and_overview(at: AppTest) -> AppTest:
    """The uploaded model (classes cat, dog and cow) on every page, then Grad-CAM for it and a unit of its
    overview."""
    for page in PAGES:
        at.switch_page(page).run()
        assert_no_exception(at)
        assert at.sidebar.selectbox(key="model_key").value.startswith("upload-"), page
    at.switch_page("pages/explain.py").run()
    assert captions(at)[0].startswith("Grad-CAM for ")
    assert set(at.selectbox(key="target").options) == {"cat", "dog", "cow"}
    at = open_tab(at.switch_page("pages/network.py").run(), "tab", "Overview")
    assert_no_exception(at)
    assert any(m.value.startswith("**How unit") for m in at.markdown)
    return at


def captions(at: AppTest) -> list[str]:
    return [shown(i.proto.imgs[0].caption) for i in at.main.image]


@pytest.fixture(scope="module")
def pets_state() -> dict:
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=3).state_dict()


@pytest.fixture(scope="module")
def pets(pets_state) -> bytes:
    return saved(pets_state)


@pytest.mark.slow
def test_safetensors_upload_works_on_every_page(pets_state):
    at = upload_model(
        start(),
        "pets.safetensors",
        safetensors.torch.save(pets_state),
        own_arch="resnet18",
        own_num_classes=3,
        own_classes="cat\ndog\ncow",
    )
    assert not at.sidebar.error
    assert at.sidebar.selectbox(key="model_key").value.startswith("upload-")
    assert "pets · resnet18" in at.sidebar.selectbox(key="model_key").options
    assert {m.label: m.value for m in at.metric}["Architecture"] == "resnet18"
    at = every_page_then_explain_and_overview(at)
    at.switch_page("pages/explain.py").run()
    assert at.selectbox(key="layer").value == "layer4"
    open_tab(at.switch_page("pages/network.py").run(), "tab", "Feature maps")
    assert any(c.startswith("conv1: 64 channels of 112×112") for c in captions(at))


def test_hostile_and_mismatched_files_get_a_message(tmp_path, pets):
    victim, secret, marker = tmp_path / "page.py", tmp_path / "secret", tmp_path / "pwned"
    victim.write_bytes(b"print('the real page')\n")
    secret.write_bytes(b"hunter2")
    at = upload_model(start(), "evil.pt", pickle_attack(marker, secret), own_arch="resnet18", own_num_classes=3)
    errors = [shown(e.value) for e in at.sidebar.error]
    assert len(errors) == 1 and errors[0].startswith("evil.pt: The file contains Python objects or code")
    at = upload_model(at, "model.pt", torchscript_attack(victim, secret))
    assert shown(at.sidebar.error[0].value).startswith("model.pt: This is a TorchScript file")
    at = upload_model(at, "big.pt", pets, own_arch="vgg16", own_num_classes=100_000)
    assert "vgg16 with 100000 classes would hold 2075 MiB" in shown(at.sidebar.error[0].value)
    assert not marker.exists() and victim.read_bytes() == b"print('the real page')\n"
    assert at.sidebar.selectbox(key="model_key").value == "tinyvgg"
    at = upload_model(at, "pets.pt", pets, own_arch="resnet18", own_num_classes=10)
    assert "do not fit resnet18 with 10 classes" in shown(at.sidebar.error[0].value)
    at = upload_model(at, "pets.pt", pets, own_num_classes=3)  # the next valid upload works
    assert not at.sidebar.error and at.sidebar.selectbox(key="model_key").value.startswith("upload-")


def test_crafted_and_mutated_files_get_a_message_and_no_exception_box():
    """A sample of tests/test_model_files.py's files through the sidebar: each is refused with its message (or
    loads), the page never shows an exception, and Home still predicts with whatever model is in use."""
    from tests.test_model_files import CLASSES, CRAFTED, mutations

    at = start()
    files = [(what, data) for what, data, _ in CRAFTED[:6]] + mutations(24, seed=5)[::3]
    refused = 0
    for n, (what, data) in enumerate(files):
        before = at.sidebar.selectbox(key="model_key").value
        at = upload_model(at, f"fuzz-{n}.safetensors", data, own_arch="tinyvgg", own_num_classes=CLASSES)
        errors = [shown(e.value) for e in at.sidebar.error]
        now = at.sidebar.selectbox(key="model_key").value
        if errors:  # refused: one message naming the file, and the model in use unchanged
            assert len(errors) == 1 and errors[0].startswith(f"fuzz-{n}.safetensors: ") and now == before, what
            refused += 1
        else:  # loaded: a new model of the session, selected
            assert now != before and now.startswith("upload-"), what
        assert "Traceback" not in " ".join(errors) and any(m.value.startswith("**Prediction:") for m in at.markdown)
    assert refused >= 6  # the crafted files at least


@pytest.mark.slow
def test_a_timm_model_upload_works_on_every_page():
    import timm

    torch.manual_seed(0)
    state = timm.create_model("convnext_atto", pretrained=False, num_classes=3).state_dict()
    at = upload_model(
        start(),
        "atto.safetensors",
        safetensors.torch.save({k: v.contiguous() for k, v in state.items()}),
        own_arch="timm/convnext_atto",
        own_num_classes=3,
        own_classes="cat\ndog\ncow",
    )
    assert not at.sidebar.error
    assert "atto · convnext_atto" in at.sidebar.selectbox(key="model_key").options
    assert {m.label: m.value for m in at.metric}["Architecture"] == "convnext_atto"
    at = every_page_then_explain_and_overview(at)


def test_timm_pretrained_weights_on_an_offline_server_say_why(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    at = start()
    assert not [b for b in at.sidebar.button if b.key == "own_pretrained"]  # torchvision's resnet18: no such button
    next(w for w in at.sidebar if getattr(w, "key", None) == "own_arch").set_value("timm/resnet18").run()
    at.button(key="own_pretrained").click().run()
    assert_no_exception(at)
    (error,) = [shown(e.value) for e in at.sidebar.error]
    assert "could not be fetched" in error and "offline" in error
    assert at.sidebar.selectbox(key="model_key").value == "tinyvgg"  # the model in use is unchanged


@pytest.mark.slow
@pytest.mark.parametrize("channels", [3, 1])
def test_an_onnx_upload_works_on_every_page(channels):
    from tests.onnx_files import StudentNet, exported

    torch.manual_seed(0)
    data = exported(StudentNet(3, channels=channels), (1, channels, 48, 48))
    at = start()
    next(w for w in at.sidebar if getattr(w, "key", None) == "own_arch").set_value("onnx").run()
    assert not [w for w in at.sidebar if getattr(w, "key", None) == "own_num_classes"]  # the graph says
    at = upload_model(at, "student.onnx", data, own_classes="cat\ndog\ncow")
    assert not at.sidebar.error
    assert "student · ONNX" in at.sidebar.selectbox(key="model_key").options
    at = every_page_then_explain_and_overview(at)
    at = open_tab(at, "tab", "What a channel likes")
    at.button(key="maximise").click().run()
    assert_no_exception(at)


def test_the_onnx_form_asks_how_to_feed_a_graph_that_does_not_say():
    from tests.onnx_files import StudentNet, exported

    torch.manual_seed(0)
    data = exported(StudentNet(2, channels=1), (1, 1, 32, 32))
    at = start()
    next(w for w in at.sidebar if getattr(w, "key", None) == "own_arch").set_value("onnx").run()
    assert at.sidebar.text_input(key="own_mean").value == "0.485, 0.456, 0.406"  # ImageNet's by default
    assert at.sidebar.number_input(key="own_size").value == 224
    at.button(key="own_load").click().run()  # no file yet (or one still uploading)
    assert "Choose a model file first" in shown(at.sidebar.error[0].value)
    at = upload_model(at, "grey.onnx", data, own_mean="1 2", own_std="0.5, 0.5")
    (error,) = [shown(e.value) for e in at.sidebar.error]
    assert "grey.onnx: The graph takes 1 channel: give 1 mean and as many stds." in error
    at = upload_model(at, "grey.onnx", data, own_mean="abc")
    assert "The mean should be numbers separated by commas" in shown(at.sidebar.error[0].value)
    at = upload_model(at, "grey.onnx", data, own_mean="0.25", own_std="0.125")
    assert not at.sidebar.error
    model = at.session_state[SESSION_MODELS_KEY][at.sidebar.selectbox(key="model_key").value]
    assert model.mean == (0.25,) and model.std == (0.125,) and model.input_size == (32, 32)
