"""The end of a script run: it asks for the garbage it left to be collected (:func:`cnnviz.server.memory.collect_soon`,
one collection for every run that ended within a second), in place of Streamlit's full collection after every run
(``runner.postScriptGC``, off in ``.streamlit/config.toml``). A whole run ends in app.py (:func:`collected`); a
fragment's run on its own ends in :func:`fragment`, which every fragment of the app is made with."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import streamlit as st

from cnnviz.server.memory import collect_soon

Body = TypeVar("Body", bound=Callable[..., Any])


@contextmanager
def collected() -> Iterator[None]:
    """Run the block, then ask for a garbage collection, however the block ended (a rerun, ``st.stop``, an error)."""
    try:
        yield
    finally:
        collect_soon()


def fragment(body: Body | None = None, *, run_every: float | None = None) -> Any:
    """``st.fragment`` (``@fragment`` or ``@fragment(run_every=...)``) whose every run asks for a garbage collection
    when it ends."""

    def wrap(body: Body) -> Body:
        @functools.wraps(body)
        def part(*args: Any, **kwargs: Any) -> Any:
            with collected():
                return body(*args, **kwargs)

        return cast(Body, st.fragment(part, run_every=run_every))

    return wrap(body) if body is not None else wrap
