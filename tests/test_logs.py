"""cnnviz.server.logs: one handler however often app.py runs, the level from CNNVIZ_LOG_LEVEL, unexpected errors
logged with their traceback (not shown), and one line per refused upload with neither its name nor its content."""

from __future__ import annotations

import io
import logging

import pytest

from cnnviz.server import logs
from tests.apptest import assert_no_exception, fresh_caches, navigation_mode, start  # noqa: F401


@pytest.fixture
def cnnviz_log(monkeypatch):
    """The cnnviz logger configured as app.py does, into a buffer; restored afterwards."""
    root = logging.getLogger(logs.ROOT)
    saved = (list(root.handlers), root.level, root.propagate)
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, logs._CnnvizHandler)]
    buffer = io.StringIO()
    monkeypatch.setenv(logs.LEVEL_VARIABLE, "info")
    logs.configure(buffer)
    yield buffer
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    root.propagate = saved[2]


def test_configure_adds_one_handler_and_reads_the_level(cnnviz_log, monkeypatch):
    root = logging.getLogger(logs.ROOT)
    logs.configure()
    logs.configure()
    ours = [h for h in root.handlers if isinstance(h, logs._CnnvizHandler)]  # pytest may add its own beside
    assert len(ours) == 1 and root.level == logging.INFO
    monkeypatch.setenv(logs.LEVEL_VARIABLE, "DEBUG")
    logs.configure()
    logging.getLogger("cnnviz.data.images").debug("a detail")
    assert "DEBUG cnnviz.data.images: a detail" in cnnviz_log.getvalue()
    monkeypatch.setenv(logs.LEVEL_VARIABLE, "loud")
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, logs._CnnvizHandler)]
    logs.configure(cnnviz_log)
    assert root.level == logging.INFO and "'LOUD' is not a logging level" in cnnviz_log.getvalue()


def test_a_failed_training_is_logged_with_its_traceback_and_not_shown(cnnviz_log, monkeypatch):
    from cnnviz.training import playground
    from cnnviz.training.playground import NetConfig, RunConfig, Trainer

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail /srv/secret")

    monkeypatch.setattr(playground, "generate", broken)
    trainer = Trainer(RunConfig(NetConfig(blocks=2, channels=8), steps=3, train_size=100, held_out_size=50))
    trainer.start()
    assert trainer.wait(60) == "failed"
    snap = trainer.snapshot()
    assert "RuntimeError" in snap.error and "secret" not in snap.error and "log" in snap.error
    text = cnnviz_log.getvalue()
    assert "ERROR cnnviz.training.playground: training" in text
    assert "Traceback (most recent call last)" in text and "internal detail /srv/secret" in text


def test_a_refused_upload_is_one_line_without_its_name_or_content(cnnviz_log):
    at = start()
    at.radio(key="image_source").set_value("Upload").run()
    secret = b"\n\nnot an image: hunter2 " * 20
    at.file_uploader(key="upload").upload("evil\nname.png", secret, "image/png").run()
    assert_no_exception(at)
    at.run()  # a rerun shows the message again, and logs nothing more
    lines = [line for line in cnnviz_log.getvalue().splitlines() if "refused" in line]
    assert len(lines) == 1, lines
    assert f"refused image upload of {len(secret)} bytes: 'This file is not an image" in lines[0]
    assert "hunter2" not in cnnviz_log.getvalue() and "evil" not in cnnviz_log.getvalue()
