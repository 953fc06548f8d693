"""Plotly figures of a training: loss and accuracy curves, and the confusion matrix."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnnviz.charts import readable
from cnnviz.text import html


def training_curves(history: list[dict[str, float]]) -> go.Figure:
    """Loss (left axis), batch and held-out accuracy (right axis, 0–100 %) against the step; legend below."""
    figure = go.Figure()
    if history:
        step_axis = [h["step"] for h in history]
        figure.add_scatter(x=step_axis, y=[h["loss"] for h in history], name="loss")
        figure.add_scatter(x=step_axis, y=[h["batch_accuracy"] for h in history], name="batch accuracy", yaxis="y2")
        evaluated = [h for h in history if "held_out_accuracy" in h]
        figure.add_scatter(
            x=[h["step"] for h in evaluated],
            y=[h["held_out_accuracy"] for h in evaluated],
            name="held-out accuracy",
            yaxis="y2",
            mode="lines+markers",
        )
    accuracy_axis = {
        "title": "accuracy",
        "overlaying": "y",
        "side": "right",
        "range": [0, 1],
        "tickformat": ".0%",
        "dtick": 0.25,
    }
    figure.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="step",
        yaxis={"title": "loss"},
        yaxis2=accuracy_axis,
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0},
    )  # below: no tick hidden
    return readable(figure)


CONFUSION_CELL_PX = 44
"""A confusion matrix's rows are this tall (its columns about as wide where the page gives it the width): a count
of up to four digits at 16 px fits its cell."""


def confusion_figure(confusion: np.ndarray, classes: list[str]) -> go.Figure:
    """True (rows) against predicted (columns) counts, each cell labelled with its count (so no colour bar), every
    class named on both axes (the predicted ones slanted, so that ten long names fit)."""
    classes = [html(name) for name in classes]
    figure = go.Figure(
        go.Heatmap(
            z=confusion,
            x=classes,
            y=classes,
            colorscale="Blues",
            showscale=False,
            text=confusion,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
            xgap=1,
            ygap=1,
        )
    )
    figure.update_layout(
        title="Confusion matrix",
        xaxis={"title": "predicted", "tickangle": -45, "automargin": True, "tickmode": "linear", "dtick": 1},
        yaxis={"title": "true", "autorange": "reversed", "automargin": True, "tickmode": "linear", "dtick": 1},
        height=CONFUSION_CELL_PX * len(classes) + 220,  # and the slanted names below
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return readable(figure)
