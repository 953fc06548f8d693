"""Long work in the server's bounded queue, tied to the session that asked for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import streamlit as st

from cnnviz.progress import Progress
from cnnviz.server import jobs, results

T = TypeVar("T")

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
    """Run the block in the server's queue of long computations (:data:`cnnviz.server.jobs.COMPUTATIONS`), showing the
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


def remembered(name: str, wanted: tuple, text: str, make: Callable[[Progress], T]) -> T:
    """``make(progress)`` once per ``wanted`` on this server, in its queue with a progress bar, at a lower CPU
    priority than the pages' own work (:func:`cnnviz.server.jobs.run_lowered`), stopped when the session goes; the
    result is kept in the server's bounded store ``name`` (:mod:`cnnviz.server.results`), shared by every session,
    so ``wanted`` must name everything the result depends on (a session model's key is its own)."""

    def make_in_queue() -> T:
        with queued(text):
            bar = st.progress(0.0, text=text)

            def report(done: int, total: int) -> None:
                bar.progress(done / total, text=f"{text} {done}/{total}")

            made = jobs.run_lowered(make, report, jobs.Liveness(session_alive()))
            bar.empty()
        return made

    return results.store(name).get_or_make(wanted, make_in_queue)


def known(name: str, wanted: tuple) -> bool:
    """Whether :func:`remembered` has a result for ``wanted`` in store ``name`` already."""
    return wanted in results.store(name)
