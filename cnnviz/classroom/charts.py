"""The classroom's chart: the answers to a question as the teacher sees them come in."""

from __future__ import annotations

import plotly.graph_objects as go

from cnnviz.charts import readable

RIGHT, WRONG = "#2e7d32", "#9e9e9e"


def answers_figure(counts: dict[str, int], answer: str) -> go.Figure:
    """A bar per answer given (``counts``: answer → how many gave it, most given first), the right one green, each
    bar labelled with its count."""
    names = list(counts)
    figure = go.Figure(
        go.Bar(
            x=[counts[n] for n in names],
            y=names,
            orientation="h",
            marker_color=[RIGHT if n == answer else WRONG for n in names],
            text=[str(counts[n]) for n in names],
            textposition="auto",
            hovertemplate="%{y}: %{x}<extra></extra>",
        )
    )
    figure.update_layout(
        height=60 + 40 * len(names),
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
        xaxis_title="students",
        yaxis={"autorange": "reversed", "type": "category"},
        xaxis={"dtick": 1, "rangemode": "tozero"},
        showlegend=False,
    )
    return readable(figure)
