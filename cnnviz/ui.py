"""Streamlit helpers shared by ``app.py`` and the pages: the only module of cnnviz that imports Streamlit.

The sidebar's choice of model and image is made once per script run by :func:`sidebar` and read by the
pages through :func:`selection`; widget keys keep the choice for the whole session, across pages.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from PIL import Image

from cnnviz import jobs, links
from cnnviz.images import MAX_BYTES, ImageError, fit_within, load_image
from cnnviz.models import custom, registry
from cnnviz.models.embedded import EMBEDDED_NAME
from cnnviz.models.weights import ProgressCallback, WeightsUnavailableError
from cnnviz.samples import list_samples, load_sample

MODEL_KEY = "model_key"
SOURCE_KEY = "image_source"
SAMPLE_KEY = "sample_name"
UPLOAD_KEY = "upload"
CAMERA_KEY = "camera"
_SELECTION_KEY = "_cnnviz_selection"
_FALLBACK_KEY = "_cnnviz_fallback_for"  # the model whose weights failed, while the embedded one stands in
_FAILED_KEY = "_cnnviz_failed_downloads"
_SESSION_MODELS_KEY = "_cnnviz_session_models"
_OWN_MODEL_ERROR_KEY = "_cnnviz_own_model_error"

IMAGE_SOURCES = ("Sample", "Upload", "Camera")
UNSUPPORTED_HINTS = {
    ".heic": "HEIC/HEIF photos (iPhone's default) cannot be read here: export the photo as JPEG first.",
    ".heif": "HEIC/HEIF photos (iPhone's default) cannot be read here: export the photo as JPEG first.",
    ".svg": "Vector drawings (SVG) cannot be read here: export the drawing as PNG first.",
    ".pdf": "PDF files cannot be read here: export the page as PNG first.",
}
"""Extra advice for files people often try, shown under the decoder's message."""
MAX_SIDE = 1024
"""Images are kept at most this many pixels on their long side: plenty for every model and overlay."""


def widget_cap_mb(limit_bytes: int) -> int:
    """An uploader's ``max_upload_size`` that lets every file of up to ``limit_bytes`` through: Streamlit's
    browser counts megabytes of 10⁶ bytes, cnnviz's limits are in MiB, whose own messages then refuse the rest."""
    return math.ceil(limit_bytes / 1e6)


@dataclass(frozen=True)
class Selection:
    """What the sidebar chose: the model in use and the image (None when no usable image is chosen)."""

    model: registry.LoadedModel
    image: Image.Image | None
    image_name: str | None

    @functools.cached_property
    def image_digest(self) -> str | None:
        """A content hash of the image, for keying results computed from it."""
        return None if self.image is None else hashlib.sha1(self.image.tobytes()).hexdigest()


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def _shared_model(key: str, _progress: ProgressCallback | None = None) -> registry.LoadedModel:
    """One loaded model per key, shared by every session (hence its lock). ``registry.load_model`` is the one
    place a download starts; ``_progress`` (not part of the cache key) reports it."""
    return registry.load_model(key, _progress)


@st.cache_data(show_spinner=False, max_entries=32)
def _decoded(data: bytes) -> Image.Image:
    return fit_within(load_image(data, max_side=MAX_SIDE), MAX_SIDE)


@st.cache_data(show_spinner=False)
def _sample(name: str) -> Image.Image:
    return fit_within(load_sample(name), MAX_SIDE)


@contextmanager
def _download_bar(key: str) -> Iterator[ProgressCallback]:
    """A sidebar progress bar for the download of ``key``'s weights, removed afterwards."""
    bar = st.sidebar.progress(0.0, text=f"Downloading {key} weights…")

    def report(done: int, total: int | None) -> None:
        fraction = min(done / total, 1.0) if total else 0.0
        bar.progress(fraction, text=f"Downloading {key} weights… {done / 1e6:.1f} MB")

    try:
        yield report
    finally:
        bar.empty()


def session_models() -> dict[str, registry.LoadedModel]:
    """Models trained in this session's playground or uploaded in it, offered beside the registry's."""
    return st.session_state.setdefault(_SESSION_MODELS_KEY, {})


