"""Plotly figures of a training: loss and accuracy curves, and the confusion matrix."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

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
    return figure


def confusion_figure(confusion: np.ndarray, classes: list[str]) -> go.Figure:
    """True (rows) against predicted (columns) counts, each cell labelled with its count."""
    classes = [html(name) for name in classes]
    figure = go.Figure(
        go.Heatmap(
            z=confusion,
            x=classes,
            y=classes,
            colorscale="Blues",
            text=confusion,
            texttemplate="%{text}",
            textfont={"size": 16},
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    figure.update_layout(
        title="Confusion matrix",
        xaxis_title="predicted",
        yaxis_title="true",
        height=460,
        font={"size": 16},
        yaxis={"autorange": "reversed"},
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return figure
