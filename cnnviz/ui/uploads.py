"""What a visitor sends: images (upload, camera) decoded within the size limits, and models of their own."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import streamlit as st
from PIL import Image

from cnnviz.data.images import MAX_BYTES, ImageError, load_image
from cnnviz.models import custom, registry
from cnnviz.server.logs import refused
from cnnviz.text import md
from cnnviz.ui.keys import CAMERA_KEY, MODEL_KEY, OWN_MODEL_ERROR_KEY, PICKED_KEY, SESSION_MODELS_KEY, UPLOAD_KEY

UNSUPPORTED_HINTS = {
    ".heic": "HEIC/HEIF photos (iPhone's default) cannot be read here: export the photo as JPEG first.",
    ".heif": "HEIC/HEIF photos (iPhone's default) cannot be read here: export the photo as JPEG first.",
    ".svg": "Vector drawings (SVG) cannot be read here: export the drawing as PNG first.",
    ".pdf": "PDF files cannot be read here: export the page as PNG first.",
}
"""Extra advice for files people often try, shown under the decoder's message."""
logger = logging.getLogger(__name__)
_LOGGED_KEY = "_refusals_logged"
MAX_SIDE = 1024
"""Images are kept at most this many pixels on their long side: plenty for every model and overlay."""


def widget_cap_mb(limit_bytes: int) -> int:
    """An uploader's ``max_upload_size`` that lets every file of up to ``limit_bytes`` through: Streamlit's
    browser counts megabytes of 10⁶ bytes, cnnviz's limits are in MiB, whose own messages then refuse the rest."""
    return math.ceil(limit_bytes / 1e6)


@st.cache_data(show_spinner=False, max_entries=32)
def decoded_image(data: bytes) -> Image.Image:
    return load_image(data, max_side=MAX_SIDE)


def sent_image(source: str) -> tuple[Image.Image | None, str | None]:
    """The image sent through the sidebar's ``source`` ("Upload" or "Camera"), decoded; (None, None) with a
    message in the sidebar when there is none yet or it cannot be read."""
    if source == "Upload":
        # No type filter: Streamlit raises (an error page) when a file's extension is not in it, and cnnviz's
        # decoder refuses anything it cannot read with a clear message anyway.
        upload = st.sidebar.file_uploader(
            "Upload an image",
            key=UPLOAD_KEY,
            max_upload_size=widget_cap_mb(MAX_BYTES),
            help=f"PNG, JPEG, GIF, WebP, BMP or TIFF, up to {MAX_BYTES // 2**20} MiB.",
        )
        if upload is None:
            st.sidebar.info("Choose an image file (PNG, JPEG, GIF, WebP, BMP or TIFF).")
            return None, None
        data, name, ident = upload.getvalue(), upload.name, upload.file_id
    else:
        photo = st.sidebar.camera_input("Take a photo", key=CAMERA_KEY)
        if photo is None:
            return None, None
        data, name, ident = photo.getvalue(), "camera photo", photo.file_id
    try:
        return decoded_image(data), name
    except ImageError as exc:
        logged = st.session_state.setdefault(_LOGGED_KEY, set())
        if ident not in logged:  # once per upload, not on every rerun that shows its message again
            logged.add(ident)
            refused(logger, "image", len(data), exc)
        hint = UNSUPPORTED_HINTS.get(Path(name).suffix.lower(), "")
        st.sidebar.error(md(f"{name}: {exc} {hint}".rstrip()), icon=":material/broken_image:")
        return None, None


def session_models() -> dict[str, registry.LoadedModel]:
    """Models trained in this session's playground or uploaded in it, offered beside the registry's."""
    return st.session_state.setdefault(SESSION_MODELS_KEY, {})


def add_session_model(model: registry.LoadedModel) -> None:
    """Offer ``model`` on every page for the rest of the session, and select it."""
    session_models()[model.spec.key] = model
    st.session_state[MODEL_KEY] = model.spec.key
    st.session_state[PICKED_KEY] = True  # it no longer follows the image


def _load_own_model() -> None:
    """The "Load model" button's callback (it runs before the widgets, so it may select the new model)."""
    state = st.session_state
    state.pop(OWN_MODEL_ERROR_KEY, None)
    upload = state.get("own_file")
    if upload is None:
        state[OWN_MODEL_ERROR_KEY] = (
            "Choose a model file first (one still uploading is not here yet: load it once its spinner stops)."
        )
        return
    names = custom.parse_class_names(state.get("own_classes", "")) or None
    architecture = state.get("own_arch", "resnet18")
    classes = None if architecture == custom.ONNX else int(state.get("own_num_classes", 1000))  # a graph says
    try:
        fed = _onnx_preprocessing() if architecture == custom.ONNX else None
        model = custom.load_uploaded_model(
            upload.getvalue(), architecture, classes, names, upload.name, onnx_preprocessing=fed
        )
    except custom.ModelFileError as exc:
        refused(logger, "model file", upload.size, exc)
        state[OWN_MODEL_ERROR_KEY] = f"{upload.name}: {exc}"
        return
    add_session_model(model)