def add_session_model(model: registry.LoadedModel) -> None:
    """Offer ``model`` on every page for the rest of the session, and select it."""
    session_models()[model.spec.key] = model
    st.session_state[MODEL_KEY] = model.spec.key


def _load_own_model() -> None:
    """The "Load model" button's callback (it runs before the widgets, so it may select the new model)."""
    state = st.session_state
    state.pop(_OWN_MODEL_ERROR_KEY, None)
    upload = state.get("own_file")
    if upload is None:
        state[_OWN_MODEL_ERROR_KEY] = "Choose a model file first."
        return
    names = custom.parse_class_names(state.get("own_classes", "")) or None
    architecture, classes = state.get("own_arch", "resnet18"), int(state.get("own_num_classes", 1000))
    try:
        model = custom.load_uploaded_model(upload.getvalue(), architecture, classes, names, upload.name)
    except custom.ModelFileError as exc:
        state[_OWN_MODEL_ERROR_KEY] = f"{upload.name}: {exc}"
        return
    add_session_model(model)


def _own_model_sidebar() -> None:
    """Bring your own model: upload, describe, load; it joins the model list for this session."""
    with st.sidebar.expander("Bring your own model", icon=":material/upload_file:"):
        st.file_uploader("Weights (.safetensors, .pt, .pth)", key="own_file",
                         max_upload_size=widget_cap_mb(custom.MAX_MODEL_BYTES),
                         help="The state dict of a torchvision architecture: safetensors (recommended) or "
                              "torch.save(model.state_dict()). Only tensors are read; nothing in the file is run. "
                              "TorchScript files are programs and are not accepted.")  # fmt: skip
        st.selectbox("Architecture", registry.TORCHVISION_MODELS, key="own_arch")
        st.number_input("Number of classes", 1, custom.MAX_CLASSES, 1000, key="own_num_classes")
        st.text_area("Class names (optional)", key="own_classes", placeholder="one per line, or comma-separated")
        st.button("Load model", key="own_load", on_click=_load_own_model, icon=":material/play_arrow:")
        if error := st.session_state.get(_OWN_MODEL_ERROR_KEY):
            st.error(error, icon=":material/error:")


def _retry_download(key: str) -> None:
    st.session_state[_FAILED_KEY].pop(key, None)
    st.session_state.pop(_FALLBACK_KEY, None)
    st.session_state[MODEL_KEY] = key


def _model_sidebar() -> registry.LoadedModel:
    own = session_models()
    specs = {spec.key: spec for spec in registry.available_models()} | {k: m.spec for k, m in own.items()}
    failed: dict[str, str] = st.session_state.setdefault(_FAILED_KEY, {})  # tried once per session
    if st.session_state.get(MODEL_KEY) in failed:  # the box shows the model in use, not the one that failed
        st.session_state[_FALLBACK_KEY] = st.session_state[MODEL_KEY]
        st.session_state[MODEL_KEY] = EMBEDDED_NAME
    key = st.sidebar.selectbox(
        "Model", list(specs), format_func=lambda k: specs[k].label, key=MODEL_KEY, help="The CNN every page uses.",
        on_change=lambda: st.session_state.pop(_FALLBACK_KEY, None),  # a choice of one's own ends the stand-in
    )
    _own_model_sidebar()
    if key in own:
        return own[key]
    if key not in failed and not registry.weights_cached(key):
        try:
            with _download_bar(key) as report:
                return _shared_model(key, report)
        except WeightsUnavailableError as exc:
            failed[key] = str(exc)
            st.rerun()  # shows the embedded model in the box, with the reason below it
    wanted = st.session_state.get(_FALLBACK_KEY)
    if key == EMBEDDED_NAME and wanted in failed:
        st.sidebar.warning(f"{specs[wanted].label} is not available. {failed[wanted]}\n\nThe embedded TinyVGG "
                           "is in use instead.", icon=":material/cloud_off:")  # fmt: skip
        st.sidebar.button(f"Retry the {wanted} download", key="retry_download", on_click=_retry_download,
                          args=(wanted,))  # fmt: skip
    try:
        return _shared_model(key)
    except WeightsUnavailableError as exc:
        st.sidebar.warning(f"{exc}\n\nUsing the embedded TinyVGG instead.", icon=":material/error:")
        return _shared_model(EMBEDDED_NAME)


