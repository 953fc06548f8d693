"""The sidebar: which model and which image every page uses, chosen once per script run."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import streamlit as st
from PIL import Image

from cnnviz.data.images import fit_within
from cnnviz.data.samples import list_samples, load_sample
from cnnviz.explain.predict import Prediction, predict
from cnnviz.models import registry
from cnnviz.server import results
from cnnviz.text import md
from cnnviz.ui.canvas import drawn_image
from cnnviz.ui.downloads import model_in_use, stand_in_for_failed
from cnnviz.ui.keys import FALLBACK_KEY, MODEL_KEY, PICKED_KEY, SAMPLE_KEY, SELECTION_KEY, SOURCE_KEY
from cnnviz.ui.uploads import MAX_SIDE, own_model_sidebar, sent_image, session_models


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

    def prediction(self) -> Prediction:
        """The model's prediction for the image, made once per server: a rerun, another page or another session
        with the same model and image finds it in the shared store (:mod:`cnnviz.server.results`)."""
        if self.image is None:
            raise ValueError("no image is chosen")
        model, image = self.model, self.image
        return results.store("_predictions").get_or_make(
            (model.spec.key, self.image_digest), lambda: predict(model, image)
        )


@st.cache_data(show_spinner=False)
def sample_image(name: str) -> Image.Image:
    """The shipped sample ``name`` as the pages use it (at most :data:`MAX_SIDE` a side), read once per server."""
    return fit_within(load_sample(name), MAX_SIDE)


def default_sample() -> str:
    """The sample the sidebar offers first: the first synthetic one (the embedded model's kind of image)."""
    samples = list_samples()
    return next((s.name for s in samples if s.synthetic), samples[0].name)


IMAGE_SOURCES = ("Sample", "Upload", "Camera", "Draw")

MODEL_HINT = (
    "Photos: EfficientNet-Lite0 (1000 ImageNet classes). Synthetic samples: TinyVGG (10 shapes). Both ship with "
    "the app and work offline; the model follows the image until you pick another."
)


def photo_chosen() -> bool:
    """Whether the sidebar's image (as its widgets now stand) is a photo: an upload, the camera or a photo sample
    (a drawing is not)."""
    state = st.session_state
    source = state.get(SOURCE_KEY, IMAGE_SOURCES[0])
    if source == "Draw":  # a drawn shape: the synthetic-shapes model's kind of image
        return False
    if source != "Sample":
        return True
    name = _sample_name()
    return not any(s.synthetic for s in list_samples() if s.name == name)


def suited_model() -> str:
    """The shipped model that suits the sidebar's image: EfficientNet-Lite0 for a photo, TinyVGG for a synthetic
    sample."""
    return registry.PHOTO_DEFAULT if photo_chosen() else registry.SYNTHETIC_DEFAULT


def _picked() -> None:
    """The model box's callback: a model of one's own choosing ends a stand-in, and stays put across images unless
    it is the one that suits the image (which then goes on following the image)."""
    st.session_state.pop(FALLBACK_KEY, None)
    st.session_state[PICKED_KEY] = st.session_state[MODEL_KEY] != suited_model()


def _model_sidebar() -> registry.LoadedModel:
    own = session_models()
    specs = {spec.key: spec for spec in registry.available_models()} | {k: m.spec for k, m in own.items()}
    suited = suited_model()
    if not st.session_state.get(PICKED_KEY) or st.session_state.get(MODEL_KEY) not in specs:
        st.session_state[MODEL_KEY] = suited  # set before the box is drawn: it shows the model in use
    stand_in_for_failed(suited)
    key = st.sidebar.selectbox(
        "Model",
        list(specs),
        format_func=lambda k: specs[k].label,
        key=MODEL_KEY,
        help="The CNN every page uses.",
        on_change=_picked,
    )
    st.sidebar.caption(MODEL_HINT)
    own_model_sidebar()
    return own[key] if key in own else model_in_use(key, specs, suited)


_KEPT_SAMPLE_KEY = "_cnnviz_kept_sample"  # the sample box's choice, kept while an upload or the camera is in use


def _sample_name() -> str:
    """The sample chosen in the box, or the one it showed before the image came from elsewhere."""
    state = st.session_state
    return state.get(SAMPLE_KEY) or state.get(_KEPT_SAMPLE_KEY) or default_sample()


def _image_sidebar() -> tuple[Image.Image | None, str | None]:
    state = st.session_state
    if SAMPLE_KEY in state:  # Streamlit forgets a widget's value in a run that does not draw it
        state[_KEPT_SAMPLE_KEY] = state[SAMPLE_KEY]
    source = st.sidebar.radio("Image", IMAGE_SOURCES, horizontal=True, key=SOURCE_KEY)
    if source == "Draw":
        return drawn_image(MAX_SIDE)
    if source != "Sample":
        return sent_image(source)
    names = [s.name for s in list_samples()]
    if state.get(SAMPLE_KEY) not in names:
        state[SAMPLE_KEY] = _sample_name() if _sample_name() in names else default_sample()
    name = st.sidebar.selectbox("Sample image", names, key=SAMPLE_KEY)
    return sample_image(name), name


def sidebar() -> Selection:
    """Draw the shared sidebar (model and image choice) and remember the choice for this run.

    The model box comes first but follows the image chosen below it (:func:`suited_model`): an image widget's
    change reruns the script with the widget's new value already in the session state."""
    model = _model_sidebar()
    image, name = _image_sidebar()
    if image is not None:
        st.sidebar.image(image, caption=md(name), width="stretch")
    choice = Selection(model, image, name)
    st.session_state[SELECTION_KEY] = choice
    return choice


def selection() -> Selection:
    """The choice :func:`sidebar` made in this run; call it once per run, from the page.

    The choice is taken out of the session state, so it can never be stale: a page run without
    ``app.py`` before it (Streamlit's legacy ``pages/`` mode, on a server's very first request) draws the
    sidebar itself.
    """
    choice = st.session_state.pop(SELECTION_KEY, None)
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
