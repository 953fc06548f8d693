"""Bring your own model, timm edition: a state dict of any of timm's image models, by name, loads into the same
architecture and gives the original model's outputs; timm's preprocessing is the model's; too large a network is
refused before anything is allocated; an unknown name is refused."""

from __future__ import annotations

import io

import pytest
import safetensors.torch
import timm
import timm.data
import torch
from torch import nn

from cnnviz.models.custom import (
    BUILT_IN_ARCHITECTURES,
    TIMM_PREFIX,
    ModelFileError,
    architecture_label,
    architectures,
    load_uploaded_model,
    meta_network,
)
from cnnviz.models.registry import IMAGENET_CLASSES


def random_state(name: str, classes: int) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    torch.manual_seed(0)  # (timm initialises from the global generator; the test owns this process's)
    model = timm.create_model(name, pretrained=False, num_classes=classes).eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):  # random statistics, so a batch norm is not the identity
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2)
    return model, {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def test_every_timm_model_is_offered_by_name():
    offered = architectures()
    assert offered[: len(BUILT_IN_ARCHITECTURES)] == BUILT_IN_ARCHITECTURES
    timm_names = [a.removeprefix(TIMM_PREFIX) for a in offered if a.startswith(TIMM_PREFIX)]
    assert timm_names == timm.list_models() and len(timm_names) > 1000
    assert architecture_label("timm/resnet18") == "resnet18 (timm)" and architecture_label("resnet18") == "resnet18"


@pytest.mark.parametrize(
    "name", ["resnet18", "mobilenetv3_small_050", "tf_efficientnet_lite0", "convnext_atto", "regnetx_002"]
)
def test_a_timm_state_dict_gives_the_original_models_outputs(name):
    original, state = random_state(name, 7)
    loaded = load_uploaded_model(safetensors.torch.save(state), TIMM_PREFIX + name, 7, None, f"{name}.safetensors")
    x = torch.randn(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), original(x), rtol=1e-5, atol=1e-5)
    config = timm.data.resolve_model_data_config(original)
    assert loaded.input_size == tuple(config["input_size"][1:])
    assert (loaded.mean, loaded.std) == (pytest.approx(config["mean"]), pytest.approx(config["std"]))
    assert loaded.classes == tuple(f"class {i}" for i in range(7)) and loaded.card.architecture == name
    assert not any(p.requires_grad for p in loaded.module.parameters())


def test_torch_save_files_and_imagenet_names_work_for_timm_too():
    original, state = random_state("mobilenetv3_small_050", 1000)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    loaded = load_uploaded_model(buffer.getvalue(), "timm/mobilenetv3_small_050", 1000)
    assert loaded.classes == IMAGENET_CLASSES
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(loaded.module(x), original(x), rtol=1e-5, atol=1e-5)


def test_too_large_unknown_and_mismatched_timm_models_are_refused():
    with pytest.raises(ModelFileError, match=r"would hold \d+ MiB of parameters; the limit is 200 MiB"):
        meta_network("timm/vit_huge_patch14_224", 10)  # 632 M parameters: refused on the meta device
    with pytest.raises(ModelFileError, match="Unknown architecture"):
        meta_network("timm/no_such_model", 10)
    with pytest.raises(ModelFileError, match="Unknown architecture"):
        meta_network("timm/" + "x" * 10_000, 10)
    _, state = random_state("resnet18", 7)
    with pytest.raises(ModelFileError, match=r"resnet18 \(timm\) with 8 classes"):
        load_uploaded_model(safetensors.torch.save(state), "timm/resnet18", 8)


def test_timm_pretrained_weights_offline_say_why_and_unknown_ones_are_refused(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from cnnviz.models.custom import load_timm_pretrained, timm_pretrained

    monkeypatch.setenv("HF_HOME", str(tmp_path))  # nothing cached
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # as a server without the internet
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert "timm/resnet18" in timm_pretrained() and len(timm_pretrained()) > 500
    with pytest.raises(ModelFileError, match=r"could not be fetched .*cannot reach the Hugging Face hub"):
        load_timm_pretrained("timm/resnet18")
    with pytest.raises(ModelFileError, match="timm has no pretrained weights for"):
        load_timm_pretrained("timm/no_such_model")
    with pytest.raises(ModelFileError, match="would hold"):
        load_timm_pretrained("timm/vit_huge_patch14_224")  # refused on the meta device, before any fetch
