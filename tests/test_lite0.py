"""cnnviz.models.lite0: the packaged EfficientNet-Lite0 against its author's reference implementation, on the
shipped photos, and under every explanation method (hooks, grads and mode left as found)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz.data.samples import load_sample
from cnnviz.explain.methods import METHODS, explain
from cnnviz.explain.predict import predict
from cnnviz.models import lite0, registry
from cnnviz.network.architecture import summarize
from tests.reference import hook_count
from tests.test_architecture import _linearised, assert_field_is_the_gradients_support

CATS = {"Egyptian cat", "tiger cat", "tabby"}


@pytest.fixture(scope="module")
def model() -> registry.LoadedModel:
    return registry.load_model(lite0.LITE0)


def test_the_key_mapping_gives_the_reference_implementations_outputs(model):
    from efficientnet_lite_pytorch import EfficientNet  # the weights' author's own code (a dev requirement)

    reference = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(lite0.weights_path())).eval()
    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ours, theirs = model.module(x), reference(x)
    assert ours.shape == (3, 1000)
    assert float((ours - theirs).abs().max()) <= 1e-5
    assert ours.argmax(1).tolist() == theirs.argmax(1).tolist()


def test_the_card_and_the_preprocessing(model):
    card = model.card
    assert card.architecture == "EfficientNet-Lite0" and card.input_size == (224, 224) and len(card.classes) == 1000
    assert card.num_params == sum(p.numel() for p in lite0.architecture().parameters()) == 4_652_008
    assert card.accuracy == pytest.approx(0.751) and "tensorflow/tpu" in card.accuracy_note
    assert "Apache-2.0" in card.description and lite0.WEIGHTS_PACKAGE in card.description
    assert model.mean == model.std == (0.5, 0.5, 0.5)
    assert (model.framing.resize, model.framing.crop) == (256, (224, 224))
    white = model.preprocess(Image.new("RGB", (300, 200), "white"))
    assert white.shape == (1, 3, 224, 224) and torch.allclose(white, torch.ones_like(white))  # [0, 1] -> [-1, 1]
    assert registry.weights_cached(lite0.LITE0) and registry.get_spec(lite0.LITE0).for_photos


def test_a_file_that_is_not_the_published_one_is_refused(tmp_path):
    changed = tmp_path / lite0.WEIGHTS_FILE
    shutil.copy(lite0.weights_path(), changed)
    with changed.open("r+b") as handle:
        handle.seek(-100, 2)
        handle.write(b"\0" * 8)
    with pytest.raises(lite0.WeightsPackageMissingError, match="checksum"):
        lite0.load_lite0(changed)


def test_tensors_that_do_not_fit_are_refused():
    target = lite0.architecture().state_dict()
    source = dict(zip([f"k{i}" for i in range(len(target))], target.values(), strict=True))
    assert list(lite0.timm_state_dict(source, target)) == list(target)
    first = next(iter(source))
    with pytest.raises(ValueError, match="does not fit"):
        lite0.timm_state_dict({**source, first: torch.zeros(2, 2)}, target)
    with pytest.raises(ValueError, match="tensors in the file"):
        lite0.timm_state_dict(dict(list(source.items())[:-1]), target)


@pytest.mark.parametrize(("name", "wanted"), [("photo: cat", CATS), ("photo: coffee", {"espresso", "cup"})])
def test_the_shipped_photos_are_named_sensibly(model, name, wanted):
    prediction = predict(model, load_sample(name))
    top = prediction.classes[:3] if name == "photo: cat" else prediction.classes[:1]
    assert wanted & set(top), prediction.classes[:5]


def test_grad_cam_peaks_on_a_cat_pasted_at_a_known_place(model):
    """Chelsea's face (a crop of the shipped photo) pasted into the lower right quarter of a plain background:
    Grad-CAM for the cat class the model names peaks inside the pasted square."""
    cat = load_sample("photo: cat")
    face = cat.crop((120, 40, 330, 250)).resize((112, 112))
    scene = Image.new("RGB", (224, 224), (128, 128, 128))
    box = (100, 100, 212, 212)
    scene.paste(face, box[:2])
    x = model.preprocess(scene)
    prediction = predict(model, scene)
    named = next(c for c in prediction.classes[:5] if c in CATS)
    heat = explain(model.module, x, model.classes.index(named), "Grad-CAM", "bn2").heatmap.numpy()
    row, col = np.unravel_index(int(heat.argmax()), heat.shape)
    assert box[1] <= row < box[3] and box[0] <= col < box[2], (row, col)
    pasted = np.zeros(heat.shape, dtype=bool)
    pasted[box[1] : box[3], box[0] : box[2]] = True
    assert heat[pasted].mean() > 2 * heat[~pasted].mean()


@pytest.mark.parametrize("method", [m for m in METHODS if m != "Score-CAM"])
def test_every_method_runs_on_it_and_leaves_the_shared_model_as_found(model, method):
    module = model.module
    before = {k: v.clone() for k, v in module.state_dict().items()}
    x = model.preprocess(load_sample("photo: coffee"))
    out = explain(module, x, 967, method, "bn2")  # 967: espresso
    assert out.heatmap.shape == (224, 224) and float(out.heatmap.max()) > 0
    assert hook_count(module) == 0 and not module.training
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())
    assert not any(p.requires_grad or p.grad is not None for p in module.parameters())


def test_score_cam_runs_on_a_private_copy(model):
    module = model.module
    x = model.preprocess(load_sample("photo: coffee"))
    out = explain(module, x, 967, "Score-CAM", "blocks.5")  # 192 channels: a few seconds
    assert out.heatmap.shape == (224, 224) and float(out.heatmap.max()) > 0
    assert hook_count(module) == 0 and not module.training


@pytest.mark.parametrize("layer", ["conv_stem", "blocks.1.0.conv_dw", "blocks.2.0.conv_dw", "blocks.2.1.conv_pwl"])
def test_receptive_fields_agree_with_gradients_through_same_padding_and_depthwise_convs(layer):
    """TensorFlow's 'same' padding (F.pad before the conv, more on the right than the left) and depthwise convs."""
    torch.manual_seed(0)
    network = lite0.architecture().eval()
    size = 160
    row = {r.name: r for r in summarize(network, (size, size)).layers}[layer]
    assert_field_is_the_gradients_support(_linearised(network), layer, size, row.field)
