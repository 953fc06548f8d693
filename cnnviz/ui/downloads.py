"""Shared models, loaded once per server; a missing torchvision download shows a progress bar, and a failed
one leaves a model that ships with the install standing in (the one that suits the image), with the reason and a
retry button."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from cnnviz.models import registry
from cnnviz.models.weights import ProgressCallback, WeightsUnavailableError
from cnnviz.ui.keys import FAILED_KEY, FALLBACK_KEY, MODEL_KEY, PICKED_KEY


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def shared_model(key: str, _progress: ProgressCallback | None = None) -> registry.LoadedModel:
    """One loaded model per key, shared by every session (hence its lock). ``registry.load_model`` is the one
    place a download starts; ``_progress`` (not part of the cache key) reports it."""
    return registry.load_model(key, _progress)


@contextmanager
def download_bar(key: str) -> Iterator[ProgressCallback]:
    """A sidebar progress bar for the download of ``key``'s weights, removed afterwards."""
    bar = st.sidebar.progress(0.0, text=f"Downloading {key} weights…")

    def report(done: int, total: int | None) -> None:
        fraction = min(done / total, 1.0) if total else 0.0
        bar.progress(fraction, text=f"Downloading {key} weights… {done / 1e6:.1f} MB")

    try:
        yield report
    finally:
        bar.empty()


def _retry_download(key: str) -> None:
    st.session_state[FAILED_KEY].pop(key, None)
    st.session_state.pop(FALLBACK_KEY, None)
    st.session_state[MODEL_KEY] = key
    st.session_state[PICKED_KEY] = True


def stand_in_for_failed(stand_in: str) -> None:
    """Before the model box is drawn: a model whose download failed in this session is replaced in the box by
    ``stand_in`` (a model that ships with the install; the box shows the model in use), and remembered as the one
    wanted."""
    if st.session_state.get(MODEL_KEY) in st.session_state.setdefault(FAILED_KEY, {}):
        st.session_state[FALLBACK_KEY] = st.session_state[MODEL_KEY]
        st.session_state[MODEL_KEY] = stand_in


def model_in_use(key: str, specs: dict[str, registry.ModelSpec], stand_in: str) -> registry.LoadedModel:
    """The shared model ``key``, downloaded first (once per session) with a progress bar when its weights are
    not cached; a failed download reruns the page with ``stand_in`` (shipped) standing in, the reason and a retry
    button shown below the box."""
    failed: dict[str, str] = st.session_state.setdefault(FAILED_KEY, {})
    if key not in failed and not registry.weights_cached(key):
        try:
            with download_bar(key) as report:
                return shared_model(key, report)
        except WeightsUnavailableError as exc:
            failed[key] = str(exc)
            st.rerun()  # shows the embedded model in the box, with the reason below it
    wanted = st.session_state.get(FALLBACK_KEY)
    if key == stand_in and wanted in failed:
        st.sidebar.warning(
            f"{specs[wanted].label} is not available. {failed[wanted]}\n\n{specs[stand_in].label}, which ships "
            "with the install, is in use instead.",
            icon=":material/cloud_off:",
        )
        st.sidebar.button(
            f"Retry the {wanted} download", key="retry_download", on_click=_retry_download, args=(wanted,)
        )
    try:
        return shared_model(key)
    except WeightsUnavailableError as exc:
        st.sidebar.warning(f"{exc}\n\nUsing {specs[stand_in].label} instead.", icon=":material/error:")
        return shared_model(stand_in)
