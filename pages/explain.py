"""Explain a prediction: top classes, Grad-CAM and captum attributions over the image, compared and tested."""

import streamlit as st
from PIL import Image

from cnnviz.data.images import npy_bytes, png_bytes
from cnnviz.explain.cams import CAM_METHODS, Explanation
from cnnviz.explain.caveats import prediction_caveat
from cnnviz.explain.charts import faithfulness_figure, probability_bars, raw_map_figure
from cnnviz.explain.faithfulness import faithfulness
from cnnviz.explain.methods import METHODS, explain
from cnnviz.links import PAGE_PARAMS
from cnnviz.overlay import DEFAULT_OPACITY, FULL_SHARE
from cnnviz.text import md
from cnnviz.ui.cached import cam_layers
from cnnviz.ui.controls import bound
from cnnviz.ui.rooms import page_fragment
from cnnviz.ui.selection import selection
from cnnviz.ui.work import remembered

SETTINGS = PAGE_PARAMS["explain"]
"""The page's settings: the link check and the controls are both made from them."""
COMPARE_PER_ROW = 2
"""Compare panels to a row: at 1024 px (a projector) each is over 300 px wide."""

choice = selection()
model = choice.model
key = model.spec.key


st.title("Explain a prediction")
st.caption("Which classes the model sees, and where it looked: class activation maps and captum attributions.")
if choice.image is None:
    st.info("Choose or upload an image in the sidebar.")
    st.stop()

image = choice.image  # an image from here on

x = model.preprocess(image)
black = model.preprocess(Image.new("RGB", image.size, (0, 0, 0)))  # the deletion / baseline image
digest = choice.image_digest
prediction = choice.prediction()
order = {name: i for i, name in enumerate(model.classes)}


def compute(method: str, target: int, layer: str, label: str) -> Explanation:
    """One explanation of this run's image (``x``, defined above), kept per session for reruns."""
    return remembered(
        "_explanations",
        (key, digest, method, target, layer),
        f"{label}: {method}",
        lambda progress: explain(model.module, x, target, method, layer, black, progress),
    )


left, right = st.columns([1, 2])
k = bound(left, "k", SETTINGS["k"], limit=len(model.classes), default=min(5, len(model.classes)))
right.plotly_chart(probability_bars(prediction.top(k), f"Top {k} of {len(model.classes)} classes"), key="topk")
left.markdown(f"**Prediction: {md(prediction.classes[0])}** ({prediction.probabilities[0]:.1%})")
if caveat := prediction_caveat(model, prediction, choice.image_name):
    st.warning(md(caveat), icon=":material/help:")


def explanation_view(method: str, target: int, target_name: str, layer: str, cmap: str, opacity: float) -> None:
    """The Explanation tab: the map over the image, the raw map and their downloads."""
    result = compute(method, target, layer, "Explaining")
    heat = result.heatmap.numpy()
    picture = model.overlay(image, heat, opacity, cmap)
    one, two = st.columns(2)
    one.image(
        picture,
        caption=f"{method} for '{md(target_name)}' over the image (grey: cropped away before the model saw it)",
        width="stretch",
    )
    raw = result.raw.numpy()
    two.plotly_chart(raw_map_figure(raw, cmap), key="raw")
    stem = f"{key}-{method.lower().replace(' ', '-')}-{target_name.replace(' ', '_')}"
    one.download_button(  # the files are made when asked for, not on every run
        "Download overlay (PNG)",
        lambda: png_bytes(picture),
        f"{stem}.png",
        "image/png",
        key="dl_png",
        icon=":material/download:",
    )
    two.download_button(
        "Download raw map (.npy)",
        lambda: npy_bytes(raw),
        f"{stem}.npy",
        "application/octet-stream",
        key="dl_npy",
        icon=":material/download:",
    )


