"""Streamlit AppTest for the Learn page: every step renders, from a link and step after step, and the numbers
it shows equal PyTorch's, SciPy's and scikit-image's, computed here independently."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi
from skimage.feature import corner_harris, corner_peaks
from skimage.metrics import peak_signal_noise_ratio
from torch import nn

from cnnviz.arithmetic.kernels import KERNELS, grayscale, grayscale_crop
from cnnviz.data.images import fit_within
from cnnviz.data.samples import load_sample
from cnnviz.explain.predict import predict
from cnnviz.learn.classic import add_noise, gaussian_kernel
from cnnviz.learn.lessons import LESSONS
from cnnviz.models import registry
from cnnviz.ui.uploads import MAX_SIDE
from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, open_link, start  # noqa: F401
from tests.reference import hook_count

PAGE = "pages/learn.py"
DEFAULT_SAMPLE = "synthetic: checkerboard"  # the sidebar's default image


def sample(name: str = DEFAULT_SAMPLE):
    return fit_within(load_sample(name), MAX_SIDE)  # as the sidebar serves it


def texts(at) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [w.value for w in at.warning])


def heading(at) -> str:
    return at.header[0].value


def test_next_and_back_walk_every_step():
    at = start(PAGE)
    assert at.segmented_control(key="lesson").value == 1 and at.button(key="lesson_back").disabled
    for lesson in LESSONS:
        assert heading(at) == f"{lesson.number}. {lesson.title}"
        assert lesson.text in texts(at)
        if lesson.number < len(LESSONS):
            at.button(key="lesson_next").click().run()
            assert_no_exception(at)
    assert at.button(key="lesson_next").disabled
    for number in range(len(LESSONS) - 1, 0, -1):
        at.button(key="lesson_back").click().run()
        assert_no_exception(at)
        assert heading(at).startswith(f"{number}. ")


@pytest.mark.slow
@pytest.mark.parametrize("number", range(1, 11))
def test_every_step_opens_from_its_link(number):
    at = start(PAGE, {"lesson": str(number)})
    assert heading(at) == f"{number}. {LESSONS[number - 1].title}"
    assert not at.error


def test_step_1_sums_what_pytorch_computes():
    at = start(PAGE, {"lesson": "1", "kernel1": "sobel y", "row1": "3", "col1": "1"})
    x = grayscale_crop(sample(), (8, 8))
    expected = F.conv2d(torch.tensor(x)[None, None], torch.tensor(KERNELS["sobel y"])[None, None])[0, 0, 3, 1]
    line = next(m.value for m in at.markdown if m.value.startswith("#### output (3, 1) = "))
    assert float(line.rsplit("= ", 1)[1]) == pytest.approx(float(expected))
    assert len(line.split(" = ")[1].split(" + ")) == 9  # nine products written out


def test_step_2_psnr_before_and_after_the_blur_equal_scikit_image():
    at = start(PAGE, {"lesson": "2", "noise": "0.2", "sigma": "1.5"})
    gray = grayscale(sample(), 160)
    noisy = add_noise(gray, 0.2, seed=0)
    blurred = ndi.gaussian_filter(noisy, 1.5, mode="mirror")
    before, after = (peak_signal_noise_ratio(gray, image, data_range=1.0) for image in (noisy, blurred))
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["PSNR of the noisy image"] == f"{before:.1f} dB"
    assert metrics["PSNR after the blur"] == f"{after:.1f} dB" and after > before
    at.radio(key="blur").set_value("box").run()
    at.select_slider(key="box").set_value(5).run()
    boxed = ndi.uniform_filter(noisy, 5, mode="mirror")
    expected = peak_signal_noise_ratio(gray, boxed, data_range=1.0)
    assert {m.label: m.value for m in at.metric}["PSNR after the blur"] == f"{expected:.1f} dB"


def corner_count(image_name: str, window: float, k: float, threshold: float, spacing: int) -> int:
    gray = grayscale(sample(image_name), 160)
    reach = len(gaussian_kernel(window)) + 2
    response = corner_harris(np.pad(gray, reach, mode="reflect"), method="k", k=k, sigma=window)
    return len(corner_peaks(response[reach:-reach, reach:-reach], min_distance=spacing, threshold_rel=threshold))


def test_a_teachers_link_opens_step_3_with_its_settings_and_scikit_images_corners():
    at = start(PAGE, {"lesson": "3", "window": "2", "hk": "0.1", "thresh": "0.01", "spacing": "5"})
    assert at.select_slider(key="window").value == 2 and at.select_slider(key="hk").value == 0.1
    assert at.slider(key="spacing").value == 5
    found = int(re.search(r"\*\*(\d+) corners\*\*", texts(at)).group(1))
    assert found == corner_count(DEFAULT_SAMPLE, 2, 0.1, 0.01, 5) > 0
    at.sidebar.selectbox(key="sample_name").set_value("synthetic: star").run()  # another image, same settings
    found = int(re.search(r"\*\*(\d+) corners\*\*", texts(at)).group(1))
    assert found == corner_count("synthetic: star", 2, 0.1, 0.01, 5) > 0


def test_step_4_matches_each_learned_filter():
    at = start(PAGE, {"lesson": "4", "filt": "5"})
    text = texts(at)
    assert "Learned filter 5" in text and re.search(r"correlation \*\*[+-]\d\.\d\d\*\*", text)
    assert re.search(r"feature maps correlate at \*\*[+-]\d\.\d\d\*\*", text)
    assert len(at.dataframe[0].value) == 16


@pytest.mark.parametrize(
    ("query", "preset"),
    [
        (
            {"op5": "Transposed convolution", "i5": "3", "s5": "2", "p5": "1", "a5": "1"},
            "Padding, strides (odd), transposed",
        ),
        ({"op5": "Convolution", "i5": "7", "d5": "2"}, "Dilation"),
        ({"op5": "Max pooling", "i5": "9", "k5": "2", "s5": "2", "p5": "1"}, None),
    ],
)
def test_step_5_output_size_equals_pytorch_and_links_the_right_preset(query, preset):
    at = start(PAGE, {"lesson": "5", **query})
    op, i = query["op5"], int(query["i5"])
    k, s, p = int(query.get("k5", 3)), int(query.get("s5", 1)), int(query.get("p5", 0))
    d, a = int(query.get("d5", 1)), int(query.get("a5", 0))
    layer = {
        "Convolution": nn.Conv2d(1, 1, k, s, p, d),
        "Transposed convolution": nn.ConvTranspose2d(1, 1, k, s, p, a, dilation=d),
        "Max pooling": nn.MaxPool2d(k, s, p, d),
    }[op]
    out = layer(torch.zeros(1, 1, i, i)).shape[-1]
    assert f"### Output size: {out} × {out}" in texts(at)
    link = at.get("page_link")[0].proto
    params = dict(parse_qsl(link.query_string))
    assert link.page == "arithmetic" and params["preset"] == (preset or "custom")
    target = open_link("pages/arithmetic.py", params)
    assert_no_exception(target)  # the link opens the arithmetic page on the same case
    shown = next(m.value for m in target.markdown if m.value.startswith("**Output size:"))
    assert shown == f"**Output size: {out} × {out}**"
    if preset:
        assert target.selectbox(key="preset").format_func(target.selectbox(key="preset").value) == preset


def test_step_6_counts_parameters_as_pytorch_modules_do():
    at = start(PAGE, {"lesson": "6", "side6": "16", "cin6": "3", "cout6": "8", "k6": "5"})
    metrics = {m.label: m.value for m in at.metric}
    conv, dense = nn.Conv2d(3, 8, 5, padding=2), nn.Linear(3 * 16 * 16, 8 * 16 * 16)
    assert metrics["Conv parameters"] == f"{sum(p.numel() for p in conv.parameters()):,}"
    assert metrics["Dense parameters"] == f"{sum(p.numel() for p in dense.parameters()):,}"
    assert metrics["Conv inputs per output"] == "75" and metrics["Dense inputs per output"] == "768"


def test_step_7_softmax_equals_the_prediction():
    at = start(PAGE, {"lesson": "7"})
    stages, softmax = at.dataframe[0].value, at.dataframe[1].value
    assert list(stages["layer"])[-2:] == ["flatten", "fc"] and stages["output"].iloc[0] == "16×64×64"
    prediction = predict(registry.load_model("tinyvgg"), sample())
    assert list(softmax["class"]) == list(prediction.classes)
    assert list(softmax["probability"]) == [f"{p:.1%}" for p in prediction.probabilities]
    assert len(at.main.image) == 12  # four channels for each of three blocks


def test_step_8_and_9_leave_the_shared_model_as_found():
    at = start(PAGE, {"lesson": "8", "p8": "0.25", "ch8": "3"})
    assert "**Dropout p = 0.25** on relu_1_1 channel 3" in texts(at)
    at.segmented_control(key="lesson").set_value(9).run()
    assert_no_exception(at)
    assert "Grad-CAM at `features.relu_3_2`" in texts(at)
    model = registry.load_model("tinyvgg")  # the registry's cache: the same object the page used
    assert hook_count(model.module) == 0 and not model.module.training
    assert all(not p.requires_grad and p.grad is None for p in model.module.parameters())


def test_step_10_says_when_the_decoder_misses_the_size():
    at = start(PAGE, {"lesson": "10", "side10": "100", "depth10": "3"})
    assert any("ends at 104×104, not 100×100" in w.value for w in at.warning)
    at.select_slider(key="side10").set_value(128).run()
    assert not at.warning and "back to 128×128" in texts(at)


def test_bad_links_fall_back_with_a_notice():
    at = open_link(PAGE, {"lesson": "11", "window": "2.5", "spacing": "-1"})
    assert_no_exception(at)
    notice = next(w.value for w in at.warning if w.value.startswith("Some settings in this link"))
    assert all(f"`{key}" in notice for key in ("lesson", "window", "spacing"))
    assert heading(at).startswith("1. ")
