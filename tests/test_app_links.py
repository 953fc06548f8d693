"""AppTest: no query string makes any page raise; invalid settings fall back to defaults with a notice."""

from __future__ import annotations

import random

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.links import PAGE_PARAMS
from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, open_link, open_tab  # noqa: F401 (fixtures)

PAGES = {
    "": None,
    "arithmetic": "pages/arithmetic.py",
    "network": "pages/network.py",
    "explain": "pages/explain.py",
    "playground": "pages/playground.py",
    "learn": "pages/learn.py",
    "transfer": "pages/transfer.py",
}
ALL_KEYS = sorted({key for params in PAGE_PARAMS.values() for key in params} | {"zzz", "embed", "op2"})


def notices(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning if w.value.startswith("Some settings in this link"))


@pytest.mark.parametrize(
    ("page", "query", "ignored"),
    [
        ("arithmetic", {"seed": "1e400"}, ["seed"]),
        ("network", {"max_channel": "1e400"}, ["max_channel"]),
        ("arithmetic", {"op": ""}, ["op"]),
        ("explain", {"method": "rm -rf", "k": "-3"}, ["method", "k"]),
        # 15,000 characters in every setting: the whole query stays under Streamlit's own limit of 512 Ki characters
        ("arithmetic", {key: "x" * 15_000 for key in PAGE_PARAMS["arithmetic"]}, list(PAGE_PARAMS["arithmetic"])),
    ],
)
def test_the_issues_links_fall_back_to_defaults_with_a_notice(page, query, ignored):
    at = open_link(PAGES[page], query)
    assert_no_exception(at)
    text = notices(at)
    assert all(f"`{key}" in text for key in ignored), text
    assert not any(key in at.query_params for key in ignored)  # the URL no longer carries them
    if page == "arithmetic":
        assert at.number_input(key="seed").value == 0 and at.segmented_control(key="op").value == "conv"


def test_a_valid_link_still_sets_the_controls():
    at = open_link(PAGES["arithmetic"], {"op": "Transposed convolution", "seed": "42", "i": "7"})
    assert_no_exception(at)
    assert not notices(at)
    assert at.segmented_control(key="op").value == "transposed" and at.number_input(key="seed").value == 42
    assert at.slider(key="i").value == 7


def test_the_network_pages_own_settings_are_kept_without_a_notice():
    """Feature maps puts map_count in the URL, and the filters tab filter_index: a copied link keeps them."""
    at = open_link(PAGES["network"], {"tab": "Feature maps", "map_count": "5", "filter_index": "2"})
    assert_no_exception(at)
    assert not notices(at)
    assert at.slider(key="map_count").value == 5
    assert open_tab(at, "tab", "Filters").slider(key="filter_index").value == 2 and not notices(at)


def _random_value(rng: random.Random, key: str) -> str:
    param = next((p[key] for p in PAGE_PARAMS.values() if key in p), None)
    valid = []
    if param is not None:
        valid = list(param.choices) or [str(param.low), str(param.high), "true", "false", "features.conv_1_1"]
    makers = [
        lambda: rng.choice(valid) if valid else "1",
        lambda: str(rng.randint(-(10**6), 10**6)),
        lambda: rng.choice(["1e400", "-1e400", "nan", "inf", "1e308"]),
        lambda: "",
        lambda: "x" * rng.choice([1, 99, 101, 5000]),
        lambda: f"{rng.uniform(-50, 50):.3f}",
        lambda: rng.choice(["True", "FALSE", "0", "None", "null", "[]", "{}"]),
        lambda: "9" * rng.randint(10, 400),
        lambda: rng.choice(["😀<script>alert(1)</script>", "%00", "../../etc/passwd", "a\nb", " 3 "]),
        lambda: rng.choice([c for p in PAGE_PARAMS.values() for q in p.values() for c in q.choices] or ["x"]),
    ]
    return rng.choice(makers)()


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.slow
def test_random_query_strings_never_raise(page):
    """A property test: 12 random query strings per page (seeded, so a failure can be replayed), each opened as
    a fresh link, mixing valid, boundary, huge, non-finite, empty, long, odd and other pages' values."""
    rng = random.Random(f"links-{page}")
    for _ in range(12):
        query = {key: _random_value(rng, key) for key in rng.sample(ALL_KEYS, rng.randint(1, 10))}
        at = open_link(PAGES[page], query)
        assert not at.exception, (query, [e.value for e in at.exception])
