"""Learn: short steps from image filters to learned features, each a text beside a live figure.

Each step is a :class:`cnnviz.learn.lessons.Lesson` (title, text, settings); its figure is the function below
registered with ``@figure(key)`` of its lesson, and its controls read their ranges and defaults from the
lesson's settings."""

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from cnnviz.arithmetic import geometry as ar
from cnnviz.arithmetic.board import step_caption
from cnnviz.arithmetic.formulas import formula_latex, stacked
from cnnviz.arithmetic.kernels import KERNELS, grayscale, grayscale_crop
from cnnviz.arithmetic.steps import make_scene
from cnnviz.classroom import quiz
from cnnviz.data.samples import list_samples, load_sample
from cnnviz.explain.cams import cam
from cnnviz.explain.charts import probability_bars, raw_map_figure
from cnnviz.explain.predict import Prediction, predict
from cnnviz.learn import charts, classic, pictures
from cnnviz.learn.beyond import encoder_decoder_sizes
from cnnviz.learn.designed import closest_designed, correlation, designed_map
from cnnviz.learn.lessons import LESSONS, lesson_settings
from cnnviz.learn.stages import forward_pass
from cnnviz.learn.training_aids import dropout
from cnnviz.learn.why_convolutions import conv_versus_dense, field_growth
from cnnviz.links import arithmetic_query, preset_query
from cnnviz.models.tinyvgg import TINYVGG
from cnnviz.network.features import activations
from cnnviz.text import md
from cnnviz.ui.cached import BATCH_SIZE, batch_activations, cam_layers, layer_table, player_payload
from cnnviz.ui.controls import bound
from cnnviz.ui.downloads import shared_model
from cnnviz.ui.links import arithmetic_link
from cnnviz.ui.navigation import handout_style
from cnnviz.ui.player import step_player
from cnnviz.ui.rooms import offer_questions
from cnnviz.ui.selection import selection
from cnnviz.ui.work import queued

choice = selection()
state = st.session_state
WIDE = 480  # pixels for the enlarged pictures: readable on a projector, two side by side at 1024 px


def image_in_use():
    """The sidebar's image, or the first synthetic sample when none is chosen, and its name as Markdown text."""
    if choice.image is not None:
        return choice.image, md(choice.image_name)
    sample = next(s for s in list_samples() if s.synthetic)
    st.info(f"No image is chosen in the sidebar, so this step uses the sample {sample.name}.")
    return load_sample(sample.name), sample.name


def gray_in_use() -> tuple[np.ndarray, str]:
    """The image in use as grayscale in [0, 1], at most 160 pixels a side (classic filters run in NumPy)."""
    image, name = image_in_use()
    return grayscale(image, 160), name


SETTINGS = lesson_settings()
"""Every step's settings as its lesson declares them (cnnviz.learn.lessons): the controls below take their
range, choices and default from there, and so does the link check."""
FIGURES: dict[str, Callable[[], None]] = {}
"""Each step's figure, by its lesson's key."""


def figure(key: str) -> Callable[[Callable[[], None]], Callable[[], None]]:
    """Register the decorated function as the figure of the lesson with ``key``."""

    def register(draw: Callable[[], None]) -> Callable[[], None]:
        FIGURES[key] = draw
        return draw

    return register


def control(container: DeltaGenerator, key: str, limit: int | None = None, **widget: Any) -> Any:
    """The control of the lesson setting ``key``, made from its declaration (up to ``limit`` where the case allows
    less)."""
    return bound(container, key, SETTINGS[key], limit=limit, **widget)


def chosen(key: str) -> str:
    """The declared default of the choice ``key``."""
    default = SETTINGS[key].default
    assert default is not None, key
    return default


