"""The library stays a plain library: only cnnviz/ui.py may import Streamlit."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import ROOT

UI_HELPER = ROOT / "cnnviz" / "ui.py"


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
        if path != UI_HELPER and "streamlit" in _imports(path)
    ]
    assert offenders == []
    assert "streamlit" in _imports(UI_HELPER)  # the helper this test exempts really exists


def test_library_imports_without_loading_streamlit():
    code = (
        "import sys, pkgutil, importlib, cnnviz\n"
        "for m in pkgutil.walk_packages(cnnviz.__path__, 'cnnviz.'):\n"
        "    if m.name != 'cnnviz.ui': importlib.import_module(m.name)\n"
        "assert 'streamlit' not in sys.modules, 'streamlit was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
