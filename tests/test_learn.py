"""The Learn section's library parts against PyTorch, SciPy, scikit-image and values worked out by hand:
lesson texts, mirrored filters, forward-pass stages, batch norm and dropout, encoder–decoder sizes, receptive
fields, pictures and the arithmetic page's deep links."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi
from skimage.feature import corner_harris
from torch import nn

from cnnviz.arithmetic import geometry as ar
from cnnviz.data.shapes import generate
from cnnviz.learn import charts, classic, pictures
from cnnviz.learn.beyond import encoder_decoder, encoder_decoder_sizes
from cnnviz.learn.designed import designed_kernels, designed_map
from cnnviz.learn.lessons import LESSONS
from cnnviz.learn.stages import forward_pass, leaf_layers
from cnnviz.learn.training_aids import batch_normalised, dropout
from cnnviz.learn.why_convolutions import field_growth
from cnnviz.links import PAGE_PARAMS, arithmetic_query, check_query, preset_query
from cnnviz.models import registry
from cnnviz.network.architecture import summarize
from cnnviz.training.tensors import to_tensor
from tests.reference import hook_count


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", text.strip()) if s]


def test_ten_lessons_in_order_each_two_to_five_sentences():
    assert [lesson.number for lesson in LESSONS] == list(range(1, 11))
    for lesson in LESSONS:
        count = len(sentences(lesson.text))
        assert 2 <= count <= 5, (lesson.number, count)
        assert lesson.text.count("$") % 2 == 0, lesson.number  # LaTeX opened is closed


def test_box_blur_equals_scipy_and_noise_is_seeded_and_clipped():
    image = np.random.default_rng(1).random((20, 30))
    for size in (1, 3, 5):
        np.testing.assert_allclose(
            classic.box_blur(image, size), ndi.uniform_filter(image, size, mode="constant"), atol=1e-12
        )
    with pytest.raises(ValueError, match="odd"):
        classic.box_blur(image, 4)
    noisy = classic.add_noise(image, 0.2, seed=5)
    assert np.array_equal(noisy, classic.add_noise(image, 0.2, seed=5))
    assert not np.array_equal(noisy, classic.add_noise(image, 0.2, seed=6))
    assert noisy.min() >= 0 and noisy.max() <= 1 and np.abs(noisy - image).std() > 0.1
    assert np.array_equal(classic.add_noise(image, 0.0), image)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_mirrored_filters_equal_scipy_mirror_mode(sigma):
    image = np.random.default_rng(2).random((40, 50))
    reach = len(classic.gaussian_kernel(sigma))
    np.testing.assert_allclose(
        classic.mirrored(lambda a: classic.gaussian_blur(a, sigma), image, reach),
        ndi.gaussian_filter(image, sigma, mode="mirror"),
        atol=1e-12,
    )
    for axis in (0, 1):
        np.testing.assert_allclose(
            classic.mirrored(lambda a, axis=axis: classic.sobel(a, axis), image, 2),
            ndi.sobel(image, axis=axis, mode="mirror"),
            atol=1e-12,
        )
    padded = np.pad(image, reach + 2, mode="reflect")
    expected = corner_harris(padded, method="k", k=0.05, sigma=sigma)[reach + 2 : -reach - 2, reach + 2 : -reach - 2]
    got = classic.mirrored(lambda a: classic.harris_response(a, sigma, 0.05), image, reach + 2)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    tensor = classic.mirrored(lambda a: classic.structure_tensor(a, sigma), image, reach + 2)  # the page's path
    assert isinstance(tensor, tuple) and len(tensor) == 3
    np.testing.assert_allclose(classic.harris_of(*tensor, 0.05), expected, atol=1e-6)
    d_row, d_col = classic.mirrored(lambda a: (classic.sobel(a, 0), classic.sobel(a, 1)), image, 2)
    rows, cols = ndi.sobel(image, 0, mode="mirror"), ndi.sobel(image, 1, mode="mirror")
    magnitude, orientation = classic.gradient_of(d_row, d_col)
    np.testing.assert_allclose(magnitude, np.hypot(rows, cols), atol=1e-12)
    np.testing.assert_allclose(orientation, np.arctan2(rows, cols), atol=1e-12)


def test_a_bright_frame_is_no_edge_once_mirrored():
    flat = np.full((12, 12), 0.8)
    assert np.abs(classic.sobel(flat, 1)).max() > 1  # zeros outside: the border is an edge
    assert np.abs(classic.mirrored(lambda a: classic.sobel(a, 1), flat, 2)).max() == 0


def test_designed_map_equals_scipy_correlate():
    image = np.random.default_rng(3).random((16, 16))
    for kernel in designed_kernels(5).values():
        np.testing.assert_allclose(
            designed_map(image, kernel), ndi.correlate(image, kernel, mode="constant"), atol=1e-12
        )


@pytest.fixture(scope="module")
def embedded():
    return registry.load_model("tinyvgg")


def test_forward_pass_stages_match_pytorch(embedded):
    model = embedded.module
    x = to_tensor(generate(1, seed=11).images, embedded.mean, embedded.std)
    result = forward_pass(model, x)
    names = [s.name for s in result.stages]
    assert names == leaf_layers(model) and names[-1] == "classifier.fc"
    with torch.no_grad():
        logits = model(x)[0]
        conv = model.features.conv_1_1(x)[0]
    torch.testing.assert_close(result.logits, logits)
    torch.testing.assert_close(result.probabilities, torch.softmax(logits.double(), 0))
    assert float(result.probabilities.sum()) == pytest.approx(1.0)
    first, relu, pool = result.stages[0], result.stages[1], result.stages[4]
    assert first.shape == (16, 64, 64) and first.minimum == pytest.approx(float(conv.min()))
    assert relu.zero_fraction == pytest.approx(float((conv <= 0).float().mean()))  # ReLU zeroes the negatives
    assert relu.minimum == 0 and pool.kind == "MaxPool2d" and pool.shape == (16, 32, 32)
    assert hook_count(model) == 0 and not model.training
    with pytest.raises(ValueError, match="one image"):
        forward_pass(model, torch.cat([x, x]))


def test_batch_norm_equals_pytorch_module_and_standardises(embedded):
    x = to_tensor(generate(8, seed=3).images, embedded.mean, embedded.std)
    with torch.no_grad():
        acts = embedded.module.features.conv_1_1(x)
        reference = nn.BatchNorm2d(16, affine=False).train()(acts)
    out = batch_normalised(acts)
    torch.testing.assert_close(out, reference)
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(16), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(dim=(0, 2, 3), unbiased=False), torch.ones(16), atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="at least 2"):
        batch_normalised(acts[:1])


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 0.75])
def test_dropout_equals_pytorch_and_leaves_the_random_state_alone(p):
    values = torch.rand(32, 32) + 0.1  # no zeros: kept values are exactly the non-zero outputs
    state = torch.random.get_rng_state()
    dropped = dropout(values, p, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(4)
    reference = nn.Dropout(p).train()(values)
    torch.testing.assert_close(dropped.train, reference)
    assert torch.equal(dropped.kept, reference != 0) and torch.equal(dropped.eval, values)
    torch.testing.assert_close(dropped.train[dropped.kept], values[dropped.kept] / (1 - p))
    assert dropped.kept_fraction == pytest.approx(1 - p, abs=0.06)
    with pytest.raises(ValueError):
        dropout(values, 1.0)


@pytest.mark.parametrize("side", [32, 64, 100, 127])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_encoder_decoder_sizes_equal_the_network_pytorch_runs(side, depth):
    stages = encoder_decoder_sizes(side, depth)
    net = encoder_decoder(depth)
    x = torch.zeros(1, 3, side, side)
    sizes = []
    with torch.no_grad():
        for layer in net:
            x = layer(x)
            if isinstance(layer, nn.Conv2d | nn.ConvTranspose2d):
                sizes.append(x.shape[-1])
    assert [s.size_out for s in stages] == sizes and x.shape[1] == 1
    assert [s.op for s in stages] == ["conv"] * depth + ["transposed"] * depth
    if side % 2**depth == 0:
        assert stages[-1].size_out == side and stages[depth - 1].size_out == side // 2**depth


def test_receptive_field_of_the_embedded_model_by_hand(embedded):
    growth = field_growth(summarize(embedded.module, embedded.input_size))
    # 3×3 convs add 2·jump, 2×2 pools add 1·jump and double the jump: jumps 1, 1 | 2, 2 | 4, 4
    assert [size for _, size in growth] == [3, 5, 6, 10, 14, 16, 24, 32, 36]
    assert [name.split(".")[-1] for name, _ in growth][:3] == ["conv_1_1", "conv_1_2", "max_pool_1"]


def test_arithmetic_query_is_a_valid_link_and_names_matching_presets():
    for preset in ar.PRESETS:
        query = preset_query(preset)
        assert query["preset"] == preset.title
        kept, notices = check_query("arithmetic", {key: [value] for key, value in query.items()})
        assert kept == query and notices == []
    custom = arithmetic_query("maxpool", 6, 2, 2)
    assert custom["preset"] == "custom" and "a" not in custom and custom["op"] == "Max pooling"
    assert "d" not in arithmetic_query("avgpool", 6, 2, 2)


def test_learn_links_cover_every_bound_control():
    params = PAGE_PARAMS["learn"]
    kept, notices = check_query("learn", {"lesson": ["3"], "window": ["2"], "hk": ["0.1"], "thresh": ["1e400"]})
    assert kept == {"lesson": "3", "window": "2", "hk": "0.1"} and len(notices) == 1
    assert {"lesson", "kernel1", "noise", "sigma", "window", "hk", "thresh", "spacing", "op5", "p8"} <= set(params)


def test_corners_are_ringed_where_they_are():
    gray = np.zeros((20, 20))
    picture = pictures.corners_picture(gray, np.array([[5, 10]]), width=200)
    scale = picture.width // 20
    x, y = int((10 + 0.5) * scale), int((5 + 0.5) * scale)
    rim = np.asarray(picture)[y - 15 : y + 16, x - 15 : x + 16].reshape(-1, 3)
    assert any(tuple(p) == pictures.CORNER_COLOUR for p in rim)
    assert tuple(np.asarray(picture)[y, x]) == (0, 0, 0)  # the ring, not a filled dot
    assert not (np.asarray(picture)[:, :50] == pictures.CORNER_COLOUR).all(axis=-1).any()


def test_orientation_colours_and_grid_lines():
    magnitude = np.ones((4, 4))
    right = pictures.orientation_picture(magnitude, np.zeros((4, 4)))  # brighter to the right: hue 0, red
    assert tuple(np.asarray(right)[0, 0]) == (255, 0, 0)
    down = np.asarray(pictures.orientation_picture(magnitude, np.full((4, 4), np.pi / 2)))[0, 0]  # a quarter turn
    assert down[0] > 100 and down[1] > 200 and down[2] < 10  # hue 90°: yellow-green
    assert tuple(np.asarray(pictures.orientation_picture(np.zeros((4, 4)), np.zeros((4, 4))))[0, 0]) == (0, 0, 0)
    grid = np.asarray(pictures.grid_picture(pictures.rgb_picture(np.zeros((80, 80, 3))), (8, 8)))
    assert tuple(grid[10, 5]) == (255, 255, 0) and tuple(grid[5, 5]) == (0, 0, 0)


def test_kernel_figures_write_every_value_at_a_readable_size():
    learned = np.array([[0.5, -1.0, 0.0], [1.25, 2.0, -0.3], [0.0, 0.0, 1.0]])
    figure = charts.kernels_figure([("learned", learned), ("designed", designed_kernels(3)["Sobel ∂x"])])
    assert figure.data[0].text[1][0] == "1.25" and figure.data[1].text[0][0] == "-1.00"
    assert all(trace.textfont.size >= 16 for trace in figure.data)
    assert all(annotation.font.size >= 16 for annotation in figure.layout.annotations)


@pytest.mark.parametrize("spacing", [1, 2, 4])
def test_corner_peaks_on_a_noisy_image_with_thousands_of_peaks_equal_scikit_image(spacing):
    from skimage.feature import corner_peaks

    noisy = classic.add_noise(np.full((160, 160), 0.5), 0.3, seed=1)  # the page's worst case: ~1800 corners
    response = classic.harris_response(noisy, 0.5, 0.04)
    ours = classic.corner_peaks(response, spacing, threshold_rel=0.001)
    theirs = corner_peaks(response, min_distance=spacing, threshold_rel=0.001)
    assert len(ours) > 200 and {tuple(p) for p in ours} == {tuple(p) for p in theirs}
