"""cnnviz.explain.predict and cnnviz.explain.charts on the embedded model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from cnnviz.data.samples import list_samples, load_sample
from cnnviz.explain.charts import probability_bars
from cnnviz.explain.predict import predict
from cnnviz.models import registry


@pytest.fixture(scope="module")
def model():
    return registry.load_model("tinyvgg")


def test_probabilities_equal_a_manual_softmax(model):
    image = load_sample("synthetic: star")
    prediction = predict(model, image)
    with torch.no_grad():
        logits = model.module(model.preprocess(image))[0].double()
    reference = torch.exp(logits - logits.max())
    reference = (reference / reference.sum()).numpy()
    order = np.argsort(-reference)
    assert prediction.classes == tuple(model.classes[i] for i in order)
    np.testing.assert_allclose(prediction.probabilities, reference[order], rtol=1e-6)
    assert prediction.probabilities.sum() == pytest.approx(1.0)
    assert list(prediction.probabilities) == sorted(prediction.probabilities, reverse=True)


def test_top_k(model):
    """The top 3 are PyTorch's three largest softmax probabilities, with their classes, largest first."""
    image = load_sample("synthetic: ring")
    top = predict(model, image).top(3)
    with torch.no_grad():
        values, indices = torch.softmax(model.module(model.preprocess(image))[0].double(), 0).topk(3)
    assert top.classes == tuple(model.classes[i] for i in indices.tolist())
    np.testing.assert_allclose(top.probabilities, values.numpy(), rtol=1e-6)


@pytest.mark.parametrize("sample", [s for s in list_samples() if s.synthetic], ids=lambda s: s.path.stem)
def test_shipped_synthetic_samples_are_classified_correctly(model, sample):
    assert predict(model, load_sample(sample.name)).classes[0] == sample.path.stem


def test_probability_bars_put_the_most_likely_class_on_top(model):
    prediction = predict(model, load_sample("synthetic: cross")).top(4)
    bar = probability_bars(prediction).data[0]
    assert list(bar.y) == list(prediction.classes)[::-1]  # plotly draws the last category on top
    np.testing.assert_allclose(list(bar.x), prediction.probabilities[::-1])
    assert bar.orientation == "h"


def test_probability_axis_shows_its_100_percent_tick(model):
    axis = probability_bars(predict(model, Image.new("RGB", (64, 64)))).layout.xaxis
    assert 1 in axis.tickvals and axis.range[1] > 1  # the last tick lies inside the range, not on its edge