def _image_sidebar() -> tuple[Image.Image | None, str | None]:
    source = st.sidebar.radio("Image", IMAGE_SOURCES, horizontal=True, key=SOURCE_KEY)
    if source == "Sample":
        names = [s.name for s in list_samples()]
        default = next((i for i, s in enumerate(list_samples()) if s.synthetic), 0)
        name = st.sidebar.selectbox("Sample image", names, index=default, key=SAMPLE_KEY)
        return _sample(name), name
    if source == "Upload":
        # No type filter: Streamlit raises (an error page) when a file's extension is not in it, and cnnviz's
        # decoder refuses anything it cannot read with a clear message anyway.
        upload = st.sidebar.file_uploader("Upload an image", key=UPLOAD_KEY, max_upload_size=widget_cap_mb(MAX_BYTES),
                                          help=f"PNG, JPEG, GIF, WebP, BMP or TIFF, up to {MAX_BYTES // 2**20} MiB.")
        if upload is None:
            st.sidebar.info("Choose an image file (PNG, JPEG, GIF, WebP, BMP or TIFF).")
            return None, None
        data, name = upload.getvalue(), upload.name
    else:
        photo = st.sidebar.camera_input("Take a photo", key=CAMERA_KEY)
        if photo is None:
            return None, None
        data, name = photo.getvalue(), "camera photo"
    try:
        return _decoded(data), name
    except ImageError as exc:
        hint = UNSUPPORTED_HINTS.get(Path(name).suffix.lower(), "")
        st.sidebar.error(f"{name}: {exc} {hint}".rstrip(), icon=":material/broken_image:")
        return None, None


def sidebar() -> Selection:
    """Draw the shared sidebar (model and image choice) and remember the choice for this run."""
    model = _model_sidebar()
    image, name = _image_sidebar()
    if image is not None:
        st.sidebar.image(image, caption=name, width="stretch")
    choice = Selection(model, image, name)
    st.session_state[_SELECTION_KEY] = choice
    return choice


def selection() -> Selection:
    """The choice :func:`sidebar` made in this run; call it once per run, from the page.

    The choice is taken out of the session state, so it can never be stale: a page run without
    ``app.py`` before it (Streamlit's legacy ``pages/`` mode, on a server's very first request) draws the
    sidebar itself.
    """
    choice = st.session_state.pop(_SELECTION_KEY, None)
    if isinstance(choice, Selection):
        return choice
    _leave_legacy_pages_mode()
    return sidebar()


