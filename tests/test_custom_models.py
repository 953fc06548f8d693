"""cnnviz.models.custom: uploaded weights (safetensors or torch.save state dicts). Hostile files (pickles and
TorchScript programs that write and read files, compressed records, a class count that makes a huge network)
are refused without running anything or allocating what they ask for."""

from __future__ import annotations

import io
import zipfile

import pytest
import safetensors.torch
import torch
import torchvision
from PIL import Image

from cnnviz.explain.cams import default_layer, grad_cam
from cnnviz.explain.predict import predict
from cnnviz.models import custom
from cnnviz.models.custom import ModelFileError, load_uploaded_model, parse_class_names, read_state_dict, upload_label
from cnnviz.models.registry import MAX_LABEL, TORCHVISION_MODELS
from cnnviz.network.features import activations
from tests.hostile import (
    OVERWRITTEN,
    compressed_state_dict,
    overlapping_records,
    pickle_attack,
    run_torchscript_unsafely,
    saved,
    torchscript_attack,
)
from tests.peak import peak_rss_mib


@pytest.fixture(scope="module")
def resnet18_3() -> torchvision.models.ResNet:
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=3).eval()


@pytest.mark.parametrize("encode", [saved, safetensors.torch.save], ids=["torch.save", "safetensors"])
def test_uploaded_model_matches_the_original(resnet18_3, encode):
    model = load_uploaded_model(encode(resnet18_3.state_dict()), "resnet18", 3, ["cat", "dog", "cow"], "pets.pt")
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(model.module(x), resnet18_3(x), rtol=0, atol=0)
    assert model.classes == ("cat", "dog", "cow") and model.input_size == (224, 224)
    assert model.spec.source == "session" and model.spec.label == "pets · resnet18"
    assert not model.module.training and not any(p.requires_grad for p in model.module.parameters())
    assert not any(t.is_meta for t in model.module.state_dict().values())
    image = Image.new("RGB", (300, 200), (120, 60, 30))
    prediction = predict(model, image)
    with torch.no_grad():
        expected = torch.softmax(resnet18_3(model.preprocess(image)).double(), dim=1)[0]
    got = dict(zip(prediction.classes, prediction.probabilities, strict=True))
    assert [got[name] for name in ("cat", "dog", "cow")] == pytest.approx(expected.tolist(), abs=1e-9)


@pytest.mark.parametrize("start", [b"\x80", b"PK"])
def test_safetensors_header_lengths_are_not_mistaken_for_other_formats(resnet18_3, start):
    """A header length that starts like a pickle (0x80, as resnet50's real header does) or like a zip ("PK") is
    still safetensors."""
    state = resnet18_3.state_dict()
    length = int.from_bytes(safetensors.torch.save(state)[:8], "little")
    wanted = int.from_bytes(start, "little")
    modulus = 256 ** len(start)
    pad = (wanted - length - len(',"__metadata__":{"pad":""}')) % modulus + modulus
    data = safetensors.torch.save(state, metadata={"pad": "x" * pad})
    assert data.startswith(start), data[:2]
    assert load_uploaded_model(data, "resnet18", 3).classes == ("class 0", "class 1", "class 2")


def test_an_uploads_label_fits_the_sidebar_box(resnet18_3):
    data = safetensors.torch.save(resnet18_3.state_dict())
    model = load_uploaded_model(data, "resnet18", 3, file_name="my_very_long_experiment_name_v2.safetensors")
    assert model.spec.label == "my_very_long_e… · resnet18"
    for architecture in TORCHVISION_MODELS:
        assert len(upload_label("my_very_long_experiment_name_v2.pt", architecture)) <= MAX_LABEL


def test_every_upload_gets_its_own_key(resnet18_3):
    """Keys are unique per upload (not derived from the content or from ``id()``), so two sessions' models
    never share a cache entry."""
    data = saved(resnet18_3.state_dict())
    keys = {load_uploaded_model(data, "resnet18", 3).spec.key for _ in range(3)}
    assert len(keys) == 3


