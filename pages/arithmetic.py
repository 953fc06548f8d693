"""Convolution arithmetic: every case of Dumoulin & Visin, animated with the real numbers PyTorch computes."""

import random
from collections.abc import Callable

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from cnnviz.arithmetic import ARITHMETIC_TABS, player
from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.animation import MAX_GIF_FRAMES, feeds_figure, gif_bytes, step_figure
from cnnviz.arithmetic.board import VIEW_NAMES, board, fmt, num_frames, step_caption, views_for
from cnnviz.arithmetic.formulas import ceil_mode_note, formula_latex, pytorch_code, stacked
from cnnviz.arithmetic.groups import grouping_figure, separable
from cnnviz.arithmetic.handout import handout_html
from cnnviz.arithmetic.kernels import KERNELS, apply_kernel, grayscale, grayscale_crop
from cnnviz.arithmetic.steps import Scene, check_groups, random_values, torch_output
from cnnviz.classroom import quiz
from cnnviz.links import PAGE_PARAMS
from cnnviz.text import table
from cnnviz.ui.cached import arithmetic_board, arithmetic_scene, player_payload
from cnnviz.ui.controls import (
    bound,
    cell_picker,
    play_interval,
    seed_control,
    speed_control,
    speed_value,
    step_controls,
    write_link,
)
from cnnviz.ui.links import forget_url_params
from cnnviz.ui.player import presentation_style, step_player
from cnnviz.ui.rooms import offer_questions, page_fragment, teaching
from cnnviz.ui.runs import fragment
from cnnviz.ui.selection import selection

PRESETS = {p.key: p for p in ar.PRESETS}
BY_TITLE = {p.title: p.key for p in ar.PRESETS}  # a link names a preset by its title, as the preset box shows it
state = st.session_state
SETTINGS = PAGE_PARAMS["arithmetic"]
"""The page's settings as the link check declares them: the sliders take their ranges and defaults from here."""
choice = selection()
PRESET_KEYS = {
    "op": "op",
    "i": "input_size",
    "k": "kernel_size",
    "s": "stride",
    "p": "padding",
    "d": "dilation",
    "a": "output_padding",
}


def preset_values(key: str) -> dict:
    preset = PRESETS[key]
    values = {k: getattr(preset, field) for k, field in PRESET_KEYS.items()}
    return {**values, "sq": True, "pm": "number", "ceil": False}


def apply_preset() -> None:
    """on_change of the preset box: set every control to the preset."""
    if state.preset != "custom":
        values = preset_values(state.preset)
        forget_url_params([*values, *(key + "w" for key in PRESET_KEYS)])  # else the old URL wins
        state.update(values)
        state.step = 1
        write_link(["preset", *values])  # the address the run sends says the preset's case


def preset_from_link() -> None:
    """A link that names a preset sets every control of the preset that it does not set itself (on the page's
    first run in the session: the preset box is not made yet)."""
    key = BY_TITLE.get(st.query_params.get("preset", ""))
    if key is not None and "preset" not in state:
        for k, v in preset_values(key).items():
            if k not in st.query_params and k not in state:
                state[k] = v


def mark_custom() -> None:
    """Show "custom" once a control departs from the chosen preset (run after the controls, before the preset
    box, so that a link's own settings count on its first run too)."""
    key = state.get("preset", BY_TITLE.get(st.query_params.get("preset", ""), "custom"))
    if key in PRESETS and any(k in state and state[k] != v for k, v in preset_values(key).items()):
        forget_url_params(["preset"])  # else the link's preset wins over "custom"
        state.preset = "custom"