def _leave_legacy_pages_mode() -> None:
    """Rerun through ``app.py`` when Streamlit ran a page on its own.

    With a ``pages/`` folder beside ``app.py``, a fresh server starts in Streamlit's legacy multipage mode
    until the first ``st.navigation`` call; a first request for a page's URL then runs the page without
    ``app.py`` (no page config, no navigation). Turning the legacy mode off, as ``st.navigation`` itself
    does, and rerunning serves the same page through ``app.py``.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def forget_url_params(keys) -> None:
    """Remove ``keys`` from the URL and from what this run's controls are seeded from.

    A URL-bound control whose range changes is registered anew, and Streamlit then seeds it from the URL
    over any value set in session state; forgetting the parameter lets the set value through. (Streamlit
    refuses ``del st.query_params[key]`` for a bound key, hence its query-params object.)
    """
    keys = [key for key in keys if key in st.query_params]
    if not keys:
        return
    from streamlit.runtime.state.session_state_proxy import get_session_state

    with get_session_state().query_params() as params:
        for key in keys:
            params.remove_param(key)
        params.set_initial_query_params_from_current()


def check_link(page: str) -> None:
    """Drop the URL's parameters that ``page`` cannot use (:func:`cnnviz.links.check_query`), before any control
    reads them, and say which were ignored."""
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    kept, notices = links.check_query(page, query)
    forget_url_params([key for key in query if key not in kept and key not in links.STREAMLIT_PARAMS])
    if notices:
        st.warning("Some settings in this link cannot be used, so their defaults are shown:\n\n- "
                   + "\n- ".join(notices), icon=":material/link_off:")  # fmt: skip


# --- work that outlives a rerun or takes long -----------------------------------------------------------------


def session_alive() -> jobs.Alive:
    """Whether this browser session is still connected (always true outside a server, e.g. in AppTest)."""
    from streamlit.runtime import Runtime
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    if context is None or not Runtime.exists():
        return jobs.always
    runtime, session = Runtime.instance(), context.session_id
    return lambda: runtime.is_active_session(session)


@contextmanager
def queued(label: str) -> Iterator[None]:
    """Run the block in the server's queue of long computations (:data:`cnnviz.jobs.COMPUTATIONS`), showing the
    place in line; a full queue stops the page with a message. Streamlit itself stops the script of a session
    that disconnects at its next progress update."""
    notice = st.empty()
    try:
        def waiting(ahead: int) -> None:
            notice.info(f"{label}: waiting for the server, {ahead} ahead of you…", icon=":material/hourglass_top:")

        with jobs.COMPUTATIONS.slot(session_alive(), waiting):
            notice.empty()
            yield
    except jobs.ServerBusy as exc:
        notice.warning(str(exc), icon=":material/hourglass_disabled:")
        st.stop()
    except jobs.Abandoned:
        st.stop()


# --- controls shared by pages -------------------------------------------------------------------------------

URL = "query-params"
_PLAYING_KEY = "_cnnviz_playing"


def bounded_slider(container, label: str, key: str, max_value: int, min_value: int = 0, default: int = 0) -> int:
    """An integer slider (kept in the URL) whose range may depend on other controls.

    A value already held for ``key`` is clamped into the range first; ``default`` is used only when none
    is held. With nothing to choose (``max_value <= min_value``) it shows the fixed value instead.
    """
    if max_value <= min_value:
        st.session_state[key] = min_value
        container.caption(f"{label}: {min_value} (the only value PyTorch allows here)")
        return min_value
    if key in st.session_state:
        st.session_state[key] = min(max(int(st.session_state[key]), min_value), max_value)
        return container.slider(label, min_value, max_value, key=key, bind=URL)
    value = min(max(default, min_value), max_value)
    return container.slider(label, min_value, max_value, value, key=key, bind=URL)


def _reroll(key: str) -> None:
    st.session_state[key] = int(st.session_state.get(key, 0)) + 1


def seed_control(key: str = "seed", container=None) -> int:
    """A seed input (kept in the URL) with a re-roll button; returns the seed."""
    box = container or st
    left, right = box.columns([3, 2], vertical_alignment="bottom")
    seed = left.number_input("Seed", 0, 1_000_000, 0, key=key, bind=URL)
    right.button("Re-roll", on_click=_reroll, args=(key,), key=f"{key}_reroll", icon=":material/casino:")
    return int(seed)


def cell_picker(container, label: str, size: tuple[int, int], key: str) -> tuple[int, int]:
    """Row and column inputs for a cell of a ``size`` grid; kept values are clamped into the grid."""
    left, right = container.columns(2)
    cell = []
    for box, axis, limit in ((left, "row", size[0]), (right, "col", size[1])):
        k = f"{key}_{axis}"
        if k in st.session_state:
            st.session_state[k] = min(max(int(st.session_state[k]), 0), limit - 1)
        cell.append(int(box.number_input(f"{label.capitalize()} {axis}", 0, limit - 1, "min", key=k)))
    return cell[0], cell[1]


def play_interval(key: str = "speed") -> float | None:
    """Seconds between animation frames while playing, else None (for ``st.fragment(run_every=...)``)."""
    if not st.session_state.get(_PLAYING_KEY):
        return None
    return 1.0 / float(st.session_state.get(key, 2.0))


SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0)


def speed_value(key: str = "speed") -> float:
    """The link's animation speed (steps per second), or 2; the link check has already vetted it."""
    value = st.session_state.get(key, st.query_params.get(key, 2.0))
    try:
        return float(value) if float(value) in SPEEDS else 2.0
    except ValueError:
        return 2.0


