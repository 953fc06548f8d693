"""Inside the network: architecture, filters, feature maps, the network overview and what a channel likes."""

import numpy as np
import pandas as pd
import streamlit as st

from cnnviz.explain.charts import probability_bars
from cnnviz.links import PAGE_PARAMS
from cnnviz.models.tinyvgg import TINYVGG
from cnnviz.network import figures
from cnnviz.network.architecture import field_text
from cnnviz.network.features import activations, conv_layers
from cnnviz.network.maximize import maximize_channel, top_images
from cnnviz.overlay import DEFAULT_OPACITY
from cnnviz.ui.cached import POOL_SIZE, global_ranges, layer_table, pool_scores
from cnnviz.ui.controls import bound
from cnnviz.ui.selection import selection
from cnnviz.ui.work import known, remembered

SETTINGS = PAGE_PARAMS["network"]
MAXIMISED_KEY = "_maximised"  # the images made to excite a channel, by (model, layer, channel, steps)
"""The page's settings as the link check declares them."""
choice = selection()
model = choice.model
key = model.spec.key


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
    st.dataframe(frame, hide_index=True, height=420)
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
            if model.spec.source != "embedded":
                st.info("The overview shows every stage of the embedded TinyVGG; for this model use Feature maps.")
            else:
                stages = [layer.name for layer in spatial if layer.kind in ("Conv2d", "ReLU", "MaxPool2d")]
                acts = activations(model.module, x, stages)
                overview = figures.overview_image(
                    model.seen_pixels(x), [(n, acts[n][0].numpy()) for n in stages], max_width=700
                )
                st.image(
                    overview,
                    caption="Input channels, then each conv, ReLU and pooling stage (own range each), row after row",
                )
                st.plotly_chart(probability_bars(choice.prediction()), key="overview_probs")

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
