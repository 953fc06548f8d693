"""Inside the network: architecture, filters, feature maps, the network overview and what a channel likes."""

import functools

import numpy as np
import pandas as pd
import streamlit as st
import torch

from cnnviz.explain.charts import probability_bars
from cnnviz.links import PAGE_PARAMS, layer_query
from cnnviz.models.tinyvgg import TINYVGG
from cnnviz.network import figures
from cnnviz.network.architecture import field_text
from cnnviz.network.features import activations, conv_layers
from cnnviz.network.maximize import maximize_channel, top_images
from cnnviz.network.overview import (
    MAX_STAGES,
    Stage,
    field_box,
    field_picture,
    map_png,
    overview_stages,
    short_name,
    stage_names,
)
from cnnviz.network.unit_player import logit_sentence, softmax_sentence, unit_caption, unit_payload, unit_sentence
from cnnviz.network.units import (
    ActivationUnit,
    LinearUnit,
    NormUnit,
    PoolUnit,
    UnitComputation,
    applied_padding,
    classifier_layer,
    explain_unit,
    softmax_unit,
)
from cnnviz.overlay import DEFAULT_OPACITY
from cnnviz.text import md
from cnnviz.ui.cached import POOL_SIZE, global_ranges, layer_table, pool_scores
from cnnviz.ui.controls import bound
from cnnviz.ui.links import arithmetic_link, keep_in_url, url_numbers
from cnnviz.ui.maps import map_cells, map_columns
from cnnviz.ui.player import step_player
from cnnviz.ui.selection import selection
from cnnviz.ui.work import known, remembered

SETTINGS = PAGE_PARAMS["network"]
MAXIMISED_KEY = "_maximised"  # the images made to excite a channel, by (model, layer, channel, steps)
"""The page's settings as the link check declares them."""
choice = selection()
model = choice.model
key = model.spec.key
OVERVIEW_KEYS = ("ov_layer", "ov_map", "ov_row", "ov_col")


def arithmetic_for(conv: torch.nn.Conv2d, input_shape: tuple[int, ...]) -> None:
    """A link to the arithmetic page showing ``conv``'s case, and what it shows smaller than the layer."""
    size = tuple(input_shape[-2:])
    query, notes = layer_query(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        applied_padding(conv, size),
        conv.dilation,
        conv.groups,
        size,
    )
    arithmetic_link("Open this layer in the arithmetic page", query)
    for note in notes:
        st.caption(md(note))


def pick_map(stages: list[Stage]) -> None:
    """on_picked_change of the overview's columns: the clicked map is enlarged, its strongest unit explained."""
    picked = st.session_state["overview_maps"].get("picked")
    if not isinstance(picked, dict):
        return
    try:
        stage = stages[int(picked["column"])]
        channel = stage.shown[int(picked["map"])]
    except (KeyError, IndexError, TypeError, ValueError):
        return
    keep_in_url({"ov_layer": stage.name, "ov_map": channel, "ov_row": None, "ov_col": None})


def pick_unit(rows: int, cols: int) -> None:
    """on_picked_change of the enlarged map: the clicked unit is explained."""
    picked = st.session_state["overview_unit"].get("picked")
    try:
        row, col = int(picked["row"]), int(picked["col"])
    except (KeyError, TypeError, ValueError):
        return
    if 0 <= row < rows and 0 <= col < cols:
        keep_in_url({"ov_row": row, "ov_col": col})


def pick_class(shown: tuple[str, ...], every: tuple[str, ...]) -> None:
    """on_select of the class bars (called only when the selection changes, so a later image's bars never
    inherit it): the clicked row's class, by its name among the model's classes."""
    points = (st.session_state["overview_probs"].get("selection") or {}).get("points") or []
    if points:
        keep_in_url({"ov_class": every.index(shown[int(points[0]["point_index"])])})