def test_half_precision_weights_are_converted(resnet18_3):
    half = {k: v.half() if v.is_floating_point() else v for k, v in resnet18_3.state_dict().items()}
    model = load_uploaded_model(safetensors.torch.save(half), "resnet18", 3)
    assert model.module.fc.weight.dtype == torch.float32
    torch.testing.assert_close(model.module.fc.weight, resnet18_3.fc.weight.half().float())


def test_checkpoint_wrappers_and_data_parallel_prefixes(resnet18_3):
    state = resnet18_3.state_dict()
    wrapped = {"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state.items()}}
    assert read_state_dict(saved(wrapped)).keys() == state.keys()
    prefixed = safetensors.torch.save({f"module.{k}": v for k, v in state.items()})
    parameters = sum(p.numel() for p in resnet18_3.parameters())
    assert load_uploaded_model(prefixed, "resnet18", 3).card.num_params == parameters


def test_imagenet_class_count_takes_torchvision_names():
    torch.manual_seed(0)
    model = load_uploaded_model(saved(torchvision.models.mobilenet_v3_large().state_dict()), "mobilenet_v3_large", 1000)
    assert model.classes[:2] == ("tench", "goldfish") and len(model.classes) == 1000


@pytest.fixture
def victim_and_secret(tmp_path):
    victim, secret = tmp_path / "page.py", tmp_path / "secret.txt"
    victim.write_bytes(b"print('the real page')\n")
    secret.write_bytes(b"root:x:0:0:hunter2\n")
    return victim, secret


def test_pickle_that_writes_and_reads_files_runs_no_code(tmp_path, victim_and_secret):
    _, secret = victim_and_secret
    marker = tmp_path / "pwned"
    data = pickle_attack(marker, secret)
    for name in ("evil.pt", "evil.safetensors"):  # the loader goes by the bytes, not by the name
        with pytest.raises(ModelFileError, match="refused unread"):
            load_uploaded_model(data, "resnet18", 3, file_name=name)
    assert not marker.exists()
    loaded = torch.load(io.BytesIO(data), weights_only=False)  # the unsafe way, on purpose: the payload is real
    assert marker.exists() and loaded["read"] == secret.read_bytes()


def test_torchscript_that_overwrites_and_reads_files_is_refused_unrun(victim_and_secret):
    victim, secret = victim_and_secret
    original = victim.read_bytes()
    data = torchscript_attack(victim, secret)
    with pytest.raises(ModelFileError, match="TorchScript models are programs"):
        load_uploaded_model(data, "resnet18", 3)
    with pytest.raises(ModelFileError, match="TorchScript models are programs"):
        read_state_dict(data)
    assert victim.read_bytes() == original
    stolen = run_torchscript_unsafely(data)  # what accepting TorchScript did: the page is overwritten
    assert victim.read_bytes() == OVERWRITTEN + original[len(OVERWRITTEN) :]
    assert bytes(stolen[0].byte().tolist()) == secret.read_bytes()


def test_compressed_records_are_refused_before_they_inflate():
    data = compressed_state_dict(25_000_000)  # 100 MB of zeros in a file of about 100 KB
    assert len(data) < 200_000
    with pytest.raises(ModelFileError, match="compressed records"):
        load_uploaded_model(data, "resnet18", 3)
    inflated = torch.load(io.BytesIO(data), weights_only=True)  # weights_only alone does not stop this
    assert inflated["fc.weight"].numel() == 25_000_000


def test_records_that_claim_more_bytes_than_the_file_are_refused():
    """Zip entries that share their bytes would let a small file declare more tensor memory than it holds."""
    data = overlapping_records(50)
    assert len(zipfile.ZipFile(io.BytesIO(data)).namelist()) > 50  # a readable zip
    with pytest.raises(ModelFileError, match="more bytes than the file holds"):
        load_uploaded_model(data, "resnet18", 3)


@pytest.mark.slow
def test_class_count_that_would_build_a_huge_network_is_refused_first():
    """The issue's 1.5 KB file declared as vgg16 with 100000 classes took 3 GB before anything was checked."""
    data = saved({"classifier.6.bias": torch.zeros(4)})
    with pytest.raises(ModelFileError, match=r"vgg16 with 100000 classes would hold 2075 MiB of parameters"):
        load_uploaded_model(data, "vgg16", 100_000)
    growth = peak_rss_mib(
        "import torch\nfrom cnnviz.models.custom import ModelFileError, load_uploaded_model\n"
        "from tests.hostile import saved\ndata = saved({'classifier.6.bias': torch.zeros(4)})",
        "try:\n    load_uploaded_model(data, 'vgg16', 100_000)\nexcept ModelFileError:\n    pass",
    )
    assert growth < 64, growth


def test_safetensors_header_is_checked_before_any_tensor_is_read(resnet18_3):
    state = resnet18_3.state_dict()
    state["fc.weight"] = torch.zeros(3, 513)
    with pytest.raises(ModelFileError, match=r"do not fit resnet18 with 3 classes: wrong shape: fc.weight: \[3, 513\]"):
        load_uploaded_model(safetensors.torch.save(state), "resnet18", 3)
    header = b'{"fc.weight": {"dtype": "F32", "shape": [100000, 100000], "data_offsets": [0, 40000000000]}}'
    lying = len(header).to_bytes(8, "little") + header + bytes(64)
    for read in (lambda: load_uploaded_model(lying, "resnet18", 3), lambda: custom.read_safetensors(lying)):
        with pytest.raises(ModelFileError, match=r"fc\.weight''s byte range does not fit its shape or the file"):
            read()  # 40 GB declared in a file of 64 bytes: refused from the header alone


def test_weights_that_do_not_fit_say_why(resnet18_3):
    data = saved(resnet18_3.state_dict())
    with pytest.raises(ModelFileError, match=r"do not fit resnet18 with 10 classes: wrong shape: fc.weight"):
        load_uploaded_model(data, "resnet18", 10)
    wanted = r"do not fit resnet50 with 3 classes: missing: layer1\.0\.conv3\.weight.* and 194 more; wrong shape"
    with pytest.raises(ModelFileError, match=wanted):
        load_uploaded_model(data, "resnet50", 3)
    with pytest.raises(ModelFileError, match="2 class names were given for a model with 3 classes"):
        load_uploaded_model(data, "resnet18", 3, ["a", "b"])
    with pytest.raises(ModelFileError, match="Unknown architecture"):
        load_uploaded_model(data, "lenet", 3)
    with pytest.raises(ModelFileError, match="between 1 and 100000"):
        load_uploaded_model(data, "resnet18", 0)


def _legacy(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"not a checkpoint at all", "neither a safetensors file nor a PyTorch state dict"),
        (b"PK\x03\x04 broken zip", "damaged zip"),
        (b"PK not a zip", "neither a safetensors"),
        (_legacy({"a": torch.zeros(2)}), "before 1.6"),
        (saved([torch.zeros(2)]), "does not hold a state dict"),
        (saved({"a": 1}), "does not hold a state dict"),
        (b"\x12\x00\x00\x00\x00\x00\x00\x00[1, 2, 3, 4, 5, 6]", "must be a table"),
        (b"\x08\x00\x00\x00\x00\x00\x00\x00not json", "must be JSON"),
    ],
)
def test_unreadable_files(data, message):
    with pytest.raises(ModelFileError, match=message):
        load_uploaded_model(data, "resnet18", 3)


def test_size_limit(monkeypatch, resnet18_3):
    data = saved(resnet18_3.state_dict())
    monkeypatch.setattr(custom, "MAX_MODEL_BYTES", len(data) - 1)
    with pytest.raises(ModelFileError, match="the limit is"):
        load_uploaded_model(data, "resnet18", 3)


def test_uploaded_model_explains_like_the_original(resnet18_3):
    model = load_uploaded_model(saved(resnet18_3.state_dict()), "resnet18", 3)
    x = torch.randn(1, 3, 224, 224)
    layer = default_layer(model.module, model.input_size)
    assert layer == "layer4"
    torch.testing.assert_close(grad_cam(model.module, x, 1, layer), grad_cam(resnet18_3, x, 1, layer))
    maps = activations(model.module, x, ["layer1"])["layer1"]
    assert maps.shape == (1, 64, 56, 56)


def test_parse_class_names():
    assert parse_class_names("cat, dog ,, cow") == ("cat", "dog", "cow")
    assert parse_class_names("tabby, cat\nbig dog\n\n") == ("tabby, cat", "big dog")
    assert parse_class_names("  ") == ()
