"""cnnviz.network.maximize: the optimised image really excites the channel; the shared model is untouched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cnnviz.data.shapes import generate
from cnnviz.models.registry import load_model
from cnnviz.network.maximize import channel_means, maximize_channel, top_images
from cnnviz.training.tensors import to_tensor
from tests.reference import hook_count


@pytest.fixture(scope="module")
def tiny():
    return load_model("tinyvgg")


# With 128 steps the optimised image beats the best of these 200 images for 84 of the 96 channels of the
# three layers (15/16, 21/32, 48/48 for the shipped model); the others are sparse detectors whose mean over
# the whole map is hard to raise. One channel per layer, among those where it does.
@pytest.mark.parametrize(
    ("layer", "channel"), [("features.conv_1_2", 7), ("features.conv_2_2", 0), ("features.conv_3_2", 5)]
)
def test_optimised_image_beats_every_dataset_image(tiny, layer, channel):
    before = {k: v.clone() for k, v in tiny.module.state_dict().items()}
    calls = []
    image = maximize_channel(
        tiny.module,
        layer,
        channel,
        (64, 64),
        tiny.mean,
        tiny.std,
        steps=128,
        progress=lambda i, n: calls.append((i, n)),
    )
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    assert calls[-1] == (128, 128) and len(calls) == 128
    x = to_tensor(image[None], tiny.mean, tiny.std)
    optimised = channel_means(tiny.module, x, layer)[0, channel]
    data = generate(200, 77)
    dataset = channel_means(tiny.module, to_tensor(data.images, tiny.mean, tiny.std), layer)[:, channel]
    assert optimised > dataset.max()
    assert hook_count(tiny.module) == 0 and not tiny.module.training
    assert all(torch.equal(before[k], v) for k, v in tiny.module.state_dict().items())
    assert not any(p.requires_grad or p.grad is not None for p in tiny.module.parameters())


def test_bad_requests(tiny):
    with pytest.raises(KeyError):
        maximize_channel(tiny.module, "features.nope", 0, (64, 64), tiny.mean, tiny.std, steps=2)
    with pytest.raises(ValueError, match="channels"):
        maximize_channel(tiny.module, "features.conv_1_1", 99, (64, 64), tiny.mean, tiny.std, steps=2)
    assert hook_count(tiny.module) == 0


def test_top_images_orders_by_score():
    scores = torch.tensor([[0.1, 5.0], [0.9, 1.0], [0.5, 3.0]])
    assert top_images(scores, 0, 2) == [(1, pytest.approx(0.9)), (2, pytest.approx(0.5))]
    assert [i for i, _ in top_images(scores, 1, 5)] == [0, 2, 1]


def test_channel_means_match_a_direct_computation(tiny):
    data = generate(30, 5)
    x = to_tensor(data.images, tiny.mean, tiny.std)
    got = channel_means(tiny.module, x, "features.relu_2_1", batch_size=7)
    with torch.no_grad():
        direct = tiny.module.features[:7](x).mean((2, 3))
    torch.testing.assert_close(got, direct)