DEFAULT_MEAN, DEFAULT_STD = (", ".join(map(str, v)) for v in (custom.IMAGENET_MEAN, custom.IMAGENET_STD))
_PREPROCESSING_HELP = (
    "Used when the graph's metadata gives no mean and std: ImageNet's by default (a one-channel graph then gets "
    "0.5 and 0.5). One number per input channel, separated by commas."
)


def _onnx_preprocessing() -> custom.OnnxPreprocessing:
    """The upload form's mean, std and input size for an ONNX graph; the defaults left as they are mean "ImageNet's,
    or 0.5 for a grey graph".

    Raises:
        ModelFileError: numbers that cannot be read.
    """
    state = st.session_state
    mean_text, std_text = state.get("own_mean", DEFAULT_MEAN), state.get("own_std", DEFAULT_STD)
    side = int(state.get("own_size", 224))
    if mean_text.strip() == DEFAULT_MEAN and std_text.strip() == DEFAULT_STD:
        return custom.OnnxPreprocessing(input_size=(side, side))
    mean, std = custom.parse_numbers(mean_text, "mean"), custom.parse_numbers(std_text, "std")
    return custom.OnnxPreprocessing(mean, std, (side, side))


def _load_timm_pretrained() -> None:
    """The pretrained-weights button's callback: timm's model with its weights, or why it cannot be had."""
    state = st.session_state
    state.pop(OWN_MODEL_ERROR_KEY, None)
    architecture = state.get("own_arch", "")
    try:
        with st.spinner("Fetching timm's pretrained weights…"):
            model = custom.load_timm_pretrained(architecture)
    except custom.ModelFileError as exc:
        state[OWN_MODEL_ERROR_KEY] = str(exc)
        return
    add_session_model(model)


def own_model_sidebar() -> None:
    """Bring your own model: upload, describe, load; it joins the model list for this session."""
    with st.sidebar.expander("Bring your own model", icon=":material/upload_file:"):
        st.file_uploader(
            "Weights (.safetensors, .pt, .pth) or an ONNX file",
            key="own_file",
            max_upload_size=widget_cap_mb(custom.MAX_MODEL_BYTES),
            help="The state dict of a torchvision or timm architecture: safetensors (recommended) or "
            "torch.save(model.state_dict()); or any image classifier exported with torch.onnx.export (choose "
            'the architecture "ONNX file"). Only data is read; nothing in the file is run. TorchScript files '
            "are programs and are not accepted.",
        )
        st.selectbox(
            "Architecture",
            custom.architectures(),
            key="own_arch",
            format_func=custom.architecture_label,
            help="torchvision's, TinyVGG, or any of timm's image models (type to search: e.g. convnext_atto).",
        )
        if st.session_state.get("own_arch") in custom.timm_pretrained():
            st.button(
                "Load timm's pretrained weights instead",
                key="own_pretrained",
                on_click=_load_timm_pretrained,
                icon=":material/cloud_download:",
                help="No file needed: timm fetches them from the Hugging Face hub (needs the internet; an offline "
                "server says so).",
            )
        if st.session_state.get("own_arch") != custom.ONNX:  # an ONNX graph says how many classes it has
            st.number_input("Number of classes", 1, custom.MAX_CLASSES, 1000, key="own_num_classes")
        else:
            st.caption("Where the graph does not say (its metadata, its input shape), it is fed as follows.")
            st.text_input("Mean per channel", DEFAULT_MEAN, key="own_mean", help=_PREPROCESSING_HELP)
            st.text_input("Std per channel", DEFAULT_STD, key="own_std", help=_PREPROCESSING_HELP)
            st.number_input(
                "Input size (pixels)",
                custom.MIN_INPUT_SIDE,
                custom.MAX_INPUT_SIDE,
                224,
                key="own_size",
                help="For a graph exported with a free height and width: images are resized and centre-cropped "
                "to this square.",
            )
        st.text_area("Class names (optional)", key="own_classes", placeholder="one per line, or comma-separated")
        st.button("Load model", key="own_load", on_click=_load_own_model, icon=":material/play_arrow:")
        if error := st.session_state.get(OWN_MODEL_ERROR_KEY):
            st.error(md(error), icon=":material/error:")
