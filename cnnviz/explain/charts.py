"""Plotly figures of an explained prediction: class probabilities, a raw map, deletion and insertion curves."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnnviz.charts import readable
from cnnviz.explain.faithfulness import Curves
from cnnviz.explain.predict import Prediction
from cnnviz.overlay import plotly_colorscale
from cnnviz.text import html

DELETION_COLOUR, INSERTION_COLOUR = "#d62728", "#2ca02c"  # red falls, green rises; also solid vs dashed


def probability_bars(prediction: Prediction, title: str = "Class probabilities", clickable: bool = False) -> go.Figure:
    """Horizontal bars of class probabilities, the most likely class on top. ``clickable``: each row also holds
    an invisible full-width bar (the first trace), so a click anywhere on a row selects its class, however
    small its probability."""
    names = [html(name) for name in prediction.classes][::-1]
    probs = [float(p) for p in prediction.probabilities][::-1]
    figure = go.Figure(
        go.Bar(
            x=probs,
            y=names,
            orientation="h",
            text=[f"{p:.1%}" for p in probs],
            textposition="auto",
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
            marker_color="#4C78A8",
        )
    )
    if clickable:
        rows = go.Bar(
            x=[1.0] * len(names),
            y=names,
            orientation="h",
            marker={"color": "rgba(0, 0, 0, 0)"},
            customdata=probs,
            hovertemplate="%{y}: %{customdata:.2%} (click for its logit)<extra></extra>",
            showlegend=False,
        )
        figure = go.Figure([rows, *figure.data])
        figure.update_layout(barmode="overlay", showlegend=False)
    figure.update_layout(
        title=title,
        # The 100 % tick is kept: the range reaches past it and the right margin has room for its label.
        xaxis={"title": "probability", "range": [0, 1.04], "tickformat": ".0%", "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1]},
        yaxis={"automargin": True},
        height=max(220, 36 * len(names) + 90),
        margin={"l": 10, "r": 30, "t": 50, "b": 40},
    )
    return readable(figure)


def raw_map_figure(raw: np.ndarray, cmap: str) -> go.Figure:
    """A map at its own resolution (a CAM's h×w cells), values on hover."""
    figure = go.Figure(
        go.Heatmap(
            z=raw.astype(np.float32),
            colorscale=plotly_colorscale(cmap),
            hovertemplate="row %{y}, col %{x}: %{z:.4g}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Raw map {raw.shape[0]}×{raw.shape[1]}", height=420, margin={"l": 10, "r": 10, "t": 50, "b": 10}
    )
    figure.update_yaxes(autorange="reversed", scaleanchor="x", visible=False)
    figure.update_xaxes(visible=False)
    return readable(figure)


def faithfulness_figure(curves: Curves, class_name: str) -> go.Figure:
    """Deletion (red, solid) and insertion (green, dashed) curves with their areas, legend below."""
    figure = go.Figure(
        [
            go.Scatter(
                x=curves.fractions,
                y=curves.deletion,
                name=f"deletion (AUC {curves.deletion_auc:.3f})",
                line={"color": DELETION_COLOUR, "width": 3},
            ),
            go.Scatter(
                x=curves.fractions,
                y=curves.insertion,
                name=f"insertion (AUC {curves.insertion_auc:.3f})",
                line={"color": INSERTION_COLOUR, "width": 3, "dash": "dash"},
            ),
        ]
    )
    figure.update_layout(
        xaxis_title="share of pixels removed / inserted",
        yaxis_title=f"P({html(class_name)})",
        yaxis_range=[0, 1.02],
        height=380,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.25, "x": 0},
    )
    return readable(figure)
