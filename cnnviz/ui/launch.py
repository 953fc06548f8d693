"""Serve the app with its shared resources warmed first: ``python -m cnnviz.ui.launch [options]`` imports what the
pages use and loads the default model, then runs ``streamlit run app.py [options]``, so the first visitor does not
pay for them (measured: ``benchmarks/pages.py``).

The server answers its health check (``/_stcore/health``) only once it is warm: a load balancer or a container's
health check sends no visitor to a replica that would keep them waiting. The warm-up fills the same caches the
pages read (Streamlit's ``cache_resource`` is one store per process), on a thread of its own at a lower CPU
priority (other replicas on the machine keep theirs), and only logs when it fails: the app works cold too.
"""

from __future__ import annotations

import gc
import importlib
import logging
import pkgutil
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

APP = Path(__file__).resolve().parents[2] / "app.py"
"""The Streamlit script served."""

SKIPPED = ("cnnviz.ui.launch",)
"""Modules never imported by the warm-up (this one is already running)."""


LAZY_LIBRARIES = ("pandas", "pyarrow")
"""Libraries Streamlit imports only when a page first shows a table (300 modules): imported by the warm-up too, so
that they are frozen with the rest (:func:`keep_out_of_collections`)."""


def import_library() -> int:
    """Import every module of the ``cnnviz`` package (and with them torch, torchvision, captum, Plotly); the number
    imported."""
    import cnnviz

    count = 0
    for info in pkgutil.walk_packages(cnnviz.__path__, "cnnviz."):
        if info.name in SKIPPED or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
        count += 1
    return count


def warm_default_model() -> None:
    """Load the default model into the shared cache and run what Home shows for the default sample once: its
    prediction, kept in the shared store Home reads, and its chart, serialised as Streamlit sends it (Plotly's first
    figure is slow to make)."""
    import plotly.io

    from cnnviz.data.samples import list_samples
    from cnnviz.explain.charts import probability_bars
    from cnnviz.models.tinyvgg import TINYVGG
    from cnnviz.ui.downloads import shared_model
    from cnnviz.ui.selection import Selection, default_sample, sample_image

    model = shared_model(TINYVGG)
    if list_samples():
        name = default_sample()
        prediction = Selection(model, sample_image(name), name).prediction()
        plotly.io.to_json(probability_bars(prediction.top(10), "warm-up"), validate=False)


class _OwnThreadWarnings(logging.Filter):
    """Drops Streamlit's warnings about a missing script run or runtime raised on the warm-up thread: it fills the
    caches outside any script run, before the server starts, on purpose, and the warnings would say nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != WARM_THREAD


WARM_THREAD = "cnnviz-warm-up"
STREAMLIT_CONTEXT_LOGGERS = (
    "streamlit.runtime.scriptrunner_utils.script_run_context",  # "missing ScriptRunContext"
    "streamlit.runtime.caching.cache_data_api",  # "No runtime found": the warm-up runs before Streamlit starts
)
_OWN_THREAD_WARNINGS = _OwnThreadWarnings()


def warm() -> float:
    """Import the library and warm the default model; the seconds it took (errors are logged, not raised)."""
    from cnnviz.server.jobs import lower_priority

    for name in STREAMLIT_CONTEXT_LOGGERS:
        logging.getLogger(name).addFilter(_OWN_THREAD_WARNINGS)  # one instance: added once, however often warmed
    started = time.perf_counter()
    try:
        lower_priority()
        modules = import_library()
        for name in LAZY_LIBRARIES:
            importlib.import_module(name)
        warm_default_model()
    except Exception:  # the app works cold: a failed warm-up is only slower
        logger.exception("warming the shared resources failed")
    else:
        seconds = time.perf_counter() - started
        logger.info("warmed the shared resources in %.1f s (%d modules)", seconds, modules)
        return seconds
    return time.perf_counter() - started


def keep_out_of_collections() -> int:
    """Move every object alive now (the libraries, the default model) out of the garbage collector's reach; the
    number moved. Streamlit runs a full collection after every script run (``runner.postScriptGC``), which walks
    every object of the process: 0.26 s after the warm-up on this machine, at every rerun of every session, and
    nothing after this (measured: ``benchmarks/pages.py``). What the sessions make later is collected as before."""
    gc.collect()  # what is garbage already goes first: a frozen object is never collected (only freed by refcount)
    gc.freeze()
    return gc.get_freeze_count()


def main(arguments: Sequence[str] | None = None) -> None:
    """Warm up, then start Streamlit with ``arguments`` (default: this command's)."""
    from streamlit.web import cli

    from cnnviz.server.logs import configure

    configure()
    warming = threading.Thread(target=warm, name=WARM_THREAD, daemon=True)
    warming.start()
    warming.join()
    keep_out_of_collections()
    options = list(sys.argv[1:] if arguments is None else arguments)
    sys.argv = ["streamlit", "run", str(APP), *options]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":  # run as the package's module, so that its logger is cnnviz's
    from cnnviz.ui.launch import main as package_main

    package_main()