@figure("kernel")
def step_1() -> None:
    image, name = image_in_use()
    cols = st.columns([1, 1, 1])
    kernel_name = control(cols[0], "kernel1")
    kernel = KERNELS[kernel_name]
    geo = ar.geometry("conv", 8, kernel.shape[0])
    out_h, out_w = geo.output_size
    row = control(cols[1], "row1", out_h - 1)
    col = control(cols[2], "col1", out_w - 1)
    x = grayscale_crop(image, geo.input_size)
    scene = make_scene(geo, x[None], kernel[None, None])
    index = row * out_w + col
    st.markdown(
        f"An 8×8 grayscale crop of **{name}** (brightness levels 0–9), the {kernel_name} kernel, and "
        f"output cell ({row}, {col}):"
    )
    st.markdown(f"#### {step_caption(scene, index)}")
    step_player(player_payload(scene, "window"), f"learn_player_{kernel_name}_{row}_{col}", start=index + 1)
    st.caption(
        f"The player shows the same step: play or step on to see every other cell computed. PyTorch's `F.conv2d` on "
        f"the same numbers gives {float(scene.output[0, row, col]):g} for this cell; the whole output is "
        f"{out_h}×{out_w}."
    )
    arithmetic_link("Watch every step on the arithmetic page", arithmetic_query("conv", 8, kernel.shape[0]))


def decibels(value: float) -> str:
    return f"{value:.1f} dB" if np.isfinite(value) else "∞ dB"


@figure("blur")
def step_2() -> None:
    gray, name = gray_in_use()
    cols = st.columns(4)
    noise = control(cols[0], "noise")
    blur = control(cols[1], "blur", horizontal=True)
    sigma = control(cols[2], "sigma", disabled=blur != "Gaussian")
    box = control(cols[3], "box", disabled=blur != "box")
    noisy = classic.add_noise(gray, noise, seed=0)
    if blur == "Gaussian":
        smooth = classic.mirrored(lambda a: classic.gaussian_blur(a, sigma), noisy, len(classic.gaussian_kernel(sigma)))
    else:
        smooth = classic.mirrored(lambda a: classic.box_blur(a, box), noisy, box)
    before, after = classic.psnr(gray, noisy), classic.psnr(gray, smooth)
    metrics = st.columns(2)
    metrics[0].metric("PSNR of the noisy image", decibels(before), help="∞: identical to the clean image")
    change = f"{after - before:+.1f} dB" if np.isfinite(before) else None
    metrics[1].metric("PSNR after the blur", decibels(after), delta=change)
    pics = st.columns(3)
    pics[0].image(pictures.gray_picture(gray, 0, 1), caption=f"{name}, grayscale", width="stretch")
    pics[1].image(pictures.gray_picture(noisy, 0, 1), caption=f"with noise σ = {noise}", width="stretch")
    what = f"Gaussian σ = {sigma}" if blur == "Gaussian" else f"{box}×{box} box"
    pics[2].image(pictures.gray_picture(smooth, 0, 1), caption=f"blurred: {what}", width="stretch")
    st.markdown(
        "**Derivatives** of the blurred image (Sobel): red is negative, blue positive. (Filters here see "
        "the image mirrored beyond its border, so the frame does not count as an edge.)"
    )
    d_row, d_col = classic.mirrored(lambda a: (classic.sobel(a, 0), classic.sobel(a, 1)), smooth, 2)
    magnitude, orientation = classic.gradient_of(d_row, d_col)
    derived = st.columns(4)
    derived[0].image(pictures.map_picture(d_col), caption="∂x: change along a row (vertical edges)", width="stretch")
    derived[1].image(
        pictures.map_picture(d_row), caption="∂y: change down a column (horizontal edges)", width="stretch"
    )
    derived[2].image(pictures.gray_picture(magnitude), caption="gradient magnitude: edge strength", width="stretch")
    derived[3].image(
        pictures.orientation_picture(magnitude, orientation),
        caption="orientation as colour, strength as brightness",
        width="stretch",
    )