def classes(model, x) -> None:
    """The class bars; a click on one shows its logit as the linear combination it is, and its softmax."""
    prediction = choice.prediction().top(min(10, len(model.classes)))
    st.plotly_chart(
        probability_bars(prediction, clickable=True),
        key="overview_probs",
        on_select=functools.partial(pick_class, prediction.classes[::-1], model.classes),  # bottom bar first
        selection_mode="points",
        config={"displayModeBar": False},
    )
    index = url_numbers(["ov_class"]).get("ov_class")
    layer = classifier_layer(model.module, len(model.classes))
    if index is None or not 0 <= index < len(model.classes):
        st.caption("Click a class bar to see its logit computed from the last layer's inputs, and its softmax.")
        return
    if layer is None:
        st.info("This model's classes do not come from a Linear layer, so its logits are not taken apart here.")
        return
    unit = explain_unit(model.module, x, layer, (index,))
    if not isinstance(unit, LinearUnit):
        return
    sentence, rows = logit_sentence(unit, model.classes[index])
    st.markdown(f"**{md(model.classes[index])}**: its logit from {md(layer)}")
    st.text(sentence)
    st.dataframe(pd.DataFrame(rows, columns=["input", "value", "weight", "value × weight"]), hide_index=True)
    with model.lock, torch.inference_mode():
        logits = model.module(x)[0]
    st.text(softmax_sentence(softmax_unit(logits, index), model.classes))


def overview(model, table, x) -> None:
    """CNN Explainer's overview for any model: columns of maps; a click enlarges one, a click on a unit shows how
    it was computed, and where in the input it looked; a click on a class bar shows its logit and softmax."""
    st.markdown(
        "Each column is a layer's output, strongest channels first, each on its own colour range. **Click a map** "
        "to enlarge it, then **click a unit** to see the numbers that made it and the input pixels it saw."
    )
    names = stage_names(table)
    if not names:
        st.info("This model has no convolution stages to show.")
        return
    start = 0
    if len(names) > MAX_STAGES:
        first = bound(st.container(), "ov_from", SETTINGS["ov_from"], options=names[: len(names) - MAX_STAGES + 1])
        start = names.index(first)
    shown_names = names[start : start + MAX_STAGES]
    stages = overview_stages(model.module, x, shown_names)
    pixels = model.seen_pixels(x)
    chosen = url_numbers(OVERVIEW_KEYS[1:])
    layer = st.query_params.get("ov_layer")
    stage = next((s for s in stages if s.name == layer), stages[0])
    channel = chosen.get("ov_map", stage.shown[0])
    if not 0 <= channel < stage.maps.shape[0]:
        channel = stage.shown[0]
    selected = (stages.index(stage), stage.shown.index(channel)) if channel in stage.shown else None
    columns = [
        {
            "title": short_name(s.name),
            "name": s.name,
            "subtitle": f"{s.maps.shape[0]}×{s.maps.shape[1]}×{s.maps.shape[2]}",
            "maps": [
                {
                    "src": map_png(s.maps[c], s.low, s.high),
                    "label": f"{s.name}, channel {c}",
                    "rows": s.maps.shape[1],
                    "cols": s.maps.shape[2],
                }
                for c in s.shown
            ],
        }
        for s in stages
    ]
    map_columns(columns, selected, "overview_maps", on_pick=functools.partial(pick_map, stages))

    plane = stage.maps[channel]
    rows, cols = plane.shape
    if "ov_row" in chosen and "ov_col" in chosen and chosen["ov_row"] < rows and chosen["ov_col"] < cols:
        unit = (chosen["ov_row"], chosen["ov_col"])
    else:
        strongest = np.unravel_index(int(np.argmax(plane)), plane.shape)
        unit = (int(strongest[0]), int(strongest[1]))
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**{md(stage.name)}, channel {channel}** ({rows}×{cols}): click a unit")
        map_cells(
            map_png(plane, stage.low, stage.high),
            rows,
            cols,
            unit,
            "overview_unit",
            f"{stage.name}, channel {channel}",
            [f"{v:.4g}" for v in plane.ravel()] if plane.size <= 16_384 else [],
            320,
            on_pick=functools.partial(pick_unit, rows, cols),
        )
        field = next(layer.field for layer in table.layers if layer.name == stage.name)
        st.image(
            field_picture(pixels, field_box(field, *unit)),
            caption=f"Receptive field of unit ({unit[0]}, {unit[1]}): {field_text(field)[0]} input pixels "
            "(orange; the rest dimmed)",
            width=320,
        )
    with right:
        explained = explain_unit(model.module, x, stage.name, (channel, *unit))
        st.markdown(f"**How unit ({unit[0]}, {unit[1]}) was computed**")
        if isinstance(explained, UnitComputation):
            st.caption(md(unit_caption(explained)))
            step_player(unit_payload(explained), "unit_player", 2.0, False, len(explained.terms) + 1)
            st.markdown(
                f"**Total {explained.total:.6g}** (Σ over {len(explained.terms)} channels + bias "
                f"{explained.bias:.4g}); PyTorch computed **{explained.activation:.6g}**."
            )
            input_shape = next(layer.input_shape for layer in table.layers if layer.name == stage.name)
            arithmetic_for(model.module.get_submodule(stage.name), input_shape)
            with st.expander("Every input channel's sum", expanded=False):
                st.dataframe(
                    pd.DataFrame(
                        {
                            "input channel": [t.channel for t in explained.terms],
                            "Σ window × kernel": [t.sum for t in explained.terms],
                        }
                    ),
                    hide_index=True,
                )
        elif isinstance(explained, (NormUnit, ActivationUnit, PoolUnit)):
            st.text(unit_sentence(explained))
    classes(model, x)


