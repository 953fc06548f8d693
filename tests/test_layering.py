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


@pytest.mark.slow
def test_library_imports_without_loading_streamlit():
    code = (
        "import sys, pkgutil, importlib, cnnviz\n"
        "for m in pkgutil.walk_packages(cnnviz.__path__, 'cnnviz.'):\n"
        "    if not m.name.startswith('cnnviz.ui'): importlib.import_module(m.name)\n"
        "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