def edit_values(
    parent: DeltaGenerator, op: str, x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Editable tables in ``parent`` for the input channels, kernels and bias of ``op``, starting from the random
    values."""
    with parent.container(border=True):
        st.markdown("**Edit the values**")
        tag = f"{x.shape}-{None if weight is None else weight.shape}"
        columns = st.columns(x.shape[0] + (0 if weight is None else 1))
        x = np.stack([columns[c].data_editor(x[c], key=f"edit_x{c}_{tag}") for c in range(x.shape[0])])
        if weight is not None:
            box = columns[-1]
            flat = weight.reshape(-1, weight.shape[-1])
            weight = box.data_editor(flat, key=f"edit_w_{tag}").reshape(weight.shape)
            box.caption("Kernels, stacked: " + ("out × in" if op == "conv" else "in × out") + " slices.")
            if bias is not None:
                bias = box.data_editor(bias[None, :], key=f"edit_b_{tag}")[0]
    return np.nan_to_num(np.asarray(x, float)), weight, bias


def kernel_editor(name: str, box) -> np.ndarray:
    """The named kernel as a table, or an editable one for the custom kernels: the identity at first, then the
    values last edited (a table editor forgets its edits while its tab is closed, so they are kept beside it)."""
    if name.startswith("custom"):
        n = int(name[-1])
        editor, edited, start = f"custom_kernel_{n}", f"_custom_kernel_{n}", f"_custom_kernel_start_{n}"
        if editor not in state:  # not shown on the last run: start from the values it had then
            identity = np.zeros((n, n))
            identity[n // 2, n // 2] = 1
            state[start] = state.get(edited, identity)
        state[edited] = np.nan_to_num(np.asarray(box.data_editor(state[start], key=editor), float))
        return state[edited]
    box.dataframe(np.round(KERNELS[name], 3), hide_index=True)
    return KERNELS[name]


def set_controls(values: dict) -> None:
    """on_click of a button that sets controls (the pair's two steps): the URL's old values must not win."""
    forget_url_params(values)
    state.update(values)
    state.step = 1


def channels_view(scene: Scene, use_bias: bool) -> None:
    """Below a convolution's animation: which input channels feed which output channels, true convolution beside
    PyTorch's cross-correlation when the kernel is flipped, and the depthwise-separable pair's saving."""
    geo, cin, cout, groups = scene.geo, scene.in_channels, scene.out_channels, scene.groups
    if scene.flipped:
        st.markdown(
            "**True convolution beside cross-correlation**, output channel 1: PyTorch's `Conv2d` computes the "
            "left one; the animation above slides the flipped kernel and gives the right one."
        )
        left, right = st.columns(2)
        cross = torch_output(geo, scene.x, scene.weight, scene.bias, groups)
        left.caption("Cross-correlation (the kernel as it is: `nn.Conv2d`)")
        left.dataframe(np.vectorize(fmt)(cross[0]), hide_index=True)
        right.caption("True convolution (the kernel rotated by 180°)")
        right.dataframe(np.vectorize(fmt)(scene.output[0]), hide_index=True)
    if cin > 1 or groups > 1:
        with st.expander("Channel grouping: which input channels feed which output channels", expanded=groups > 1):
            st.plotly_chart(grouping_figure(cin, cout, groups), key="grouping", config={"displayModeBar": False})
    kernel, output = (geo.rows.kernel, geo.cols.kernel), geo.output_size
    if kernel == (1, 1) or groups != 1:
        return
    pair = separable(cin, cout, kernel, output, use_bias)
    with st.expander("The depthwise-separable pair that would replace this convolution"):
        kh, kw = kernel
        st.markdown(
            f"MobileNet and EfficientNet replace a {kh}×{kw} convolution by a **{kh}×{kw} depthwise** one "
            f"(groups = {cin}: each input channel filtered alone) and a **1×1 pointwise** one that mixes the "
            f"channels. For this layer ({cin} → {cout} channels, {output[0]}×{output[1]} output):"
        )
        costs = (pair.plain, pair.depthwise, pair.pointwise, pair.pair)
        st.markdown(
            table(
                {
                    "layer": [f"plain {kh}×{kw}", f"{kh}×{kw} depthwise", "1×1 pointwise", "pair", "pair ÷ plain"],
                    "weights": [f"{c.params:,}" for c in costs] + [f"{pair.param_ratio:.2f}"],
                    "multiply-accumulates": [f"{c.macs:,}" for c in costs] + [f"{pair.mac_ratio:.2f}"],
                }
            )
        )
        axes = [""] if state.get("sq", True) else ["", "w"]
        depthwise: dict[str, object] = {"g": cin, "cout": cin}
        ones = (("k", 1), ("s", 1), ("p", 0), ("d", 1))
        pointwise: dict[str, object] = {"g": 1, "cin": cin, "pm": "number"}
        pointwise |= {key + d: value for d in axes for key, value in ones}
        high = SETTINGS["i"].high
        pointwise |= {"i" + d: min(size, high) for d, size in zip(axes, output, strict=False)}
        buttons = st.columns(2)
        buttons[0].button("Animate the depthwise step", key="show_depthwise", on_click=set_controls, args=(depthwise,))
        buttons[1].button(
            "Animate the pointwise step (on its output)",
            key="show_pointwise",
            on_click=set_controls,
            args=(pointwise,),
            help="A 1×1 convolution over the depthwise output's size; the values are new random ones.",
        )


def questions(scene: Scene) -> dict[str, Callable[[], quiz.Question]]:
    """What a quiz can ask about the case shown (each question made when asked: the step is the one shown then)."""
    geo = scene.geo

    def cell() -> tuple[int, int]:  # the Mapping tab's output cell when it was chosen, else one drawn at random
        if "out_row" in state and "out_col" in state:
            return int(state.out_row), int(state.out_col)
        rng = random.Random()  # its own generator, seeded by the system
        return rng.randrange(geo.rows.output), rng.randrange(geo.cols.output)

    def shown_step() -> int:
        step = st.query_params.get("step", state.get("step", 1))
        return min(max(int(step), 1), scene.num_steps)

    makers: dict[str, Callable[[], quiz.Question]] = {
        "output_size": lambda: quiz.output_size(geo),
        "feeding_cells": lambda: quiz.feeding_cells(geo, cell(), seed=random.Random().randrange(2**32)),
    }
    if geo.op != "transposed":  # the sliding window's order: a step per output cell
        makers["next_value"] = lambda: quiz.next_value(scene, shown_step())
    return makers


@page_fragment
def case_view() -> None:
    """Everything below the sidebar: a control of the page (a slider, a preset, a tab) reruns only this, not the
    app's navigation and sidebar; a change in the sidebar reruns the whole page as before."""
    present = bool(state.get("present", st.query_params.get("present") == "true"))
    st.title("Convolution arithmetic", anchor=False)
    if not present:
        st.caption(
            "How a convolution, a transposed convolution or a pooling layer moves over its input, cell by cell, "
            "with the numbers. Every value is what PyTorch computes; every control is kept in the page's URL, so a "
            "copied link reproduces this view."
        )
    # presentation mode: the toggle beside the output-size formula, to leave the screen's height to the animation
    head = st.columns([1, 3], vertical_alignment="center") if present else None
    present = bound(head[0] if head else st.container(), "present", SETTINGS["present"])
    if present:
        presentation_style()
    stage = st.container()  # the animation, above the settings in presentation mode
    settings = (
        st.expander("Settings: operation, preset, sizes and values", expanded=False) if present else st.container()
    )

    preset_from_link()
    if "op" not in state:
        state.op = "conv"
    op: ar.Op = (
        bound(
            settings,
            "op",
            SETTINGS["op"],
            options=ar.OPS,
            format_func=ar.OP_NAMES.__getitem__,
            required=True,
            width="stretch",
        )
        or "conv"  # required: never None
    )
    top = settings.columns([3, 2], vertical_alignment="bottom")
    preset_box = top[0].empty()  # filled once the controls are read (mark_custom)
    flags = top[1].container(horizontal=True, vertical_alignment="center", gap="medium")  # wraps when narrow
    square = bound(flags, "sq", SETTINGS["sq"])  # a preset sets it

    dims = ("",) if square else ("", "w")
    axis_name = {"": "" if square else " (height)", "w": " (width)"}
    cols = settings.columns(6)

    def sliders(column: int, key: str, limit: Callable[[str], int] | None = None) -> dict[str, int]:
        """One slider per axis (one when height and width share it), over the declared range of ``key`` (up to
        ``limit(axis)`` where the case allows less); width starts at the height's value."""
        values: dict[str, int] = {}
        for d in dims:
            start = values[""] if d else None
            top = limit(d) if limit else None
            values[d] = bound(
                cols[column], key + d, SETTINGS[key + d], limit=top, default=start, texts={"axis": axis_name[d]}
            )
        return values

    size = sliders(0, "i")
    kernel = sliders(1, "k")
    stride = sliders(2, "s")
    dilation = {d: 1 for d in dims} if op == "avgpool" else sliders(3, "d")
    out_pad = {d: 0 for d in dims}
    if op == "transposed":
        out_pad = sliders(4, "a", lambda d: ar.max_output_padding(stride[d], dilation[d]))
    modes = {"conv": ["number", "valid", "same", "full"], "transposed": ["number", "valid", "full"]}.get(op, ["number"])
    mode = bound(cols[5], "pm", SETTINGS["pm"], options=modes, horizontal=True) if len(modes) > 1 else "number"
    padding_value: int | tuple[int, int] | str = mode
    if mode == "number":
        pads = sliders(5, "p", lambda d: ar.max_padding(op, size[d], kernel[d], stride[d], dilation[d], out_pad[d]))
        padding_value = pads[""] if square else (pads[""], pads["w"])
    ceil_mode = bound(flags, "ceil", SETTINGS["ceil"]) if op.endswith("pool") else False
    mark_custom()
    bound(
        preset_box,
        "preset",
        SETTINGS["preset"],
        options=["custom", *PRESETS],
        format_func=lambda k: "custom" if k == "custom" else PRESETS[k].title,
        on_change=apply_preset,
    )

    pick = (lambda v: v[""]) if square else (lambda v: (v[""], v["w"]))
    try:
        geo = ar.geometry(
            op, pick(size), pick(kernel), pick(stride), padding_value, pick(dilation), pick(out_pad), ceil_mode
        )
    except ValueError as exc:
        st.error(f"PyTorch rejects this setting. {exc}", icon=":material/block:")
        st.stop()

    output_size = f"**Output size: {geo.rows.output} × {geo.cols.output}**"
    if present and head:
        head[0].markdown(output_size)
    with (head[1] if present and head else settings).container(border=True):
        if not present:
            st.markdown(output_size)
        for which, label in (("rows", "height and width" if square else "height"), ("cols", "width")):
            if which == "rows" or not square:
                st.latex(
                    (rf"\text{{{label}: }}" if not square else "") + formula_latex(geo, which)  # one line each
                    if present
                    else stacked(formula_latex(geo, which), two_lines=True, label=label)
                )
        if note := ceil_mode_note(geo):
            st.caption(note)

    # One row that wraps on a narrow screen (a projector's 1024 px) instead of cutting labels.
    channel_row = settings.container(horizontal=True, vertical_alignment="bottom", gap="medium")
    in_channels = bound(channel_row.container(width=150), "cin", SETTINGS["cin"])
    out_channels, groups, flip = in_channels, 1, False
    use_bias = False
    if not geo.pooling:
        out_channels = bound(channel_row.container(width=150), "cout", SETTINGS["cout"])
        use_bias = bound(channel_row, "bias", SETTINGS["bias"])
    if geo.op == "conv":
        groups = bound(channel_row, "g", SETTINGS["g"], limit=in_channels, required=True) or 1
        flip = bound(channel_row, "flip", SETTINGS["flip"])
    source = bound(channel_row, "vals", SETTINGS["vals"], horizontal=True)
    try:
        check_groups(in_channels, out_channels, groups)
    except ValueError as exc:
        st.error(f"PyTorch rejects this setting: {exc}.", icon=":material/block:")
        st.stop()
    x, weight, bias = random_values(
        geo, in_channels, out_channels, seed_control(SETTINGS["seed"], "seed", channel_row), use_bias, groups
    )
    if source == "image" and choice.image is not None:
        x = np.stack([grayscale_crop(choice.image, geo.input_size)] * in_channels)
    elif source == "custom":
        x, weight, bias = edit_values(settings, geo.op, x, weight, bias)
    scene = arithmetic_scene(geo, x, weight, bias, groups, flip)
    offer_questions("arithmetic", questions(scene))

    views = views_for(geo)
    tabs = bound(st.container(), "atab", SETTINGS["atab"], options=ARITHMETIC_TABS[1:] if present else ARITHMETIC_TABS)
    mapping, playground, code = tabs[-3:]  # each computes only while open (tab.open): a slider reruns one view
    animated = stage if present else tabs[0]
    with animated:
        if present or tabs[0].open:  # the stage is always shown
            view = views[0]
            if len(views) > 1:
                view = bound(
                    st.container(), "view", SETTINGS["view"], options=views, format_func=VIEW_NAMES.get, horizontal=True
                )
            frames = num_frames(scene, view)
            if player.fits(scene, view):
                if not present:
                    st.caption(
                        "Play, pause, step or drag through every step; keys: space plays or pauses, ← and → step. "
                        "Red: the cells and kernel taps of this step (striped: padding or inserted zeros; dotted "
                        "frame: the input). Orange: the output cell written."
                    )
                opening_step = int(st.query_params.get("step", 1))  # a link's step (vetted by the link check)
                step_player(
                    player_payload(scene, view),
                    "player",
                    speed_value(SETTINGS["speed"]),
                    present,
                    opening_step,
                    link="step",
                    report=teaching(),
                )
            else:
                st.caption(
                    f"This case has {frames} steps, too many to send to the browser at once: it steps on the "
                    "server, more slowly. Smaller sizes or fewer channels animate in the browser."
                )
                speed_control(SETTINGS["speed"], st.columns([1, 2])[0])

                @fragment(run_every=play_interval(SETTINGS["speed"]))
                def animation() -> None:
                    index = step_controls(frames, SETTINGS["step"])
                    st.markdown(step_caption(scene, index, view))
                    st.plotly_chart(
                        step_figure(arithmetic_board(scene, view), index),
                        key="step_figure",
                        config={"displayModeBar": False},
                    )

                animation()
            if frames <= MAX_GIF_FRAMES:
                st.download_button(
                    "Download the animation as GIF",
                    lambda: gif_bytes(board(scene, view)),  # made when asked for: a plain call, outside the run
                    "convolution.gif",
                    "image/gif",
                    icon=":material/download:",
                    key="gif",
                )
            else:
                st.caption(f"GIF download is offered up to {MAX_GIF_FRAMES} steps; this setting has {frames}.")
            st.download_button(
                "Download a handout to print (every step's numbers)",
                lambda: handout_html(scene),  # made when asked for
                "cnnviz-handout.html",
                "text/html",
                icon=":material/print:",
                key="handout",
                help="A page for A4 or Letter paper: the setting, the output-size formula, the numbers and every "
                "step. Open the file in a browser and print it.",
            )
            if geo.op == "conv" and not present:
                channels_view(scene, use_bias)

    with mapping:
        if mapping.open:  # one question under the other: each figure gets the full width
            st.markdown("**Which input cells and kernel taps feed an output cell?**")
            out_cell = cell_picker(st.columns([1, 2])[0], "output", geo.output_size, "out")
            index = out_cell[0] * geo.cols.output + out_cell[1]
            st.caption(step_caption(scene, index, "window"))
            st.plotly_chart(
                step_figure(arithmetic_board(scene, "window"), index), key="map_out", config={"displayModeBar": False}
            )
            st.markdown("**Which output cells does an input cell feed?**")
            in_cell = cell_picker(st.columns([1, 2])[0], "input", geo.input_size, "in")
            st.plotly_chart(
                feeds_figure(arithmetic_board(scene, "window"), in_cell), key="map_in", config={"displayModeBar": False}
            )

    with playground:
        if not playground.open:
            pass
        elif geo.op != "conv":
            st.info("The kernel playground applies a convolution: choose Convolution above.")
        elif choice.image is None:
            st.info("Choose an image in the sidebar.")
        else:
            left, middle, right = st.columns([2, 1, 2])
            name = bound(middle, "kernel", SETTINGS["kernel"])
            kernel_values = kernel_editor(name, middle)
            middle.caption("Stride, padding and dilation are the ones set above.")
            gray = grayscale(choice.image)
            try:
                play_geo = ar.geometry(
                    "conv",
                    gray.shape,
                    kernel_values.shape,
                    (geo.rows.stride, geo.cols.stride),
                    padding_value if isinstance(padding_value, str) else (geo.rows.pad_before, geo.cols.pad_before),
                    (geo.rows.dilation, geo.cols.dilation),
                )
                feature_map = apply_kernel(gray, kernel_values, play_geo)
                left.image(
                    gray, caption=f"Input {gray.shape[0]}×{gray.shape[1]} (grayscale)", clamp=True, width="stretch"
                )
                low, high = float(feature_map.min()), float(feature_map.max())
                shown = (feature_map - low) / (high - low) if high > low else np.zeros_like(feature_map)
                size_text = f"{feature_map.shape[0]}×{feature_map.shape[1]}"
                right.image(
                    shown,
                    clamp=True,
                    width="stretch",
                    caption=f"Feature map {size_text} (values {low:.2f} … {high:.2f}, shown black to white)",
                )
            except ValueError as exc:
                st.error(f"PyTorch rejects this setting for the image. {exc}")

    with code:
        if code.open:
            st.code(pytorch_code(geo, in_channels, out_channels, use_bias, groups, flip), language="python")


case_view()