@figure("corners")
def step_3() -> None:
    gray, name = gray_in_use()
    cols = st.columns(4)
    window = control(cols[0], "window")
    k = control(cols[1], "hk")
    threshold = control(cols[2], "thresh")
    spacing = control(cols[3], "spacing")
    reach = len(classic.gaussian_kernel(window)) + 2
    arr, arc, acc = classic.mirrored(lambda a: classic.structure_tensor(a, window), gray, reach)
    response = classic.harris_of(arr, arc, acc, k)
    corners = classic.corner_peaks(response, spacing, threshold_rel=threshold)
    st.markdown(
        f"**{len(corners)} corners** where $R > {threshold:g}\\cdot\\max R = "
        f"{threshold * float(response.max()):.3g}$, local maxima at least {spacing} px apart (the image "
        "mirrored beyond its border, as in step 2)."
    )
    pics = st.columns(2)
    pics[0].image(pictures.corners_picture(gray, corners, WIDE), caption=f"corners on {name}", width="stretch")
    shown = np.sign(response) * np.sqrt(np.abs(response))  # a square root, so weaker responses show too
    pics[1].image(
        pictures.enlarged(pictures.map_picture(shown), WIDE),
        width="stretch",
        caption="the response R (as sign·√|R|): blue corners (R > 0), red edges (R < 0), white flat",
    )
    if len(corners):
        r, c = corners[0]
        st.latex(
            rf"A_{{({r},{c})}} = \begin{{pmatrix}} {arr[r, c]:.3f} & {arc[r, c]:.3f} \\ {arc[r, c]:.3f} & "
            rf"{acc[r, c]:.3f} \end{{pmatrix}},\quad R = \det A - {k:g}\,(\operatorname{{tr}} A)^2 = "
            rf"{response[r, c]:.4f}"
        )
        st.caption(f"The structure tensor at the strongest corner, row {r}, column {c}.")


def embedded_input(image) -> tuple:
    model = shared_model(TINYVGG)
    return model, model.preprocess(image)


@figure("learned")
def step_4() -> None:
    image, name = image_in_use()
    model, x = embedded_input(image)
    weight = model.module.features.conv_1_1.weight.detach().numpy()
    matches = closest_designed(weight)
    index = control(st.container(), "filt", len(matches) - 1)
    match = matches[index]
    offer_questions("learn", {"designed_match": lambda: quiz.designed_match(weight, index)})
    learned = weight[index].mean(axis=0)
    sign = "the same pattern" if match.correlation > 0 else "the same pattern with its sign flipped"
    st.markdown(
        f"Learned filter {index} (its 3 colour slices averaged) and the closest designed kernel, "
        f"**{match.name}**: correlation **{match.correlation:+.2f}** ({sign})."
    )
    st.plotly_chart(
        charts.kernels_figure([(f"learned filter {index}", learned), ("designed", match.kernel)]),
        key="learn_kernels",
        config={"displayModeBar": False},
    )
    learned_map = activations(model.module, x, ["features.conv_1_1"])["features.conv_1_1"][0, index].numpy()
    gray = model.seen_pixels(x).mean(axis=0)
    designed = designed_map(gray, match.kernel)
    agreement = correlation(learned_map, designed)
    pics = st.columns(2)
    pics[0].image(
        pictures.enlarged(pictures.map_picture(learned_map), WIDE),
        width="stretch",
        caption=f"learned filter {index}'s feature map on {name}",
    )
    pics[1].image(
        pictures.enlarged(pictures.map_picture(designed), WIDE),
        width="stretch",
        caption=f"{match.name} on the same image (grayscale)",
    )
    st.markdown(f"The two feature maps correlate at **{agreement:+.2f}**.")
    table = pd.DataFrame(
        [
            {"filter": m.filter_index, "closest designed kernel": m.name, "correlation": round(m.correlation, 2)}
            for m in matches
        ]
    )
    with st.expander(f"All {len(matches)} first-layer filters"):
        st.dataframe(table, hide_index=True)


