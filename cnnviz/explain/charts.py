"""Plotly figures."""

from __future__ import annotations

import plotly.graph_objects as go

from cnnviz.explain.predict import Prediction


def probability_bars(prediction: Prediction, title: str = "Class probabilities") -> go.Figure:
    """Horizontal bars of class probabilities, the most likely class on top."""
    names = list(prediction.classes)[::-1]
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
    figure.update_layout(
        title=title,
        # The 100 % tick is kept: the range reaches past it and the right margin has room for its label.
        xaxis={"title": "probability", "range": [0, 1.04], "tickformat": ".0%", "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1]},
        yaxis={"automargin": True},
        height=max(220, 36 * len(names) + 90),
        margin={"l": 10, "r": 30, "t": 50, "b": 40},
    )
    return figure