st.title("Inside the network")
st.caption(f"{model.card.architecture}: its layers, its learned filters, and what each layer sees in the image.")
table = layer_table(key, model)
spatial = [layer for layer in table.layers if len(layer.output_shape) == 3]
tabs = bound(st.container(), "tab", SETTINGS["tab"])

with tabs[0]:
    st.plotly_chart(figures.stage_diagram(table), key="stages", config={"displayModeBar": False})
    frame = pd.DataFrame(
        [
            {
                "layer": layer.name,
                "type": layer.kind,
                "output": "×".join(map(str, layer.output_shape)),
                "params": layer.params,
                "receptive field": field_text(layer.field)[0],
                "jump": field_text(layer.field)[1],
                "start": field_text(layer.field)[2],
                "MACs": layer.macs,
            }
            for layer in table.layers
        ]
    )
    picked = st.dataframe(
        frame, hide_index=True, height=420, key="layer_rows", on_select="rerun", selection_mode="single-row"
    )
    rows = picked.selection.rows if picked is not None else []
    chosen_conv = model.module.get_submodule(table.layers[rows[0]].name) if rows else None
    if isinstance(chosen_conv, torch.nn.Conv2d):
        arithmetic_for(chosen_conv, table.layers[rows[0]].input_shape)
    else:
        st.caption(
            "Select a conv layer's row to open its case (sizes, stride, padding, dilation, groups) in the "
            "arithmetic page."
        )
    h, w = table.input_size
    st.markdown(
        f"**Totals** at {h}×{w}: {table.total_params:,} parameters, {table.total_macs / 1e6:,.1f} M "
        "multiply-accumulates. Receptive field: input pixels one unit sees; jump: pixels between neighbouring "
        "units; start: centre of the first unit's field."
    )

with tabs[1]:
    if tabs[1].open:  # computed only when looked at
        convs = conv_layers(model.module)
        layer = bound(st.container(), "filter_layer", SETTINGS["filter_layer"], options=convs)
        weight = dict(model.module.named_modules())[layer].weight.detach().numpy()
        out_ch, in_ch = weight.shape[:2]
        modes = (["RGB composites"] if in_ch == 3 else []) + [
            "one filter, every input channel",
            "one input channel, every filter",
        ]
        mode = st.radio("Show", modes, key="filter_mode", horizontal=True, persist_state="page")
        if mode == "RGB composites":
            st.image(figures.rgb_filters_image(weight), caption=f"{out_ch} filters of {layer}; grey is 0")
            mode = "one filter, every input channel"
            st.caption("Every weight, on hover:")
        limit = out_ch if mode.startswith("one filter") else in_ch
        which = "Filter" if limit == out_ch else "Input channel"
        index = bound(st.container(), "filter_index", SETTINGS["filter_index"], limit=limit - 1, texts={"which": which})
        tiles = weight[index] if limit == out_ch else weight[:, index]
        labels = (
            [f"filter {index}, input channel {i}" for i in range(len(tiles))]
            if limit == out_ch
            else [f"filter {i}, input channel {index}" for i in range(len(tiles))]
        )
        title = f"{layer}: filter {index}" if limit == out_ch else f"{layer}: input channel {index} of every filter"
        st.plotly_chart(figures.filter_figure(tiles[:1024], labels[:1024], title), key="filters")

