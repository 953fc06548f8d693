"""Long work in the server's bounded queue, tied to the session that asked for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from cnnviz.server import jobs

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
