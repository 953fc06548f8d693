"""The library stays a plain library: only the cnnviz/ui/ helpers may import Streamlit; the tree reads by concept."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT

UI_HELPERS = ROOT / "cnnviz" / "ui"


def _imports(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_streamlit_import_outside_the_ui_helper():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "cnnviz").rglob("*.py")
        if UI_HELPERS not in path.parents and "streamlit" in _imports(path)
    ]
    assert offenders == []
    assert "streamlit" in _imports(UI_HELPERS / "selection.py")  # the helpers this test exempts really exist


LAYERS = (
    {"assets", "charts", "fonts", "overlay", "params", "progress", "text"},
    {"data"},
    {"models"},
    {"arithmetic"},
    {"explain", "network"},  # the network's units are animated by the arithmetic's step player
    {"server"},
    {"training"},
    {"learn", "transfer"},
    {"links"},
    {"classroom"},  # questions are made from a page's link parameters
    {"ui"},
)
"""The library's packages from the bottom up: a module may import its own package and the layers below it,
never one beside or above it (so no two packages import each other)."""


def _cnnviz_imports(path) -> set[str]:
    """The cnnviz packages (or top-level modules) ``path`` imports, at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] if node.module != "cnnviz" else [f"cnnviz.{a.name}" for a in node.names]
        names |= {m.split(".")[1] for m in modules if m.startswith("cnnviz.")}
    return names


def test_no_import_runs_back_up_the_layers():
    layer_of = {name: depth for depth, names in enumerate(LAYERS) for name in names}
    found = {p.stem if p.parent.name == "cnnviz" else p.parent.name for p in (ROOT / "cnnviz").rglob("*.py")}
    assert found - {"__init__"} == set(layer_of)  # a new package must be given its layer
    upward = []
    for path in sorted((ROOT / "cnnviz").rglob("*.py")):
        own = path.stem if path.parent.name == "cnnviz" else path.parent.name
        if own == "__init__":
            continue
        for name in _cnnviz_imports(path):
            if name != own and layer_of[name] >= layer_of[own]:
                upward.append(f"{path.relative_to(ROOT)} imports cnnviz.{name}")
    assert upward == []
    assert "models" in _cnnviz_imports(ROOT / "cnnviz" / "explain" / "cams.py")  # the walk sees real imports


@pytest.mark.slow
def test_library_imports_without_loading_streamlit():
    code = (
        "import sys, pkgutil, importlib, cnnviz\n"
        "for m in pkgutil.walk_packages(cnnviz.__path__, 'cnnviz.'):\n"
        "    if not m.name.startswith('cnnviz.ui'): importlib.import_module(m.name)\n"
        "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _readme_block(heading: str, start: str) -> str:
    section = (ROOT / "README.md").read_text().split(f"## {heading}\n")[1].split("\n## ")[0]
    return next(block for block in section.split("```")[1::2] if start in block)


def test_the_readme_layout_names_every_module():
    """README's "Where things are" lists every package and every module of the library."""
    layout = _readme_block("Where things are", "cnnviz/arithmetic/")
    for path in sorted((ROOT / "cnnviz").rglob("*.py")):
        if path.name == "__init__.py":
            assert f"cnnviz/{path.parent.relative_to(ROOT / 'cnnviz')}/" in layout or path.parent.name == "cnnviz"
        else:
            assert path.name in layout, path.relative_to(ROOT)
    top = {p.name for p in (ROOT / "cnnviz").iterdir() if p.suffix == ".py" and p.name != "__init__.py"}
    # shared by every view; everything else lives in a package
    assert top == {
        "assets.py",
        "charts.py",
        "fonts.py",
        "links.py",
        "overlay.py",
        "params.py",
        "progress.py",
        "text.py",
    }


def test_the_readme_arithmetic_example_prints_what_it_says():
    code = _readme_block("Using the library without Streamlit", ".output_size")
    namespace: dict = {}
    lines = code.strip().removeprefix("python").strip().splitlines()
    exec(lines[0], namespace)  # the import line
    checked = 0
    for line in lines[1:]:
        if "#" not in line:
            continue
        call, comment = line.split("#", 1)
        expected = comment.split(":")[-1].strip()
        assert eval(call, namespace) == eval(expected), line
        checked += 1
    assert checked == 4


def test_the_formatter_formats_nearly_everything():
    """At most ten lines in the whole tree opt out of ``ruff format`` (``make test`` runs ``ruff format --check``)."""
    skipped = []
    for path in sorted(ROOT.rglob("*.py")):
        if not {".venv", ".git", "node_modules"} & set(path.relative_to(ROOT).parts):
            text = path.read_text()
            skipped += [
                f"{path.relative_to(ROOT)}:{n}"
                for n, line in enumerate(text.splitlines(), 1)
                if "fmt: s" + "kip" in line
            ]
            skipped += [
                f"{path.relative_to(ROOT)}: fmt: off" for line in text.splitlines() if line.strip() == "# fmt: " + "off"
            ]
    assert len(skipped) <= 10, skipped
    assert "ruff format --check" in (ROOT / "Makefile").read_text() and "mypy" in (ROOT / "Makefile").read_text()


def _module_names_first_bound(tree) -> dict[str, int]:
    """Each name a module binds at its top level, and the line it is first bound on."""
    first: dict[str, int] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            first.setdefault(node.name, node.lineno)
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                first.setdefault(sub.id, sub.lineno)
    return first


def test_no_page_function_reads_a_global_defined_after_it():
    """A page's function that reads a module global bound only further down works by the accident of when it is
    called (Explain's compute read the image's tensor, Arithmetic's value editor the geometry)."""
    late = []
    for path in sorted((ROOT / "pages").glob("*.py")):
        tree = ast.parse(path.read_text())
        first = _module_names_first_bound(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            own = {a.arg for a in node.args.args + node.args.kwonlyargs}
            own |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            for name in ast.walk(node):
                read = isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load) and name.id not in own
                if read and first.get(name.id, 0) > node.lineno:
                    late.append(f"{path.name}: {node.name} reads {name.id} (bound on line {first[name.id]})")
    assert late == []
    # the check sees such a read
    sample = ast.parse("def f():\n    return later\n\nlater = 1\n")
    assert _module_names_first_bound(sample)["later"] == 4
