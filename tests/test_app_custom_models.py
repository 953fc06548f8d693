"""AppTest: a model uploaded in the sidebar works on every page for the session; bad files get a message."""

from __future__ import annotations

import pytest
import torch
import torchvision
from streamlit.testing.v1 import AppTest

from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, start  # noqa: F401 (fixtures)
from tests.test_custom_models import Payload, saved, scripted, two_class_net

PAGES = ["pages/home.py", "pages/arithmetic.py", "pages/network.py", "pages/explain.py", "pages/playground.py"]


def upload_model(at: AppTest, name: str, data: bytes, **settings) -> AppTest:
    at.file_uploader(key="own_file").upload(name, data, "application/octet-stream").run()
    for key, value in settings.items():
        widget = next(w for w in at.sidebar if getattr(w, "key", None) == key)
        widget.set_value(value).run()
    at.button(key="own_load").click().run()
    assert_no_exception(at)
    return at


def captions(at: AppTest) -> list[str]:
    return [i.proto.imgs[0].caption for i in at.main.image]


@pytest.fixture(scope="module")
def pets() -> bytes:
    torch.manual_seed(0)
    return saved(torchvision.models.resnet18(num_classes=3).state_dict())


def test_state_dict_upload_works_on_every_page(pets):
    at = upload_model(start(), "pets.pt", pets, own_arch="resnet18", own_num_classes=3,
                      own_classes="cat\ndog\ncow")  # fmt: skip
    assert not at.sidebar.error
    assert at.sidebar.selectbox(key="model_key").value.startswith("upload-")
    assert "pets.pt (resnet18, uploaded)" in at.sidebar.selectbox(key="model_key").options
    assert {m.label: m.value for m in at.metric}["Architecture"] == "resnet18"
    for page in PAGES:
        at.switch_page(page).run()
        assert_no_exception(at)
        assert at.sidebar.selectbox(key="model_key").value.startswith("upload-"), page
    at.switch_page("pages/explain.py").run()
    assert captions(at)[0].startswith("Grad-CAM for ")
    assert at.selectbox(key="layer").value == "layer4"
    assert set(at.selectbox(key="target").options) == {"cat", "dog", "cow"}
    at.switch_page("pages/network.py").run()
    assert any(c.startswith("conv1: 64 channels of 112×112") for c in captions(at))


def test_malicious_and_mismatched_files_get_a_message(tmp_path, pets):
    marker = tmp_path / "pwned"
    evil = saved({"fc.weight": torch.zeros(3, 512), "x": Payload(marker)})
    at = upload_model(start(), "evil.pt", evil, own_arch="resnet18", own_num_classes=3)
    errors = [e.value for e in at.sidebar.error]
    assert len(errors) == 1 and errors[0].startswith("evil.pt: The file contains Python objects or code")
    assert not marker.exists()
    assert at.sidebar.selectbox(key="model_key").value == "tinyvgg"
    at = upload_model(at, "pets.pt", pets, own_num_classes=10)
    assert "do not fit resnet18 with 10 classes" in at.sidebar.error[0].value
    at = upload_model(at, "pets.pt", pets, own_num_classes=3)  # the next valid upload works
    assert not at.sidebar.error and at.sidebar.selectbox(key="model_key").value.startswith("upload-")


def test_torchscript_upload_predicts_and_explains_the_input():
    at = start()
    at.sidebar.radio(key="own_format").set_value("TorchScript").run()
    at = upload_model(at, "tiny.pt", scripted(two_class_net()), own_size=32, own_classes="yes, no")
    assert not at.sidebar.error
    assert {m.label: m.value for m in at.metric}["Input size"] == "32×32"
    at.switch_page("pages/explain.py").run()
    assert_no_exception(at)
    assert "TorchScript model" in at.info[0].value
    assert at.selectbox(key="method").options == ["Integrated Gradients", "Saliency", "SmoothGrad", "Occlusion"]
    assert captions(at)[0].startswith("Integrated Gradients for ")
    at.switch_page("pages/network.py").run()
    assert_no_exception(at)
    assert "TorchScript model" in at.info[0].value
