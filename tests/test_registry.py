"""cnnviz.models: the registry, the torch hub cache, offline behaviour and preprocessing from metadata.

No test downloads anything: torchvision weights are state dicts the tests make and save into a temporary
``TORCH_HOME``, and the network is refused.
"""

from __future__ import annotations

import hashlib
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz.data.shapes import CLASSES
from cnnviz.models import registry
from cnnviz.models.weights import WeightsUnavailableError, cache_path, fetch
from tests.conftest import cache_random_weights

REQUIRED = {"resnet18", "resnet50", "vgg16", "alexnet", "mobilenet_v3_large", "efficientnet_b0"}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def test_lists_the_embedded_model_first_and_the_torchvision_zoo():
    specs = registry.available_models()
    assert specs[0].key == "tinyvgg" and specs[0].source == "embedded"
    assert {s.key for s in specs if s.source == "torchvision"} >= REQUIRED
    with pytest.raises(KeyError, match="known"):
        registry.get_spec("no-such-model")


@pytest.mark.parametrize("key", registry.TORCHVISION_MODELS)
def test_every_torchvision_entry_has_imagenet_weights_metadata(key):
    weights = registry.default_weights(key)
    assert len(weights.meta["categories"]) == 1000
    assert weights.url.startswith("https://") and weights.url.endswith(".pth")
    assert tuple(weights.transforms().mean) == IMAGENET_MEAN


def test_embedded_model_loads_without_network(offline):
    model = registry.load_model("tinyvgg")
    assert offline == []
    assert model.classes == CLASSES and model.input_size == (64, 64)
    assert not model.module.training and not any(p.requires_grad for p in model.module.parameters())
    assert registry.weights_cached("tinyvgg")


def test_embedded_preprocessing_uses_the_card_normalisation():
    model = registry.load_model("tinyvgg")
    colour = (200, 30, 90)
    x = model.preprocess(Image.new("RGB", (128, 96), colour))  # resized to 64 on the short side, centre-cropped
    assert x.shape == (1, 3, 64, 64)
    expected = [(c / 255 - m) / s for c, m, s in zip(colour, model.mean, model.std, strict=True)]
    np.testing.assert_allclose(x[0].mean(dim=(1, 2)).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("key", ["resnet18", "mobilenet_v3_large"])
def test_torchvision_model_loads_from_a_populated_cache(key, torch_home, offline):
    state = cache_random_weights(key)
    assert cache_path(registry.default_weights(key).url).is_relative_to(torch_home / "hub" / "checkpoints")
    assert registry.weights_cached(key)
    model = registry.load_model(key)
    assert offline == []  # nothing was fetched
    for name, tensor in model.module.state_dict().items():
        assert torch.equal(tensor, state[name]), name
    assert len(model.classes) == 1000 and model.classes[0] == "tench"
    assert model.input_size == (224, 224)
    assert model.card.accuracy == pytest.approx(
        registry.default_weights(key).meta["_metrics"]["ImageNet-1K"]["acc@1"] / 100
    )
    assert not model.module.training and not any(p.requires_grad for p in model.module.parameters())


def test_torchvision_preprocessing_follows_the_weights_metadata(torch_home):
    cache_random_weights("resnet18")
    model = registry.load_model("resnet18")
    colour = (255, 0, 128)
    x = model.preprocess(Image.new("RGB", (400, 300), colour))
    assert x.shape == (1, 3, 224, 224)
    expected = [(c / 255 - m) / s for c, m, s in zip(colour, IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    np.testing.assert_allclose(x[0, :, 112, 112].numpy(), expected, atol=1e-5)


def test_offline_without_cache_says_so_plainly(torch_home, offline):
    assert not registry.weights_cached("resnet50")
    with pytest.raises(WeightsUnavailableError, match="offline"):
        registry.load_model("resnet50")
    assert len(offline) == 1 and offline[0] == registry.default_weights("resnet50").url
    checkpoints = torch_home / "hub" / "checkpoints"
    assert list(checkpoints.iterdir()) == []  # no partial file left behind


def test_a_corrupt_cached_file_gives_a_clear_error(torch_home):
    path = cache_path(registry.default_weights("resnet18").url)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsUnavailableError, match="could not be loaded"):
        registry.load_model("resnet18")


def _local_file(tmp_path, payload: bytes, good_hash: bool = True):
    prefix = hashlib.sha256(payload).hexdigest()[:8] if good_hash else "00000000"
    source = tmp_path / "server" / f"fake-{prefix}.pth"
    source.parent.mkdir()
    source.write_bytes(payload)
    return source


def test_fetch_copies_into_the_cache_with_progress(tmp_path, torch_home):
    payload = bytes(range(256)) * 9000  # a little over 2 MB: several chunks
    source = _local_file(tmp_path, payload)
    calls = []
    path = fetch(source.as_uri(), lambda done, total: calls.append((done, total)))
    assert path == torch_home / "hub" / "checkpoints" / source.name
    assert path.read_bytes() == payload
    assert calls[-1] == (len(payload), len(payload)) and len(calls) >= 3
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    source.unlink()
    assert fetch(source.as_uri()) == path  # cached: no second transfer


def test_fetch_rejects_a_checksum_mismatch(tmp_path, torch_home):
    source = _local_file(tmp_path, b"payload", good_hash=False)
    with pytest.raises(WeightsUnavailableError, match="checksum"):
        fetch(source.as_uri())
    assert not cache_path(source.as_uri()).exists()
    assert list((torch_home / "hub" / "checkpoints").iterdir()) == []


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (urllib.error.URLError(socket.gaierror(-2, "Name or service not known")), "could not be looked up"),
        (urllib.error.URLError(TimeoutError("timed out")), "timed out"),
        (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")), "refused"),
        (urllib.error.HTTPError("https://x", 404, "Not Found", None, None), "HTTP 404"),
    ],
)
def test_download_failures_are_told_in_words(torch_home, monkeypatch, error, words):
    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(urllib.request, "urlopen", fail)
    with pytest.raises(WeightsUnavailableError) as raised:
        fetch("https://download.pytorch.org/models/resnet18-f37072fd.pth")
    message = str(raised.value)
    assert words in message and "Errno" not in message and "[" not in message
    assert "resnet18-f37072fd.pth into" in message  # where to put the file for offline use


def test_every_model_label_fits_the_sidebar_box():
    assert max(len(spec.label) for spec in registry.available_models()) <= registry.MAX_LABEL


def test_seen_pixels_undo_the_normalisation():
    model = registry.load_model("tinyvgg")
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    seen = model.seen_pixels(model.preprocess(Image.fromarray(rgb)))
    assert seen.shape == (3, 64, 64)
    np.testing.assert_allclose(seen, rgb.transpose(2, 0, 1) / 255, atol=1e-6)  # 64×64 in: no resize, no crop
