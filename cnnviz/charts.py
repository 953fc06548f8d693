"""What every Plotly chart of cnnviz shares: text a class reads from the back of the room."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

READABLE_PX = 16
"""The smallest text of any chart (tick labels, axis and chart titles, legends, annotations, numbers written in
cells, hover labels): readable on a 1024×768 projector."""


def _at_least(font: Any) -> None:
    """``font``'s size set to :data:`READABLE_PX` unless it is set larger: explicitly, since a theme's template
    (Streamlit's sets 12 px ticks and 14 px axis titles) would otherwise win over the layout's font."""
    font.size = max(READABLE_PX, font.size or 0)


def readable(figure: go.Figure) -> go.Figure:
    """``figure`` with every text at :data:`READABLE_PX` or more (a larger size set on purpose is kept); returned
    for chaining."""
    layout = figure.layout
    for font in (layout.font, layout.legend.font, layout.legend.title.font, layout.hoverlabel.font):
        _at_least(font)
    if layout.title.text:
        layout.title.font.size = max(READABLE_PX + 4, layout.title.font.size or 0)
    for annotation in layout.annotations:
        _at_least(annotation.font)
    figure.update_xaxes(tickfont_size=READABLE_PX, title_font_size=READABLE_PX)  # on every axis, subplots' too
    figure.update_yaxes(tickfont_size=READABLE_PX, title_font_size=READABLE_PX)
    for trace in figure.data:
        if "textfont" in trace:
            _at_least(trace.textfont)
        if "colorbar" in trace:
            _at_least(trace.colorbar.tickfont)
            _at_least(trace.colorbar.title.font)
    return figure