@figure("arithmetic")
def step_5() -> None:
    if "op5" not in state:
        state.op5 = next(op for op, name in ar.OP_NAMES.items() if name == chosen("op5"))
    op: ar.Op = (
        control(
            st.container(), "op5", options=ar.OPS, format_func=ar.OP_NAMES.__getitem__, required=True, width="stretch"
        )
        or "conv"  # required: never None
    )
    cols = st.columns(6 if op == "transposed" else 5)
    size = control(cols[0], "i5")
    kernel = control(cols[1], "k5")
    stride = control(cols[2], "s5")
    dilation = 1 if op == "avgpool" else control(cols[3], "d5")
    out_pad = 0
    if op == "transposed":
        out_pad = control(cols[5], "a5", ar.max_output_padding(stride, dilation))
    padding = control(cols[4], "p5", ar.max_padding(op, size, kernel, stride, dilation, out_pad))
    try:
        geo = ar.geometry(op, size, kernel, stride, padding, dilation, out_pad)
    except ValueError as exc:
        st.error(f"PyTorch rejects this setting. {exc}", icon=":material/block:")
        return
    st.markdown(f"### Output size: {geo.rows.output} × {geo.cols.output}")
    st.latex(stacked(formula_latex(geo, "rows")))
    query = arithmetic_query(op, size, kernel, stride, padding, dilation, out_pad)
    shown = "" if query["preset"] == "custom" else f" (the preset “{query['preset']}”)"
    arithmetic_link(f"Watch this case step by step on the arithmetic page{shown}", query)
    with st.expander("The 15 cases of Dumoulin & Visin's guide, each a link"):
        for preset in ar.PRESETS:
            arithmetic_link(preset.title, preset_query(preset))


