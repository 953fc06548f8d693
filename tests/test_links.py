"""cnnviz.server.links: which URL parameters a page can use, and why the others are ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnviz.server.links import MAX_PARAMS, PAGE_PARAMS, check_query
from tests.conftest import ROOT


@pytest.mark.parametrize(
    ("page", "key", "value", "problem"),
    [("arithmetic", "seed", "1e400", "must be a whole number from 0 to 1000000"),
     ("arithmetic", "seed", "1000001", "must be from 0 to 1000000"),
     ("arithmetic", "i", "0", "must be from 1 to 32"),
     ("arithmetic", "i", "3.5", "must be a whole number"),
     ("arithmetic", "op", "", "is not one of the choices offered"),
     ("arithmetic", "op", "conv", "is not one of the choices offered"),  # the URL holds the label
     ("arithmetic", "sq", "yes", "must be true or false"),
     ("arithmetic", "speed", "3", "must be one of 0.5, 1, 2, 4, 8"),
     ("arithmetic", "speed", "nan", "must be one of"),
     ("network", "max_channel", "1e400", "must be a whole number"),
     ("network", "max_channel", "-1", "must be from 0 to 100000"),
     ("network", "map_layer", "<script>", "is not a layer name"),
     ("explain", "k", "21", "must be from 1 to 20")],
)  # fmt: skip
def test_invalid_values_are_named_with_the_reason(page, key, value, problem):
    kept, notices = check_query(page, {key: [value]})
    assert kept == {} and len(notices) == 1
    assert notices[0].startswith(f"`{key}=") and problem in notices[0]


@pytest.mark.parametrize(
    ("page", "query"),
    [("arithmetic", {"op": "Transposed convolution", "i": "7", "iw": "32", "sq": "false", "speed": "8.0",
                     "preset": "Padding, strides (odd)", "kernel": "custom 3×3", "view": "Sliding window"}),
     ("network", {"tab": "What a channel likes", "max_layer": "layer4.1.conv2", "max_channel": "511",
                  "max_steps": "256", "cmap": "cividis"}),
     ("explain", {"method": "Grad-CAM++", "k": "1", "xtab": "Faithfulness", "embed": "true"})],
)  # fmt: skip
def test_valid_links_are_kept_whole(page, query):
    kept, notices = check_query(page, {k: [v] for k, v in query.items()})
    assert notices == [] and kept == {k: v for k, v in query.items() if k != "embed"}


def test_length_count_repeats_and_unknown_keys():
    kept, notices = check_query("arithmetic", {"i": ["x" * 20_000], "seed": ["1", "2"], "zzz": ["1"], "tab": ["x"]})
    assert kept == {}
    assert notices == ["`i` is 20000 characters long.", "`seed` is given 2 times.",
                       "`zzz` is not a setting of this page."]  # fmt: skip
    many = {f"p{n}": ["1"] for n in range(MAX_PARAMS + 1)}
    assert check_query("arithmetic", many) == ({}, [f"The link has {MAX_PARAMS + 1} settings, more than any page "
                                                    "uses; all were ignored."])  # fmt: skip


def test_every_page_is_described():
    """Each page app.py navigates to (by its URL path; Home is "") has its parameters listed, and no other."""
    from cnnviz.ui.navigation import PAGES

    assert "navigation_pages()" in (ROOT / "app.py").read_text()
    pages = [Path(page.path).stem for page in PAGES]
    assert len(pages) == 7 and all((ROOT / page.path).is_file() for page in PAGES)
    assert set(PAGE_PARAMS) == {"" if name == "home" else name for name in pages}
