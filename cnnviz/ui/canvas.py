"""The sidebar's drawing canvas (``assets/canvas``) as an image source: brush size and colour here, Undo and
Clear on the canvas; the strokes are checked and drawn server-side (:mod:`cnnviz.data.drawing`)."""

from __future__ import annotations

import logging

import streamlit as st
from PIL import Image

from cnnviz.assets import CANVAS_DIR
from cnnviz.data import drawing
from cnnviz.data.images import fit_within
from cnnviz.server.logs import refused
from cnnviz.ui.components import shipped_component
from cnnviz.ui.keys import BRUSH_COLOUR_KEY, BRUSH_SIZE_KEY, CANVAS_KEY

logger = logging.getLogger(__name__)
_KEPT_KEY = "_cnnviz_drawing"  # the last good strokes: the canvas shows them again after another source was used
DRAWING_NAME = "your drawing"


def drawn_image(max_side: int) -> tuple[Image.Image | None, str | None]:
    """The sidebar's canvas and its drawing as an RGB image (at most ``max_side`` a side, as any image), or
    (None, None) with a hint while nothing is drawn, or with a message when the strokes are refused."""
    low, high = drawing.BRUSH_SIZES
    brush = st.sidebar.slider("Brush size", low, high, 18, key=BRUSH_SIZE_KEY)
    colour = st.sidebar.color_picker("Brush colour", "#1f3f8f", key=BRUSH_COLOUR_KEY)
    kept = st.session_state.get(_KEPT_KEY, [])
    data = {
        "size": drawing.CANVAS_SIZE,
        "brush": brush,
        "colour": colour,
        "background": drawing.BACKGROUND,
        "strokes": kept,
        "max_strokes": drawing.MAX_STROKES,
        "max_points": drawing.MAX_POINTS,
    }
    with st.sidebar:
        result = shipped_component("cnnviz_canvas", CANVAS_DIR, "canvas")(
            data=data, key=CANVAS_KEY, default={"strokes": kept}, width="stretch", on_strokes_change=lambda: None
        )
    value = result.get("strokes") if hasattr(result, "get") else None
    try:
        strokes = drawing.parse_strokes(value)
    except drawing.DrawingError as exc:
        refused(logger, "drawing", len(str(value)[:100_000]), exc)
        st.sidebar.error(f"This drawing cannot be used: {exc}.", icon=":material/draw:")
        return None, None
    st.session_state[_KEPT_KEY] = [
        {"size": s.size, "colour": s.colour, "points": [list(p) for p in s.points]} for s in strokes
    ]
    if not strokes:
        st.sidebar.info("Draw a shape on the canvas (a circle, a star, a cross …) and watch the model answer.")
        return None, None
    return fit_within(drawing.render(strokes), max_side), DRAWING_NAME
