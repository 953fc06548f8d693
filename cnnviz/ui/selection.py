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
from cnnviz.ui.downloads import model_in_use, stand_in_for_failed
from cnnviz.ui.keys import FALLBACK_KEY, MODEL_KEY, SAMPLE_KEY, SELECTION_KEY, SOURCE_KEY
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


IMAGE_SOURCES = ("Sample", "Upload", "Camera")


def _model_sidebar() -> registry.LoadedModel:
    own = session_models()
    specs = {spec.key: spec for spec in registry.available_models()} | {k: m.spec for k, m in own.items()}
    stand_in_for_failed()
    key = st.sidebar.selectbox(
        "Model",
        list(specs),
        format_func=lambda k: specs[k].label,
        key=MODEL_KEY,
        help="The CNN every page uses.",
        on_change=lambda: st.session_state.pop(FALLBACK_KEY, None),  # a choice of one's own ends the stand-in
    )
    own_model_sidebar()
    return own[key] if key in own else model_in_use(key, specs)


def _image_sidebar() -> tuple[Image.Image | None, str | None]:
    source = st.sidebar.radio("Image", IMAGE_SOURCES, horizontal=True, key=SOURCE_KEY)
    if source != "Sample":
        return sent_image(source)
    names = [s.name for s in list_samples()]
    name = st.sidebar.selectbox("Sample image", names, index=names.index(default_sample()), key=SAMPLE_KEY)
    return sample_image(name), name


def sidebar() -> Selection:
    """Draw the shared sidebar (model and image choice) and remember the choice for this run."""
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
