"""The server's log: every cnnviz module logs to ``logging.getLogger(__name__)``, under the ``cnnviz`` logger that
:func:`configure` (called by ``app.py``) sends to standard error, beside Streamlit's own log.

The level is ``CNNVIZ_LOG_LEVEL`` (``DEBUG``, ``INFO``, the default, ``WARNING`` or ``ERROR``). Unexpected errors are
logged with their traceback and never shown to the visitor; each refused upload is one line saying what kind of
file it was, its size and why it was refused, never its content or its name (both are the visitor's).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

ROOT = "cnnviz"
LEVEL_VARIABLE = "CNNVIZ_LOG_LEVEL"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

logger = logging.getLogger(__name__)


class _CnnvizHandler(logging.StreamHandler):
    """The one handler :func:`configure` adds (told apart from any other, so a second call adds none)."""


def configure(stream: TextIO | None = None) -> logging.Logger:
    """Send the ``cnnviz`` loggers' records to ``stream`` (standard error) at ``CNNVIZ_LOG_LEVEL``; idempotent, so
    app.py may call it on every run of its script. An unknown level name falls back to INFO, with a warning."""
    root = logging.getLogger(ROOT)
    wanted = os.environ.get(LEVEL_VARIABLE, "INFO").strip().upper()
    level = logging.getLevelName(wanted)
    if not isinstance(level, int):
        level = logging.INFO
    root.setLevel(level)
    if not any(isinstance(h, _CnnvizHandler) for h in root.handlers):
        handler = _CnnvizHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
        root.propagate = False  # not twice, through a root logger that another library configured
        if logging.getLevelName(level) != wanted:
            logger.warning("%s=%r is not a logging level; using INFO", LEVEL_VARIABLE, wanted)
    return root


def refused(log: logging.Logger, kind: str, size: int, reason: object) -> None:
    """One line for a refused upload: its ``kind`` ("image", "model file"), ``size`` in bytes and the ``reason``
    (the message the visitor was shown, quoted so that nothing in it can start a line of its own)."""
    log.info("refused %s upload of %d bytes: %r", kind, size, str(reason)[:300])
