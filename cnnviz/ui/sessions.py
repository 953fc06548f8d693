"""What Streamlit keeps of a visitor's uploads and sessions, let go as soon as it is no longer needed.

Streamlit keeps every uploaded file in memory until its session is shut down, and a session whose tab was closed
is only stored for reconnection (``server.disconnectedSessionTTL``): when that time runs out, the stored session is
dropped lazily and never shut down, so its uploads stay in the server's memory for good. :func:`let_go` drops files
the page has read (as ``st.chat_input`` does with its own), and :func:`start_janitor` forgets the sessions whose
time ran out and drops the uploads of sessions the server no longer has; :func:`share_upload_bytes` keeps each
run's copy of the uploads from copying their bytes.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
import time
import weakref
from collections.abc import Iterable
from copy import deepcopy
from typing import Any

from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

from cnnviz.server.memory import release_freed_memory

logger = logging.getLogger(__name__)


def _copy_sharing_bytes(self: UploadedFile, memo: dict) -> UploadedFile:
    """A new ``UploadedFile`` at the same position over the same (immutable) bytes: ``BytesIO`` shares its initial
    bytes until it is written to, so neither file can change the other."""
    copy = UploadedFile(UploadedFileRec(self.file_id, self.name, self.type, self.getvalue()), self._file_urls)
    copy.__dict__.update(deepcopy(self.__dict__, memo))
    copy.seek(self.tell())
    return copy


def share_upload_bytes() -> None:
    """Make the copy of an uploader's files that Streamlit hands each run share their bytes (once per process).

    Streamlit deep-copies every widget's value on every run, so that a page cannot change the stored value; for an
    ``UploadedFile`` (a ``BytesIO``) the default deep copy copies all of its bytes. A class of 50 files of 10 MiB
    then cost 500 MB more for as long as the run held them, and the sidebar's model file was copied on every
    rerun of every page. The copy made here is just as independent (its own position; writing to it copies only
    then), without the bytes."""
    UploadedFile.__deepcopy__ = _copy_sharing_bytes  # type: ignore[attr-defined]


def let_go(files: Iterable) -> None:
    """Remove uploaded ``files`` (Streamlit's ``UploadedFile``) from Streamlit's store of this session's uploads:
    the page has read them, and their widget is replaced by an empty one."""
    context = get_script_run_ctx()
    if context is None or not isinstance(context.uploaded_file_mgr, MemoryUploadedFileManager):
        return
    files = list(files)
    for file in files:
        context.uploaded_file_mgr.remove_file(session_id=context.session_id, file_id=file.file_id)
    logger.info("let go of %d uploaded files (%d bytes) once read", len(files), sum(f.size for f in files))


_seen: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
"""Every session the last sweep found (active or stored for reconnection), by id."""


def sweep(runtime: Any) -> int:
    """Forget the stored sessions whose reconnection time has run out (Streamlit forgets them only when another
    session is stored), shut down and empty every session the server no longer has, and drop its uploads.
    Returns how many sessions were let go.

    Streamlit never shuts down a stored session it forgets, and its runtime loop keeps the last session it sent
    messages to in a local variable until it sends to another one; so the last visitor to leave kept their
    whole session state (images, trained models, explanations) in memory for good. Emptying the state of a
    session that is gone lets that go whoever still points at the session."""
    sessions = runtime._session_mgr
    storage = getattr(getattr(sessions, "_session_storage", None), "_cache", None)
    if storage is not None and hasattr(storage, "expire"):
        with getattr(sessions, "_storage_lock", None) or contextlib.nullcontext():
            storage.expire()
    current = {info.session.id: info.session for info in sessions.list_sessions()}
    gone = set(_seen) - set(current)
    uploads = runtime._uploaded_file_mgr
    if isinstance(uploads, MemoryUploadedFileManager):
        for session_id in list(uploads.file_storage):
            if session_id not in current:
                uploads.remove_session_files(session_id)
                gone.add(session_id)
    for session_id in gone:
        if (session := _seen.pop(session_id, None)) is not None:
            _shut_down(session)
    _seen.update(current)
    if gone:
        logger.info("let go of %d sessions whose tab closed and whose reconnection time ran out", len(gone))
    return len(gone)


def _shut_down(session: Any) -> None:
    """Shut ``session`` (an ``AppSession`` the server no longer has) down, as Streamlit does when it closes one,
    and empty its state: values, the widgets' callbacks (closures over the page's globals: its images, its
    trained model) and the messages it never sent."""
    try:
        session.shutdown()
    finally:
        state = session.session_state
        state.clear()
        widgets = getattr(getattr(state, "_new_widget_state", None), "widget_metadata", None)
        if isinstance(widgets, dict):
            widgets.clear()
        queue = getattr(session, "_browser_queue", None)
        if queue is not None and hasattr(queue, "flush"):
            queue.flush()


_janitor: threading.Thread | None = None
_janitor_guard = threading.Lock()


def start_janitor(interval_s: float = 5.0) -> None:
    """Every ``interval_s`` seconds, :func:`sweep` the server's sessions, and give what was let go back to the
    system (once per process, however often this is called; nothing outside a server, nor under AppTest, whose
    runtime is a stand-in)."""
    from streamlit.runtime import Runtime

    global _janitor
    with _janitor_guard:
        if _janitor is not None or not Runtime.exists() or not hasattr(Runtime.instance(), "_session_mgr"):
            return

        def run() -> None:
            while True:
                time.sleep(interval_s)
                try:
                    if Runtime.exists() and sweep(Runtime.instance()):
                        gc.collect()
                        release_freed_memory()
                except Exception:
                    logger.exception("sweeping the server's sessions failed")

        _janitor = threading.Thread(target=run, name="cnnviz-janitor", daemon=True)
        _janitor.start()