def speed_control(container=None, key: str = "speed") -> float:
    """Frames per second for the animation (kept in the URL)."""
    box = container or st
    return float(box.select_slider("Speed (steps per second)", SPEEDS, 2.0, key=key, bind=URL))


def _move(key: str, frames: int, delta: int | None) -> None:
    current = int(st.session_state.get(key, 1))
    st.session_state[key] = 1 if delta is None else min(max(current + delta, 1), frames)
    st.session_state[_PLAYING_KEY] = False


def step_controls(frames: int, key: str = "step") -> int:
    """First / back / play-pause / forward buttons and a scrub slider; returns the 0-based step.

    Call inside a fragment whose ``run_every`` is :func:`play_interval`: each run while playing moves one
    step on, and reaching the last step stops the player.
    """
    playing = bool(st.session_state.get(_PLAYING_KEY))
    current = min(max(int(st.session_state.get(key, 1)), 1), frames)
    if playing:
        if current >= frames:
            st.session_state[_PLAYING_KEY] = False
            st.rerun(scope="app")  # stops the fragment's timer
        current += 1
    st.session_state[key] = current
    buttons = st.columns([1, 1, 1, 1, 8], vertical_alignment="center")
    buttons[0].button("", icon=":material/first_page:", key=f"{key}_first", help="First step",
                      on_click=_move, args=(key, frames, None))  # fmt: skip
    buttons[1].button("", icon=":material/chevron_left:", key=f"{key}_back", help="Step back",
                      on_click=_move, args=(key, frames, -1))  # fmt: skip
    if buttons[2].button("", icon=":material/pause:" if playing else ":material/play_arrow:", key=f"{key}_play",
                         help="Pause" if playing else "Play"):  # fmt: skip
        st.session_state[_PLAYING_KEY] = not playing
        if not playing and current >= frames:
            st.session_state[key] = 1
        st.rerun(scope="app")  # a new timer needs the whole page to run again
    buttons[3].button("", icon=":material/chevron_right:", key=f"{key}_forward", help="Step forward",
                      on_click=_move, args=(key, frames, 1))  # fmt: skip
    if frames > 1:
        buttons[4].slider("Step", 1, frames, key=key, bind=URL, label_visibility="collapsed")
    buttons[4].caption(f"step {st.session_state[key]} of {frames}")
    return int(st.session_state[key]) - 1


# --- the browser-side step player ---------------------------------------------------------------------------

_PLAYER_DIR = Path(__file__).resolve().parents[1] / "assets" / "player"


@functools.cache
def _player_component():
    """The step player (``assets/player``), registered once per process with Streamlit's components v2."""
    return st.components.v2.component(
        "cnnviz_step_player",
        js=(_PLAYER_DIR / "player.js").read_text(encoding="utf-8"),
        css=(_PLAYER_DIR / "player.css").read_text(encoding="utf-8"),
    )


def step_player(data: dict, key: str, speed: float = 2.0, present: bool = False, start: int = 1) -> None:
    """Animate a :func:`cnnviz.player.payload` in the browser: play, pause, step, scrub and speed run there,
    with no rerun per step; the keys space, ←, →, Home and End work while the page has focus. ``speed`` is
    the starting speed, ``start`` the step a fresh page opens at; ``present`` draws larger cells and numbers
    (presentation mode)."""
    _player_component()(data={**data, "speed": speed, "present": present, "start": start}, key=key, width="stretch")


def presentation_style() -> None:
    """Presentation mode: hide the sidebar and its toggle, and use the page's full width from the top."""
    st.html(
        "<style>section[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'],"
        "[data-testid='stExpandSidebarButton'] {display: none !important;}"
        ".block-container, [data-testid='stMainBlockContainer'] {max-width: 100% !important; "
        "padding: 1rem 1.5rem !important;}</style>"
    )
