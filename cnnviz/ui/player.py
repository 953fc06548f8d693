"""The browser-side step player (``assets/player``) and presentation mode."""

from __future__ import annotations

from typing import Any

import streamlit as st

from cnnviz.assets import PLAYER_DIR
from cnnviz.ui.components import shipped_component
from cnnviz.ui.controls import keep_link_text

# --- the browser-side step player ---------------------------------------------------------------------------


def step_player(
    data: dict[str, Any],
    key: str,
    speed: float = 2.0,
    present: bool = False,
    start: int = 1,
    link: str | None = None,
    report: bool = False,
) -> None:
    """Animate a :func:`cnnviz.arithmetic.player.payload` in the browser: play, pause, step, scrub and speed run there,
    with no rerun per step; the keys space, ←, →, Home and End work while the page has focus. ``speed`` is
    the starting speed, ``start`` the step a fresh page opens at; ``present`` draws larger cells and numbers
    (presentation mode); ``link`` names the URL parameter that follows the step shown, so that a copied link opens
    at that step (None: the address is left alone). ``report``: the player tells the server each step it rests on
    (a teacher's, for the room: never while playing), kept as the link's ``link`` setting
    (:func:`cnnviz.ui.controls.keep_link_text`)."""
    shown = shipped_component("cnnviz_step_player", PLAYER_DIR, "player")(
        data={**data, "speed": speed, "present": present, "start": start, "link": link, "report": report},
        key=key,
        width="stretch",
        on_step_change=lambda: None,
    )
    step = shown.get("step") if report and hasattr(shown, "get") else None
    if link and isinstance(step, int) and 1 <= step <= len(data.get("steps", ())):
        keep_link_text(link, str(step))


def presentation_style() -> None:
    """Presentation mode: hide the sidebar and its toggle and the page's top bar (which would cover the title), and
    use the page's full width from the top."""
    st.html(
        "<style>section[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'],"
        "[data-testid='stExpandSidebarButton'], header[data-testid='stHeader'] {display: none !important;}"
        "[data-testid='stMain'] h1 {font-size: 2.25rem; padding: 0.25rem 0;}"
        ".block-container, [data-testid='stMainBlockContainer'] {max-width: 100% !important; "
        "padding: 1rem 1.5rem !important;}</style>"
    )