if choice.image is None or choice.image_digest is None:
    for tab in tabs[2:4]:
        tab.info("Choose an image in the sidebar.")
else:
    x = model.preprocess(choice.image)
    digest = choice.image_digest
    with tabs[2]:
        if tabs[2].open:  # computed only when looked at
            names = [layer.name for layer in spatial]
            cols = st.columns(4)
            layer = bound(cols[0], "map_layer", SETTINGS["map_layer"], options=names)
            scale = bound(cols[1], "map_scale", SETTINGS["map_scale"])
            sort = bound(cols[2], "map_sort", SETTINGS["map_sort"])
            cmap = bound(cols[3], "cmap", SETTINGS["cmap"])
            maps = activations(model.module, x, [layer])[layer][0].numpy()
            count = maps.shape[0]
            shown = bound(st.container(), "map_count", SETTINGS["map_count"], limit=count, default=min(count, 64))
            order = list(range(count))
            if sort != "channel":
                stat = maps.reshape(count, -1).mean(1) if sort == "mean" else maps.reshape(count, -1).max(1)
                order = list(np.argsort(-stat, kind="stable"))
            order = order[:shown]
            if scale == "unit":
                low, high = maps.reshape(count, -1).min(1), maps.reshape(count, -1).max(1)
            else:
                lo, hi = (
                    (float(maps.min()), float(maps.max()))
                    if scale == "module"
                    else global_ranges(key, digest, tuple(names), model, x)
                )
                low, high = np.full(count, lo), np.full(count, hi)
            grid_caption = f"{layer}: {count} channels of {maps.shape[1]}×{maps.shape[2]}, colour range per {scale}"
            st.image(figures.feature_grid_image(maps, order, low, high, cmap), caption=grid_caption)
            channel = st.selectbox("Enlarge channel", order, key="map_channel", persist_state="page")
            left, right = st.columns(2)
            left.plotly_chart(figures.channel_figure(maps[channel], f"{layer}, channel {channel}", cmap), key="channel")
            opacity = right.slider(
                "Overlay opacity", 0.0, 1.0, DEFAULT_OPACITY, key="map_opacity", persist_state="page"
            )
            right.image(
                model.overlay(choice.image, maps[channel], opacity, cmap),
                caption="over the input, where the model saw it (grey: cropped away)",
                width="stretch",
            )

    with tabs[3]:
        if tabs[3].open:  # computed only when looked at
            overview(model, table, x)

with tabs[4]:
    if tabs[4].open:  # computed only when looked at
        convs = conv_layers(model.module)
        row = st.columns(3)
        layer = bound(row[0], "max_layer", SETTINGS["max_layer"], options=convs, default=convs[-1])
        channels = dict(model.module.named_modules())[layer].out_channels
        channel = bound(row[1], "max_channel", SETTINGS["max_channel"], limit=channels - 1)
        steps = int(bound(row[2], "max_steps", SETTINGS["max_steps"], default=128 if key == TINYVGG else 64))
        wanted = (key, layer, channel, steps)
        asked = st.button("Visualise this channel", key="maximise", icon=":material/auto_awesome:")
        if asked or known(MAXIMISED_KEY, wanted):  # made once, then kept for every session
            excites = remembered(
                MAXIMISED_KEY,
                wanted,
                "Optimising the image",
                lambda progress: maximize_channel(
                    model.module, layer, channel, model.input_size, model.mean, model.std, steps, progress=progress
                ),
            )
            st.image(excites, caption=f"An image that {layer} channel {channel} responds to strongly", width=320)
        if model.spec.source == "embedded":
            pool, scores = pool_scores(key, layer, model)
            best = top_images(scores, channel, 8)
            st.markdown(f"**Synthetic images that excite channel {channel} most** (of {POOL_SIZE})")
            st.caption(figures.score_note(layer, [score for _, score in best]))
            grid = st.columns(8)
            for column, (i, score) in zip(grid, best, strict=False):
                label = model.classes[int(pool.labels[i])]
                column.image(pool.images[i], caption=f"{label} · {score:.2f}", width="stretch")
