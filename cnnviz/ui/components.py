"""The app's own Streamlit components (components v2): each a script and a style sheet shipped in ``assets/``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import streamlit as st


@functools.cache
def shipped_component(name: str, folder: Path, stem: str) -> Any:
    """The component ``name`` made of ``folder/stem.js`` and ``folder/stem.css``, registered once per process."""
    return st.components.v2.component(
        name,
        js=(folder / f"{stem}.js").read_text(encoding="utf-8"),
        css=(folder / f"{stem}.css").read_text(encoding="utf-8"),
    )
