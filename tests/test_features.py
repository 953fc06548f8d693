"""cnnviz.network.features: activations equal a manual forward; hooks never stay; the model is left as found;
concurrent sessions on one shared model get their own results."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from cnnviz.models.embedded import load_embedded
from cnnviz.models.sharing import in_use, model_lock
from cnnviz.network.features import activations, conv_layers, layer_names
from tests.conftest import run_in_threads
from tests.reference import hook_count


@pytest.fixture(scope="module")
def tiny():
    return load_embedded()[0]


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18().eval()


def test_embedded_activations_equal_a_manual_forward(tiny):
    x = torch.randn(2, 3, 64, 64)
    got = activations(tiny, x, ["features.conv_1_1", "features.relu_2_2", "features.max_pool_3", "classifier.fc"])
    f = tiny.features
    with torch.no_grad():
        conv = f.conv_1_1(x)
        h = x
        for name, module in f.named_children():
            h = module(h)
            if name == "relu_2_2":
                relu22 = h
        pool3 = h
        logits = tiny.classifier(pool3)
    torch.testing.assert_close(got["features.conv_1_1"], conv, rtol=0, atol=0)
    torch.testing.assert_close(got["features.relu_2_2"], relu22, rtol=0, atol=0)
    torch.testing.assert_close(got["features.max_pool_3"], pool3, rtol=0, atol=0)
    torch.testing.assert_close(got["classifier.fc"], logits, rtol=0, atol=0)
    assert list(got) == ["features.conv_1_1", "features.relu_2_2", "features.max_pool_3", "classifier.fc"]


def test_resnet_batchnorm_output_survives_the_inplace_relu(resnet):
    x = torch.randn(1, 3, 96, 96)
    got = activations(resnet, x, ["bn1", "relu", "layer1.0.conv1", "layer1.0.bn1"])
    with torch.no_grad():
        bn1 = resnet.bn1(resnet.conv1(x))
        assert (bn1 < 0).any()  # the in-place ReLU would have clipped these
        stem = resnet.maxpool(torch.relu(bn1))
        block_bn1 = resnet.layer1[0].bn1(resnet.layer1[0].conv1(stem))
    torch.testing.assert_close(got["bn1"], bn1)
    torch.testing.assert_close(got["layer1.0.bn1"], block_bn1)
    assert (got["relu"] >= 0).all()


def test_unknown_layer_is_a_clear_error(tiny):
    with pytest.raises(KeyError, match=r"no layer named 'features\.nope'"):
        activations(tiny, torch.randn(1, 3, 64, 64), ["features.nope"])


def test_layer_listing(tiny, resnet):
    assert conv_layers(tiny) == [f"features.conv_{b}_{i}" for b in (1, 2, 3) for i in (1, 2)]
    assert len(conv_layers(resnet)) == 20 and "layer4.1.conv2" in conv_layers(resnet)
    assert layer_names(tiny)[:2] == ["features.conv_1_1", "features.relu_1_1"]


@pytest.mark.slow
def test_no_hook_remains_after_1000_extractions_including_failures(tiny):
    good = torch.randn(1, 3, 64, 64)
    bad = torch.randn(1, 5, 64, 64)  # wrong channel count: the forward fails inside
    layers = ["features.conv_1_1", "features.relu_3_2"]
    for n in range(1000):
        if n % 3 == 0:
            with pytest.raises(RuntimeError):
                activations(tiny, bad, layers)
        else:
            activations(tiny, good, layers)
    assert hook_count(tiny) == 0


def test_model_left_exactly_as_found():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.ReLU())
    model.train()
    model[0].weight.requires_grad_(True)
    model[0].bias.requires_grad_(False)
    model[0].weight.grad = torch.full_like(model[0].weight, 0.25)
    running = model[1].running_mean.clone()
    activations(model, torch.randn(2, 3, 8, 8), ["0", "3"])
    assert all(m.training for m in model.modules())
    assert model[0].weight.requires_grad and not model[0].bias.requires_grad
    assert torch.equal(model[0].weight.grad, torch.full_like(model[0].weight, 0.25)) and model[0].bias.grad is None
    assert torch.equal(model[1].running_mean, running)  # ran in eval mode: statistics untouched


def test_in_use_restores_after_failure_and_removes_stray_hooks():
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="boom"), in_use(model):
        model.eval()
        model[0].weight.requires_grad_(False)
        model[0].register_forward_hook(lambda *a: None)
        model[0].register_full_backward_hook(lambda *a: None)
        raise RuntimeError("boom")
    assert model.training and model[0].weight.requires_grad and hook_count(model) == 0
    kept = model[0].register_forward_hook(lambda *a: None)  # a hook from before the block stays
    other = nn.Linear(2, 2)
    with in_use(model):
        model[0].register_forward_pre_hook(lambda *a: None)
        elsewhere = other.register_forward_hook(lambda *a: None)  # another model's hook is not this guard's
    assert list(model[0]._forward_hooks) == [kept.id] and not model[0]._forward_pre_hooks
    assert list(other._forward_hooks) == [elsewhere.id]


@pytest.mark.slow
def test_eight_threads_on_one_shared_model_get_their_serial_results(resnet):
    layers = ["layer1.0.conv1", "layer2.1.bn2", "layer4.1.conv2", "fc"]
    images = [torch.randn(1, 3, 96, 96, generator=torch.Generator().manual_seed(i)) for i in range(8)]
    serial = [activations(resnet, x, layers) for x in images]
    results = run_in_threads(lambda i: activations(resnet, images[i], layers))
    for i in range(8):
        for name in layers:
            assert torch.equal(results[i][name], serial[i][name]), (i, name)
    assert hook_count(resnet) == 0


def test_lock_is_one_per_model(tiny, resnet):
    assert model_lock(tiny) is model_lock(tiny) and model_lock(tiny) is not model_lock(resnet)


def test_in_use_restores_exactly_what_it_changed():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(), nn.Linear(2, 2))
    model.train()
    model[1].eval()
    model[2].weight.requires_grad_(False)
    with pytest.raises(RuntimeError, match="inside"), in_use(model):
        assert not any(m.training for m in model.modules())
        assert not any(p.requires_grad for p in model.parameters())
        raise RuntimeError("inside")
    assert [m.training for m in model.modules()] == [True, True, False, True]
    assert [p.requires_grad for p in model.parameters()] == [True, True, False, True]
