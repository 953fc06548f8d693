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
from collections.abc import Iterable
from copy import deepcopy

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


def sweep(runtime) -> int:
    """Forget the stored sessions whose reconnection time has run out (Streamlit forgets them only when another
    session is stored), and drop the uploads of every session the server no longer has. Returns how many sessions
    were let go."""
    sessions = runtime._session_mgr
    storage = getattr(getattr(sessions, "_session_storage", None), "_cache", None)
    expired = []
    if hasattr(storage, "expire"):
        with getattr(sessions, "_storage_lock", None) or contextlib.nullcontext():
            expired = storage.expire()
    gone = {session_id for session_id, _ in expired}
    uploads = runtime._uploaded_file_mgr
    if isinstance(uploads, MemoryUploadedFileManager):
        for session_id in list(uploads.file_storage):
            if session_id in gone or sessions.get_session_info(session_id) is None:
                uploads.remove_session_files(session_id)
                gone.add(session_id)
    if gone:
        logger.info("let go of %d sessions whose tab closed and whose reconnection time ran out", len(gone))
    return len(gone)


_janitor: threading.Thread | None = None
_janitor_guard = threading.Lock()


def start_janitor(interval_s: float = 5.0) -> None:
    """Every ``interval_s`` seconds, :func:`sweep` the server's sessions, and give what was let go back to the
    system (once per process, however often this is called; nothing outside a server)."""
    from streamlit.runtime import Runtime

    global _janitor
    with _janitor_guard:
        if _janitor is not None or not Runtime.exists():
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
