"""The launcher's warm-up: what it imports and loads is what the pages then find ready, and it says so only once."""

from __future__ import annotations

import logging
import pkgutil
import sys
import threading

import cnnviz
from cnnviz.data.samples import load_sample
from cnnviz.explain.predict import predict
from cnnviz.models import registry
from cnnviz.models.tinyvgg import TINYVGG
from cnnviz.server import results
from cnnviz.ui import launch
from cnnviz.ui.downloads import shared_model
from cnnviz.ui.selection import Selection, default_sample, sample_image


def test_every_library_module_is_imported():
    expected = {
        info.name
        for info in pkgutil.walk_packages(cnnviz.__path__, "cnnviz.")
        if info.name not in launch.SKIPPED and not info.name.endswith("__main__")
    }
    assert "cnnviz.ui.downloads" in expected and "cnnviz.ui.launch" not in expected
    assert launch.import_library() == len(expected)
    assert expected <= set(sys.modules)


def warm_as_the_launcher_does() -> float:
    """Run :func:`launch.warm` on its own thread, as the launcher does (it lowers that thread's priority only)."""
    took: list[float] = []
    thread = threading.Thread(target=lambda: took.append(launch.warm()), name=launch.WARM_THREAD)
    thread.start()
    thread.join(timeout=120)
    assert not thread.is_alive() and len(took) == 1
    return took[0]


def test_warm_up_fills_the_shared_model_cache_and_logs_once(caplog, monkeypatch):
    shared_model.clear()
    results.clear_all()
    with caplog.at_level(logging.INFO, logger="cnnviz.ui.launch"):
        assert warm_as_the_launcher_does() > 0
    messages = [r.getMessage() for r in caplog.records if r.name == "cnnviz.ui.launch"]
    assert len(messages) == 1 and messages[0].startswith("warmed the shared resources in ")

    def not_again(*_args, **_kwargs):
        raise AssertionError("the model was loaded a second time")

    monkeypatch.setattr(registry, "load_model", not_again)
    model = shared_model(TINYVGG)  # served from what the warm-up loaded
    assert model.spec.key == TINYVGG
    name = default_sample()
    image = load_sample(name).copy()
    image.thumbnail((1024, 1024))
    monkeypatch.setattr("cnnviz.ui.selection.predict", not_again)  # Home's prediction is kept too
    kept = Selection(model, sample_image(name), name).prediction()
    assert kept.classes == predict(model, image).classes  # what the model says of the sample, worked out again


def test_a_failed_warm_up_is_logged_not_raised(caplog, monkeypatch):
    def broken() -> None:
        raise RuntimeError("no model today")

    monkeypatch.setattr(launch, "warm_default_model", broken)
    with caplog.at_level(logging.INFO, logger="cnnviz.ui.launch"):
        assert warm_as_the_launcher_does() >= 0
    failed = [r for r in caplog.records if r.name == "cnnviz.ui.launch"]
    assert [r.getMessage() for r in failed] == ["warming the shared resources failed"]
    assert failed[0].exc_info and "no model today" in str(failed[0].exc_info[1])


def test_only_the_warm_up_threads_context_warnings_are_dropped():
    drop = launch._OwnThreadWarnings()

    def record(thread: str) -> logging.LogRecord:
        made = logging.LogRecord(
            launch.STREAMLIT_CONTEXT_LOGGERS[0], logging.WARNING, __file__, 1, "missing", None, None
        )
        made.threadName = thread
        return made

    assert not drop.filter(record(launch.WARM_THREAD))
    assert drop.filter(record("ScriptRunner.scriptThread"))


def test_a_warm_up_before_streamlit_starts_logs_no_streamlit_warning():
    """The browser tests fail on any Streamlit warning in the server's log; the warm-up runs with no runtime."""
    import streamlit as st

    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    shared_model.clear()
    st.cache_data.clear()  # (this logs the warning too, on this thread)
    collect = Collect()
    names = [name for name in logging.root.manager.loggerDict if name.startswith("streamlit")]
    loggers = [logging.getLogger(name) for name in names]  # each of Streamlit's, whatever launch filters
    for logger in loggers:
        logger.addHandler(collect)
    try:
        warm_as_the_launcher_does()
    finally:
        for logger in loggers:
            logger.removeHandler(collect)
    assert [r.getMessage() for r in collect.records] == []


def test_objects_alive_after_the_warm_up_are_kept_out_of_collections():
    import gc

    try:
        frozen = launch.keep_out_of_collections()
        # the libraries' objects; a frozen object is still freed when its last reference goes (another test's
        # thread may drop one meanwhile: the count then falls by that much, never rises)
        assert frozen > 10_000 and frozen - 1_000 <= gc.get_freeze_count() <= frozen
        cycle: list = []
        cycle.append(cycle)  # garbage made afterwards is still collected
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()


def test_streamlit_starts_only_once_warm_and_with_the_options_given(monkeypatch):
    """The health check answers only once Streamlit runs, so a server that answers it is warm."""
    import streamlit.web.cli

    events: list[str] = []

    def warm() -> float:
        events.append(f"warm on {threading.current_thread().name}")
        return 0.0

    def streamlit_main(**_kwargs) -> None:
        events.append("streamlit " + " ".join(sys.argv[1:]))

    monkeypatch.setattr(launch, "warm", warm)
    monkeypatch.setattr(streamlit.web.cli, "main", streamlit_main)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    launch.main(["--server.port", "9999"])
    assert events == [f"warm on {launch.WARM_THREAD}", f"streamlit run {launch.APP} --server.port 9999"]
