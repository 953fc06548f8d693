"""Plotly figures of the Learn section: small kernels with their numbers written in, distributions before
and after batch norm, the receptive field layer by layer, and an encoder–decoder's feature-map sizes."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cnnviz.charts import READABLE_PX, readable
from cnnviz.learn.beyond import Resize

FONT = {"size": READABLE_PX}
"""Numbers a student must read from the back of a room."""


def kernels_figure(kernels: list[tuple[str, np.ndarray]], height: int = 260) -> go.Figure:
    """Small grids side by side, each diverging and centred at zero, every value written in its cell."""
    figure = make_subplots(
        rows=1, cols=len(kernels), subplot_titles=[title for title, _ in kernels], horizontal_spacing=0.06
    )
    for i, (_, values) in enumerate(kernels, start=1):
        bound = float(np.abs(values).max()) or 1.0
        figure.add_trace(
            go.Heatmap(
                z=values,
                zmin=-bound,
                zmax=bound,
                colorscale="RdBu",
                showscale=False,
                text=[[f"{v:.2f}" for v in row] for row in values],
                texttemplate="%{text}",
                textfont=FONT,
                hovertemplate="row %{y}, col %{x}: %{z:.4f}<extra></extra>",
            ),
            row=1,
            col=i,
        )
        figure.update_yaxes(autorange="reversed", scaleanchor=f"x{i if i > 1 else ''}", visible=False, row=1, col=i)
        figure.update_xaxes(visible=False, row=1, col=i)
    figure.update_annotations(font=FONT)
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 50, "b": 10}, font=FONT)
    return readable(figure)


def distributions_figure(before: np.ndarray, after: np.ndarray, title: str) -> go.Figure:
    """Histograms of the same values before and after a normalisation, with their means and deviations."""
    figure = go.Figure()
    for name, values, colour in (("before", before, "#9a9a9a"), ("after", after, "#4C78A8")):
        label = f"{name}: mean {values.mean():.2f}, std {values.std():.2f}"
        figure.add_trace(go.Histogram(x=values.ravel(), name=label, opacity=0.7, marker_color=colour, nbinsx=60))
    figure.update_layout(
        barmode="overlay",
        title=title,
        height=360,
        font=FONT,
        xaxis_title="activation",
        yaxis_title="count",
        legend={"orientation": "h", "y": -0.3},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return readable(figure)


def field_figure(growth: list[tuple[str, int]], input_side: int) -> go.Figure:
    """Bars of each layer's receptive field (pixels), with the input's side as a dashed line."""
    names, sizes = [name for name, _ in growth], [size for _, size in growth]
    figure = go.Figure(
        go.Bar(
            x=names,
            y=sizes,
            text=sizes,
            textposition="outside",
            textfont=FONT,
            marker_color="#4C78A8",
            hovertemplate="%{x}: %{y} px<extra></extra>",
        )
    )
    figure.add_hline(y=input_side, line_dash="dash", annotation_text=f"input {input_side} px", annotation_font=FONT)
    figure.update_layout(
        height=380,
        font=FONT,
        yaxis_title="receptive field (px)",
        yaxis_range=[0, max([*sizes, input_side]) * 1.2],
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return readable(figure)


def sizes_figure(stages: list[Resize]) -> go.Figure:
    """The feature map's side through an encoder–decoder: down by stride-2 convolutions, up by transposed ones."""
    labels = ["input", *(stage.name for stage in stages)]
    sides = [stages[0].size_in, *(stage.size_out for stage in stages)]
    colours = ["#9a9a9a", *("#4C78A8" if stage.op == "conv" else "#F58518" for stage in stages)]
    figure = go.Figure(
        go.Bar(
            x=labels,
            y=sides,
            text=[f"{s}×{s}" for s in sides],
            textposition="outside",
            textfont=FONT,
            marker_color=colours,
        )
    )
    figure.update_layout(
        height=360,
        font=FONT,
        yaxis_title="side (cells)",
        yaxis_range=[0, max(sides) * 1.2],
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
    )
    return readable(figure)
