"""cnnviz.links: which URL parameters a page can use, and why the others are ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnnviz.links import MAX_PARAMS, PAGE_PARAMS, check_query
from cnnviz.ui.navigation import PAGES
from tests.conftest import ROOT

PAGE_NAMES = [Path(page.path).stem for page in PAGES]
"""Every page app.py navigates to, by its script's name (a page added is checked here without being listed)."""


@pytest.mark.parametrize(
    ("page", "key", "value", "problem"),
    [
        ("arithmetic", "seed", "1e400", "must be a whole number from 0 to 1000000"),
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
        ("explain", "k", "21", "must be from 1 to 20"),
    ],
)
def test_invalid_values_are_named_with_the_reason(page, key, value, problem):
    kept, notices = check_query(page, {key: [value]})
    assert kept == {} and len(notices) == 1
    assert notices[0].startswith(f"`{key}=") and problem in notices[0]


@pytest.mark.parametrize(
    ("page", "query"),
    [
        (
            "arithmetic",
            {
                "op": "Transposed convolution",
                "i": "7",
                "iw": "32",
                "sq": "false",
                "speed": "8.0",
                "preset": "Padding, strides (odd)",
                "kernel": "custom 3×3",
                "view": "Sliding window",
            },
        ),
        (
            "network",
            {
                "tab": "What a channel likes",
                "max_layer": "layer4.1.conv2",
                "max_channel": "511",
                "max_steps": "256",
                "cmap": "cividis",
            },
        ),
        ("explain", {"method": "Grad-CAM++", "k": "1", "xtab": "Faithfulness", "embed": "true"}),
    ],
)
def test_valid_links_are_kept_whole(page, query):
    kept, notices = check_query(page, {k: [v] for k, v in query.items()})
    assert notices == [] and kept == {k: v for k, v in query.items() if k != "embed"}


def test_length_count_repeats_and_unknown_keys():
    kept, notices = check_query("arithmetic", {"i": ["x" * 20_000], "seed": ["1", "2"], "zzz": ["1"], "tab": ["x"]})
    assert kept == {}
    assert notices == [
        "`i` is 20000 characters long.",
        "`seed` is given 2 times.",
        "`zzz` is not a setting of this page.",
    ]
    many = {f"p{n}": ["1"] for n in range(MAX_PARAMS + 1)}
    assert check_query("arithmetic", many) == (
        {},
        [f"The link has {MAX_PARAMS + 1} settings, more than any page uses; all were ignored."],
    )


def test_every_page_is_described():
    """Each page app.py navigates to (by its URL path; Home is "") has its parameters listed, and no other."""
    assert "navigation_pages()" in (ROOT / "app.py").read_text()
    assert len(PAGES) >= 7 and all((ROOT / page.path).is_file() for page in PAGES)
    assert set(PAGE_PARAMS) == {"" if name == "home" else name for name in PAGE_NAMES}


def _bound_keys(path: Path) -> set[str]:
    """The keys of the controls ``path`` keeps in its URL: widgets given ``bind=URL``, and cnnviz.ui.controls' helpers
    (which bind theirs), with their keys as written (a key made at run time is left out)."""
    import ast

    return _keys_bound_in(ast.parse(path.read_text()))


HELPERS = {
    "bound": (1, None),
    "bounded_slider": (2, None),
    "seed_control": (1, "seed"),
    "speed_control": (2, "speed"),
    "step_controls": (2, "step"),
    "control": (1, None),  # pages/learn.py's, over a lesson's declared settings
}
"""Functions (called by name) that bind the key in their argument at this position (or this key)."""


def _keys_bound_in(tree) -> set[str]:
    import ast

    helpers = HELPERS
    keys = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        named = {k.arg: k.value for k in node.keywords}
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if isinstance(named.get("bind"), ast.Name) and named["bind"].id == "URL":
            key = named.get("key")
        elif name in helpers:
            position, default = helpers[name]
            key = named.get("key", node.args[position] if len(node.args) > position else ast.Constant(default))
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            keys.add(key.value)
    return keys


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_every_control_a_page_keeps_in_its_link_is_a_setting_the_link_check_knows(page):
    """Else the page's own link warns "… is not a setting of this page" (Feature maps' map_count did)."""
    declared = PAGE_PARAMS["" if page == "home" else page]
    missing = _bound_keys(ROOT / "pages" / f"{page}.py") - set(declared)
    assert not missing, f"pages/{page}.py keeps {sorted(missing)} in its URL; links.PAGE_PARAMS lacks them"


def test_the_bound_keys_are_found():
    arithmetic = {"op", "preset", "sq", "cin", "cout", "seed", "step", "speed"}
    assert _bound_keys(ROOT / "pages" / "arithmetic.py") >= arithmetic
    assert _bound_keys(ROOT / "pages" / "network.py") >= {"tab", "map_layer", "map_count", "filter_index"}


def test_each_lesson_has_one_figure_that_keeps_only_its_own_settings_in_the_link():
    """A Learn step's figure is the page function registered with ``@figure(key)`` of its lesson; the keys it binds
    are the ones its lesson declares (so a step added without its settings fails here)."""
    import ast

    from cnnviz.learn.lessons import LESSONS

    figures = {}
    for node in ast.parse((ROOT / "pages" / "learn.py").read_text()).body:
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "figure":
                    assert decorator.args[0].value not in figures, decorator.args[0].value
                    figures[decorator.args[0].value] = node
    assert set(figures) == {lesson.key for lesson in LESSONS}
    for lesson in LESSONS:
        bound = _keys_bound_in(figures[lesson.key])
        assert bound == set(lesson.settings), (lesson.key, sorted(bound ^ set(lesson.settings)))
    assert _keys_bound_in(figures["arithmetic"]) >= {"op5", "i5", "p5"}  # the walk sees the helpers' keys


def test_every_control_kept_in_a_link_is_made_from_its_declaration():
    """No page (nor any helper but cnnviz.ui.controls.bound) makes a URL-bound widget of its own: its label, range,
    choices and default would then be written a second time beside the declaration the link check reads."""
    import ast

    makers = []
    for path in [*(ROOT / "pages").glob("*.py"), ROOT / "app.py", *(ROOT / "cnnviz").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and any(k.arg == "bind" for k in node.keywords):
                makers.append(path.relative_to(ROOT).as_posix())
    assert set(makers) == {"cnnviz/ui/controls.py"}
