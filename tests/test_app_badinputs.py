"""Issue 6's bad-input corpus through every page that takes an image (AppTest): each file is handled or
refused with a clear message naming it, no exception reaches the page, and the next valid upload works."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.data.images import ImageError, fit_within, load_image
from cnnviz.models.tinyvgg import TINYVGG
from cnnviz.ui.uploads import MAX_SIDE
from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, player_data, shown, start  # noqa: F401
from tests.badinputs import Case, corpus, valid_upload


def captions(at: AppTest) -> list[str]:
    return [shown(i.proto.imgs[0].caption) for i in at.main.image]


def home_works(at: AppTest) -> bool:
    return bool(at.get("plotly_chart")) and any(m.value.startswith("**Prediction:") for m in at.markdown)


def arithmetic_works(at: AppTest) -> bool:
    # Values from the image crop (vals=image), in the step player of the Animation tab.
    return player_data(at)["steps"][0]["caption"].startswith("output (0, 0)")


def playground_works(at: AppTest) -> bool:
    # The kernel playground's feature map of the whole image (its tab computes only while open).
    return any(c.startswith("Feature map ") for c in captions(at))


def network_works(at: AppTest) -> bool:
    return any(c.startswith("features.conv_1_1: 16 channels of 64×64") for c in captions(at))


def explain_works(at: AppTest) -> bool:
    return any(c.startswith("Grad-CAM for ") for c in captions(at))


def learn_works(at: AppTest) -> bool:
    return any(re.fullmatch(r"\*\*\d+ corners\*\* .*", m.value) for m in at.markdown) and bool(at.main.image)


PAGES: dict[str, tuple[str | None, dict[str, str], Callable[[AppTest], bool]]] = {
    "home": (None, {}, home_works),
    "arithmetic": ("pages/arithmetic.py", {"vals": "image"}, arithmetic_works),
    "kernel playground": ("pages/arithmetic.py", {"atab": "Kernel playground"}, playground_works),
    "network": ("pages/network.py", {"tab": "Feature maps"}, network_works),
    "explain": ("pages/explain.py", {}, explain_works),
    "learn": ("pages/learn.py", {"lesson": "3"}, learn_works),
}


def upload(at: AppTest, case: Case) -> None:
    at.file_uploader(key="upload").upload(case.name, case.data, case.mime).run()
    assert_no_exception(at)


@pytest.mark.parametrize("case", corpus(), ids=lambda c: c.name)
def test_each_case_decodes_or_is_refused(case):
    if case.size is None:
        with pytest.raises(ImageError):
            load_image(case.data)
    else:
        assert fit_within(load_image(case.data), MAX_SIDE).size == case.size


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.slow
def test_bad_input_corpus(page):
    path, query, works = PAGES[page]
    at = start(path, query)
    at.sidebar.radio(key="image_source").set_value("Upload").run()
    at.sidebar.selectbox(key="model_key").set_value(TINYVGG).run()  # an upload would get the photo model: fast
    assert_no_exception(at)
    good = valid_upload()
    for case in corpus():
        upload(at, case)
        errors = [shown(e.value) for e in at.sidebar.error]
        if case.size is None:
            assert len(errors) == 1 and errors[0].startswith(f"{case.name}: "), (case.name, errors)
            assert "Traceback" not in errors[0]
            if case.name.endswith(".heic"):
                assert "export the photo as JPEG" in errors[0]
        else:
            assert not errors, (case.name, errors)
            assert at.sidebar.image, case.name  # the decoded image is shown
        upload(at, good)
        assert not at.sidebar.error, case.name
        assert works(at), f"{page} after {case.name}"
