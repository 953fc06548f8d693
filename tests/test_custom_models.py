"""cnnviz.models.custom: uploaded state dicts and TorchScript files; a malicious pickle runs no code."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import pytest
import torch
import torchvision
from PIL import Image

from cnnviz.explain import attribute, default_layer, grad_cam
from cnnviz.features import activations
from cnnviz.models import custom
from cnnviz.models.custom import (
    ModelFileError,
    load_state_dict_model,
    load_torchscript_model,
    parse_class_names,
    read_state_dict,
)
from cnnviz.predict import predict


def saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def scripted(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(module), buffer)
    return buffer.getvalue()


def two_class_net() -> torch.nn.Module:
    """A small image classifier with two classes that TorchScript can compile."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(4, 2)).eval()  # fmt: skip


class Payload:
    """Unpickling this calls ``os.system``: it would create the marker file if any code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def resnet18_3() -> torchvision.models.ResNet:
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=3).eval()


def test_state_dict_model_matches_the_original(resnet18_3):
    model = load_state_dict_model(saved(resnet18_3.state_dict()), "resnet18", 3, ["cat", "dog", "cow"], "pets.pt")
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model.module(x), resnet18_3(x), rtol=0, atol=0)
    assert model.classes == ("cat", "dog", "cow") and model.input_size == (224, 224)
    assert model.spec.source == "session" and "pets.pt" in model.spec.label
    assert not model.module.training and not any(p.requires_grad for p in model.module.parameters())
    image = Image.new("RGB", (300, 200), (120, 60, 30))
    prediction = predict(model, image)
    with torch.no_grad():
        expected = torch.softmax(resnet18_3(model.preprocess(image)).double(), dim=1)[0]
    got = dict(zip(prediction.classes, prediction.probabilities, strict=True))
    assert [got[name] for name in ("cat", "dog", "cow")] == pytest.approx(expected.tolist(), abs=1e-9)


def test_checkpoint_wrappers_and_data_parallel_prefixes(resnet18_3):
    state = resnet18_3.state_dict()
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}
    assert read_state_dict(saved(wrapped)).keys() == state.keys()


def test_imagenet_class_count_takes_torchvision_names():
    torch.manual_seed(0)
    model = load_state_dict_model(saved(torchvision.models.mobilenet_v3_large().state_dict()), "mobilenet_v3_large",
                                  1000)  # fmt: skip
    assert model.classes[:2] == ("tench", "goldfish") and len(model.classes) == 1000


def test_malicious_pickle_runs_no_code(tmp_path):
    marker = tmp_path / "pwned"
    data = saved({"conv1.weight": torch.zeros(1), "evil": Payload(marker)})
    # The payload is real: an unrestricted load would run it.
    with pytest.raises(ModelFileError, match="refused unread"):
        load_state_dict_model(data, "resnet18", 3)
    with pytest.raises(ModelFileError):
        load_torchscript_model(data)
    assert not marker.exists()
    torch.load(io.BytesIO(data), weights_only=False)  # the unsafe way, on purpose, to prove the file works
    assert marker.exists()


def test_weights_that_do_not_fit_say_why(resnet18_3):
    data = saved(resnet18_3.state_dict())
    with pytest.raises(ModelFileError, match=r"do not fit resnet18 with 10 classes: .*size mismatch for fc.weight"):
        load_state_dict_model(data, "resnet18", 10)
    with pytest.raises(ModelFileError, match="do not fit resnet50"):
        load_state_dict_model(data, "resnet50", 3)
    with pytest.raises(ModelFileError, match="2 class names were given for a model with 3 classes"):
        load_state_dict_model(data, "resnet18", 3, ["a", "b"])
    with pytest.raises(ModelFileError, match="Unknown architecture"):
        load_state_dict_model(data, "lenet", 3)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"not a checkpoint at all", "not a PyTorch state dict"),
     (saved([torch.zeros(2)]), "does not hold a state dict"), (saved({"a": 1}), "does not hold a state dict")],
)  # fmt: skip
def test_unreadable_files(data, message):
    with pytest.raises(ModelFileError, match=message):
        load_state_dict_model(data, "resnet18", 3)


def test_size_limit(monkeypatch, resnet18_3):
    data = saved(resnet18_3.state_dict())
    monkeypatch.setattr(custom, "MAX_MODEL_BYTES", len(data) - 1)
    with pytest.raises(ModelFileError, match="the limit is"):
        load_state_dict_model(data, "resnet18", 3)
    with pytest.raises(ModelFileError, match="the limit is"):
        load_torchscript_model(data)


def test_uploaded_state_dict_model_explains_like_the_original(resnet18_3):
    model = load_state_dict_model(saved(resnet18_3.state_dict()), "resnet18", 3)
    x = torch.randn(1, 3, 224, 224)
    layer = default_layer(model.module, model.input_size)
    assert layer == "layer4"
    torch.testing.assert_close(grad_cam(model.module, x, 1, layer), grad_cam(resnet18_3, x, 1, layer))
    maps = activations(model.module, x, ["layer1"])["layer1"]
    assert maps.shape == (1, 64, 56, 56)


def test_torchscript_model_predicts_and_attributes():
    net = two_class_net()
    model = load_torchscript_model(scripted(net), (32, 32), (0.5,) * 3, (0.25,) * 3, ["yes", "no"], "tiny.pt")
    assert custom.is_scripted(model.module) and model.card.architecture == "TorchScript"
    image = Image.new("RGB", (40, 32), (200, 10, 10))
    x = model.preprocess(image)
    assert x.shape == (1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.module(x), net(x))
    explanation = attribute(model.module, x, 0, "Saliency")
    assert explanation.heatmap.shape == (32, 32)


@pytest.mark.parametrize(
    ("make", "message"),
    [(lambda: b"junk", "not a TorchScript model"),
     (lambda: scripted(torch.nn.Conv2d(3, 2, 3)), "should return class scores of shape"),
     (lambda: scripted(torch.nn.Linear(5, 2)), "fails on a 1×3×224×224 image")],
)  # fmt: skip
def test_torchscript_refusals(make, message):
    with pytest.raises(ModelFileError, match=message):
        load_torchscript_model(make())


def test_parse_class_names():
    assert parse_class_names("cat, dog ,, cow") == ("cat", "dog", "cow")
    assert parse_class_names("tabby, cat\nbig dog\n\n") == ("tabby, cat", "big dog")
    assert parse_class_names("  ") == ()
