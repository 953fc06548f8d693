"""A page's link: parameters it cannot use are dropped before any control reads them, with a notice."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import streamlit as st

from cnnviz import links


def forget_url_params(keys: Iterable[str]) -> None:
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


def url_numbers(keys: Iterable[str]) -> dict[str, int]:
    """The whole numbers the URL holds for ``keys`` (selections made by clicking rather than by a widget; the link
    check has vetted them): missing or malformed ones are left out."""
    values = {}
    for key in keys:
        try:
            values[key] = int(st.query_params[key])
        except (KeyError, ValueError):
            continue
    return values


def keep_in_url(values: dict[str, object | None]) -> None:
    """Set (or, for None, remove) URL parameters that no widget binds: a copied link then reopens the selection."""
    for key, value in values.items():
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        else:
            st.query_params[key] = str(value)


def check_link(page: str) -> None:
    """Drop the URL's parameters that ``page`` cannot use (:func:`cnnviz.links.check_query`), before any control
    reads them, and say which were ignored."""
    query = {key: st.query_params.get_all(key) for key in st.query_params}
    kept, notices = links.check_query(page, query)
    forget_url_params([key for key in query if key not in kept and key not in links.APP_PARAMS])
    if notices:
        st.warning(
            "Some settings in this link cannot be used, so their defaults are shown:\n\n- " + "\n- ".join(notices),
            icon=":material/link_off:",
        )


# --- a link applied over a session's own state: a followed teacher's view ----------------------------------------

FOLLOWED_KEY = "_cnnviz_followed_link"


def follow_link(query: dict[str, str]) -> None:
    """Make this run's controls show ``query`` (a checked link of the page about to run) over whatever the browser
    still holds for them: each bound control takes its value from the link, or, where the link does not set it,
    the value the page set in this run or else its default (:func:`cnnviz.ui.controls.bound`). Until
    :func:`followed` is called at the end of a completed run."""
    st.session_state[FOLLOWED_KEY] = dict(query)


def followed() -> None:
    """The run that applied a followed link is complete: controls keep their own values again."""
    st.session_state.pop(FOLLOWED_KEY, None)


def following_link() -> bool:
    """Whether a followed link was applied and no run has drawn the whole page since (a rerun the browser asked for
    at the same moment can replace that run with one of a fragment alone)."""
    return isinstance(st.session_state.get(FOLLOWED_KEY), dict)


def linked_value(key: str) -> tuple[bool, str | None]:
    """Whether a followed link is being applied in this run, and its text for ``key`` (None: the default)."""
    if not following_link():
        return False, None
    return True, st.session_state[FOLLOWED_KEY].get(key)


# --- controls shared by pages -------------------------------------------------------------------------------

URL: Final = "query-params"


def arithmetic_link(label: str, query: dict[str, str]) -> None:
    """A link to the arithmetic page showing the case ``query`` (:func:`cnnviz.links.arithmetic_query` or
    :func:`cnnviz.links.layer_query`)."""
    st.page_link("pages/arithmetic.py", label=label, query_params=query, icon=":material/grid_on:")