@page_fragment
def explained() -> None:
    """Everything under the top classes: a change of class, method, layer, colour map, tab or opacity reruns only
    this (not the sidebar, the prediction or its chart)."""
    default, layers = cam_layers(key, model)
    controls = st.columns(4)
    names = list(model.classes)
    if st.session_state.get("_target_for") != (key, digest) or st.session_state.get("target") not in order:
        st.session_state["target"] = prediction.classes[0]  # a new image or model: explain its prediction first
        st.session_state["_target_for"] = (key, digest)
    target_name = controls[0].selectbox("Explain class", names, key="target", help="Type to search.")
    target = order[target_name]
    method = bound(controls[1], "method", SETTINGS["method"])
    uses_layer = method in CAM_METHODS or method == "Guided Grad-CAM"
    layer = controls[2].selectbox(
        "Layer (class activation maps)",
        layers,
        key="layer",
        disabled=not uses_layer,
        help=f"Default: {default}, the last conv stage.",
    )
    cmap = bound(controls[3], "cmap_explain", SETTINGS["cmap_explain"])
    opacity = st.slider(
        "Overlay opacity",
        0.0,
        1.0,
        DEFAULT_OPACITY,
        key="opacity",
        persist_state="page",
        help=f"The strongest {FULL_SHARE:.0%} of the map is drawn at this opacity, its weaker half not at all "
        "(the photo shows through), in between in proportion; for the single view and the Compare panels.",
    )

    explanation_tab, compare_tab, faith_tab = bound(st.container(), "xtab", SETTINGS["xtab"])
    with explanation_tab:
        if explanation_tab.open:  # each tab computes only when open (the faithfulness curves test this same map)
            explanation_view(method, target, target_name, layer, cmap, opacity)

    with compare_tab:
        if compare_tab.open:  # computed only when looked at (each method is another backward pass)
            mode = st.radio(
                "Compare",
                ["methods for this class", "classes for this method"],
                key="compare_mode",
                horizontal=True,
                persist_state="page",
            )
            if mode == "methods for this class":
                picked = st.multiselect(
                    "Methods",
                    METHODS,
                    default=["Grad-CAM", "Grad-CAM++", "Saliency"],
                    key="compare_m",
                    persist_state="page",
                )
                items = [(m, target, f"{m}") for m in picked]
            else:
                picked = st.multiselect(
                    "Classes", names, default=list(prediction.classes[:3]), key="compare_c", persist_state="page"
                )
                items = [(method, order[c], c) for c in picked]
            for first in range(0, len(items), COMPARE_PER_ROW):  # two to a row: each panel large enough to read
                row = st.columns(COMPARE_PER_ROW)
                for column, (m, t, label) in zip(row, items[first : first + COMPARE_PER_ROW], strict=False):
                    shown = compute(m, t, layer, "Comparing")
                    laid = model.overlay(image, shown.heatmap.numpy(), opacity, cmap)
                    column.image(laid, caption=md(label), width="stretch")

    with faith_tab:
        if faith_tab.open:  # about 66 forward passes: only when looked at
            st.caption(
                "RISE's deletion and insertion tests: remove (to black) or insert (into a blurred copy) the most "
                "salient pixels first and watch the class probability. A faithful map makes deletion fall fast "
                "(low area) and insertion rise fast (high area)."
            )
            steps = st.select_slider("Steps", [8, 16, 32, 64], 32, key="faith_steps", persist_state="page")
            tested = compute(method, target, layer, "Explaining").heatmap  # the map the Explanation tab shows
            curves = remembered(
                "_curves",
                (key, digest, method, target, layer, steps),
                "Deletion and insertion, images",
                lambda progress: faithfulness(model.module, x, target, tested, steps, black, progress=progress),
            )
            st.plotly_chart(faithfulness_figure(curves, target_name), key="faithfulness")
            st.markdown(f"Deletion AUC **{curves.deletion_auc:.3f}** · insertion AUC **{curves.insertion_auc:.3f}**")


explained()