@figure("why")
def step_6() -> None:
    cols = st.columns(4)
    side = control(cols[0], "side6")
    channels_in = control(cols[1], "cin6")
    channels_out = control(cols[2], "cout6")
    kernel = control(cols[3], "k6", side)
    cost = conv_versus_dense(channels_in, (side, side), channels_out, kernel, padding=kernel // 2)
    shape = "×".join(map(str, cost.output_shape))
    frame = pd.DataFrame(
        [
            {
                "layer": f"Conv2d({channels_in}, {channels_out}, {kernel})",
                "parameters": f"{cost.conv.params:,}",
                "multiply-accumulates": f"{cost.conv.macs:,}",
                "inputs per output": f"{cost.conv.inputs_per_output:,}",
            },
            {
                "layer": f"Linear({np.prod(cost.input_shape):,}, {np.prod(cost.output_shape):,})",
                "parameters": f"{cost.dense.params:,}",
                "multiply-accumulates": f"{cost.dense.macs:,}",
                "inputs per output": f"{cost.dense.inputs_per_output:,}",
            },
        ]
    )
    st.markdown(
        f"Both map {channels_in}×{side}×{side} to {shape} (padding {kernel // 2}). The dense layer needs "
        f"**{cost.param_ratio:,.0f}×** the parameters."
    )
    numbers = st.container(horizontal=True, gap="large")  # wraps on a projector instead of cutting a number
    for label, value in (
        ("Conv parameters", cost.conv.params),
        ("Dense parameters", cost.dense.params),
        ("Conv inputs per output", cost.conv.inputs_per_output),
        ("Dense inputs per output", cost.dense.inputs_per_output),
    ):
        numbers.metric(label, f"{value:,}", width="content")
    st.table(frame.set_index("layer"))
    model = shared_model(TINYVGG)
    growth = [(name.split(".")[-1], size) for name, size in field_growth(layer_table(TINYVGG, model))]
    st.markdown("**Receptive field** of one unit after each layer of the embedded TinyVGG:")
    st.plotly_chart(
        charts.field_figure(growth, model.input_size[0]), key="learn_field", config={"displayModeBar": False}
    )


@figure("stages")
def step_7() -> None:
    image, name = image_in_use()
    model, x = embedded_input(image)
    result = forward_pass(model.module, x)
    frame = pd.DataFrame(
        [
            {
                "layer": s.name.split(".")[-1],
                "type": s.kind,
                "output": "×".join(map(str, s.shape)),
                "min": round(s.minimum, 3),
                "max": round(s.maximum, 3),
                "mean": round(s.mean, 3),
                "zeros": f"{s.zero_fraction:.0%}",
            }
            for s in result.stages
        ]
    )
    st.markdown(
        f"Every stage of the embedded TinyVGG for **{name}**: each ReLU's share of zeros is the share of "
        "negative values it removed; each pooling layer halves the side."
    )
    st.dataframe(frame, hide_index=True, height=35 * (len(frame) + 1) + 3)
    probs = result.probabilities.numpy()
    order = np.argsort(-probs, kind="stable")
    prediction = Prediction(tuple(model.classes[i] for i in order), probs[order])
    left, right = st.columns([3, 2])
    left.plotly_chart(probability_bars(prediction, "softmax of the fc layer's logits"), key="learn_softmax")
    right.markdown("**Logits → softmax**, $p_i = e^{z_i} / \\sum_j e^{z_j}$:")
    right.dataframe(
        pd.DataFrame(
            {
                "class": [model.classes[i] for i in order],
                "logit": [round(float(result.logits[i]), 2) for i in order],
                "probability": [f"{probs[i]:.1%}" for i in order],
            }
        ),
        hide_index=True,
    )
    st.markdown(
        "**The hierarchy**: the four most active channels of each block's last convolution (after ReLU). "
        "Early maps follow edges and colours; deeper ones are coarser and respond to parts and whole shapes."
    )
    blocks = [s.name for s in result.stages if s.kind == "ReLU"][1::2]
    for block in blocks:
        maps = result.outputs[block][0].numpy()
        top = np.argsort(-maps.reshape(len(maps), -1).mean(axis=1), kind="stable")[:4]
        row = st.columns(4)
        for column, channel in zip(row, top, strict=True):
            column.image(
                pictures.enlarged(pictures.map_picture(maps[channel], "viridis", symmetric=False), 160),
                caption=f"{block.split('.')[-1]} channel {channel} ({maps.shape[1]}×{maps.shape[2]})",
                width="stretch",
            )


@figure("aids")
def step_8() -> None:
    image, name = image_in_use()
    model, x = embedded_input(image)
    cols = st.columns(3)
    channel = control(cols[0], "ch8")
    p = control(cols[1], "p8")
    seed = control(cols[2], "seed8")
    acts, normalised = batch_activations(TINYVGG, model)
    st.plotly_chart(
        charts.distributions_figure(
            acts[:, channel].numpy(),
            normalised[:, channel].numpy(),
            f"conv_1_1 channel {channel} over a batch of {BATCH_SIZE} synthetic images",
        ),
        key="learn_bn",
        config={"displayModeBar": False},
    )
    feature = activations(model.module, x, ["features.relu_1_1"])["features.relu_1_1"][0, channel]
    dropped = dropout(feature, p, seed)
    st.markdown(
        f"**Dropout p = {p}** on relu_1_1 channel {channel} for {name}: "
        f"{dropped.kept_fraction:.0%} of the values kept, each ×{1 / (1 - p):.2f}; mean "
        f"{float(feature.mean()):.3f} → {float(dropped.train.mean()):.3f} (the same on average)."
    )
    pics = st.columns(3)
    top = float(dropped.train.max()) or 1.0
    pics[0].image(
        pictures.enlarged(pictures.gray_picture(feature.numpy(), 0, top), 256),
        width="stretch",
        caption="evaluation mode: unchanged",
    )
    pics[1].image(
        pictures.enlarged(pictures.gray_picture(dropped.kept.float().numpy(), 0, 1), 256),
        width="stretch",
        caption="training mode's mask: white kept, black dropped",
    )
    pics[2].image(
        pictures.enlarged(pictures.gray_picture(dropped.train.numpy(), 0, top), 256),
        width="stretch",
        caption=f"training mode: kept values ×{1 / (1 - p):.2f}",
    )
    st.page_link(
        "pages/playground.py", label="Train a network with batch norm and dropout", icon=":material/model_training:"
    )


@figure("gradcam")
def step_9() -> None:
    image, name = image_in_use()
    model = choice.model
    x = model.preprocess(image)
    prediction = predict(model, image)
    target = model.classes.index(prediction.classes[0])
    layer = cam_layers(model.spec.key, model)[0]
    with queued("Computing Grad-CAM"):
        explanation = cam(model.module, x, target, layer, "Grad-CAM")
    st.markdown(
        f"{model.card.architecture} predicts **{md(prediction.classes[0])}** "
        f"({prediction.probabilities[0]:.1%}); Grad-CAM at `{layer}`:"
    )
    pics = st.columns(2)
    pics[0].image(
        model.overlay(image, explanation.heatmap.numpy(), 0.85, "inferno"),
        caption=f"Grad-CAM for {md(prediction.classes[0])} over {name}",
        width="stretch",
    )
    pics[1].plotly_chart(raw_map_figure(explanation.raw.numpy(), "inferno"), key="learn_cam")
    st.page_link("pages/explain.py", label="Compare Grad-CAM with other methods", icon=":material/center_focus_strong:")


@figure("beyond")
def step_10() -> None:
    image, name = image_in_use()
    cols = st.columns(2)
    side = control(cols[0], "side10")
    depth = control(cols[1], "depth10")
    stages = encoder_decoder_sizes(side, depth)
    st.markdown(
        f"An encoder–decoder on an image of {side}×{side}: {depth} stride-2 convolutions (k 3, p 1; blue) "
        f"then {depth} transposed convolutions (k 4, s 2, p 1; orange) back to {stages[-1].size_out}×"
        f"{stages[-1].size_out}, one class score per pixel."
    )
    if stages[-1].size_out != side:
        st.warning(
            f"The decoder ends at {stages[-1].size_out}×{stages[-1].size_out}, not {side}×{side}: a stride-2 "
            "convolution rounds an odd side up, and doubling cannot undo that. U-Nets crop or pad their maps "
            "(or choose sides divisible by 2 at every stage).",
            icon=":material/straighten:",
        )
    st.plotly_chart(charts.sizes_figure(stages), key="learn_sizes", config={"displayModeBar": False})
    model, x = embedded_input(image)
    last = next(
        layer.output_shape[1:] for layer in reversed(layer_table(TINYVGG, model).layers) if len(layer.output_shape) == 3
    )  # the last spatial feature map's rows and columns
    picture = pictures.enlarged(pictures.rgb_picture(model.seen_pixels(x).transpose(1, 2, 0)), 320)
    left, right = st.columns([2, 3])
    left.image(
        pictures.grid_picture(picture, (last[0], last[1])),
        width="stretch",
        caption=f"The embedded TinyVGG's last feature map is a {last[0]}×{last[1]} grid over {name}: a "
        "detector's head predicts a class and a box from each cell.",
    )
    with right:
        st.markdown("Transposed convolutions, step by step:")
        for title in ("No padding, strides, transposed", "Padding, strides, transposed"):
            preset = next(p for p in ar.PRESETS if p.title == title)
            arithmetic_link(title, preset_query(preset))


def move(delta: int) -> None:
    state.lesson = min(max(int(state.get("lesson", 1)) + delta, 1), len(LESSONS))


# the title and the step buttons share a row: on a projector the step's figure starts within the first screen
title_row = st.columns([1, 4], vertical_alignment="bottom")
title_row[0].title("Learn", anchor=False)
if "lesson" not in state:
    state.lesson = 1
nav = title_row[1].columns([1, 8, 1], vertical_alignment="bottom", gap="small")
number = (
    control(nav[1], "lesson", required=True, width="stretch") or 1  # required: never None
)
nav[0].button(
    "",
    on_click=move,
    args=(-1,),
    key="lesson_back",
    disabled=number == 1,
    help="Previous step",
    icon=":material/chevron_left:",
    width="stretch",
)
nav[2].button(
    "",
    on_click=move,
    args=(1,),
    key="lesson_next",
    disabled=number == len(LESSONS),
    help="Next step",
    icon=":material/chevron_right:",
    width="stretch",
)
st.caption(
    f"From image filters to learned features in {len(LESSONS)} short steps, each a few sentences with a live figure "
    "under them, computed for the sidebar's image. The step and its settings are kept in the page's link."
)
lesson = LESSONS[number - 1]
offer_questions("learn", {})  # a step that can be asked about offers its question (step 4)
st.header(f"{lesson.number}. {lesson.title}", anchor=False)
st.markdown(lesson.text)
FIGURES[lesson.key]()
if control(st.container(), "handout"):  # below the figure: on a projector the figure starts on the first screen
    handout_style()  # the step as its printed handout shows it
