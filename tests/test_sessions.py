"""cnnviz.ui.sessions: what Streamlit keeps of a visitor's uploads."""

import copy
import gc
import time
import tracemalloc
import weakref

import pytest
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

from cnnviz.ui.sessions import share_upload_bytes, sweep

SIZE = 50 * 2**20


@pytest.fixture
def streamlits():
    """UploadedFile as Streamlit makes it for one test (app.py, which an AppTest may have run here, changes it)."""
    before = UploadedFile.__dict__.get("__deepcopy__")
    if before is not None:
        del UploadedFile.__deepcopy__
    yield
    if before is not None:
        UploadedFile.__deepcopy__ = before
    elif "__deepcopy__" in UploadedFile.__dict__:
        del UploadedFile.__deepcopy__


@pytest.fixture
def shared(streamlits):
    """share_upload_bytes() for one test, the class as it was after."""
    share_upload_bytes()


def uploaded(data: bytes) -> UploadedFile:
    return UploadedFile(UploadedFileRec("file-1", "cat.png", "image/png", data), None)


def allocated_by_deepcopy(file: UploadedFile) -> int:
    tracemalloc.start()
    try:
        copy.deepcopy(file)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streamlits_deep_copy_of_an_upload_copies_its_bytes(streamlits):
    """What Streamlit does to every widget value on every run (session_state.register_widget deep-copies it): for
    an upload, without share_upload_bytes, a full copy of the file."""
    assert allocated_by_deepcopy(uploaded(bytes(SIZE))) >= SIZE


def test_the_copy_shares_the_bytes(shared):
    original = uploaded(bytes(SIZE))
    assert allocated_by_deepcopy(original) < 64 * 1024  # the object, not the 50 MiB
    twin = copy.deepcopy(original)
    assert twin.getvalue() is original.getvalue()
    assert (twin.file_id, twin.name, twin.type, twin.size) == ("file-1", "cat.png", "image/png", SIZE)


def test_the_copy_is_as_independent_as_streamlits(shared):
    """A page reading or writing its copy changes neither the stored file nor its position."""
    original = uploaded(b"0123456789")
    original.seek(3)
    twin = copy.deepcopy(original)
    assert twin.tell() == 3
    assert twin.read(2) == b"34"
    twin.seek(0)
    twin.write(b"xy")
    twin.extra = "only on the copy"
    assert twin.getvalue() == b"xy23456789"
    assert original.getvalue() == b"0123456789"
    assert original.tell() == 3
    assert not hasattr(original, "extra")


class Session:
    """What :func:`sweep` uses of Streamlit's ``AppSession``: an id, ``shutdown()``, a real ``SessionState`` and a
    real queue of messages for the browser."""

    def __init__(self, session_id: str) -> None:
        from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
        from streamlit.runtime.state import SessionState

        self.id = session_id
        self.session_state = SessionState()
        self._browser_queue = ForwardMsgQueue()
        self.shutdowns = 0

    def shutdown(self) -> None:
        self.shutdowns += 1


class Sessions:
    """Streamlit's session manager as :func:`sweep` reads it: active sessions, and a real ``MemorySessionStorage``
    for those whose tab closed."""

    def __init__(self, ttl_s: float) -> None:
        import threading

        from streamlit.runtime.memory_session_storage import MemorySessionStorage

        self.active: dict[str, Session] = {}
        self._session_storage = MemorySessionStorage(ttl_seconds=ttl_s)
        self._storage_lock = threading.Lock()

    def close_tab(self, session: Session) -> None:
        from streamlit.runtime.session_manager import SessionInfo

        del self.active[session.id]
        self._session_storage.save(SessionInfo(client=None, session=session))

    def get_session_info(self, session_id: str):
        return next((info for info in self.list_sessions() if info.session.id == session_id), None)

    def list_sessions(self):
        from streamlit.runtime.session_manager import SessionInfo

        return [SessionInfo(client=None, session=s) for s in self.active.values()] + self._session_storage.list()


class Runtime:
    def __init__(self, ttl_s: float) -> None:
        from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

        self._session_mgr = Sessions(ttl_s)
        self._uploaded_file_mgr = MemoryUploadedFileManager("/_stcore/upload_file")

    def visit(self, session_id: str, upload: bytes) -> Session:
        session = self._session_mgr.active[session_id] = Session(session_id)
        record = UploadedFileRec(f"{session_id}-file", "a.png", "image/png", upload)
        self._uploaded_file_mgr.add_file(session_id, record)
        return session


class Big:
    """Something a page keeps (a trained model, images)."""


def fill(session: Session) -> weakref.ref:
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    kept = Big()
    session.session_state["_transfer_result"] = kept
    message = ForwardMsg()
    message.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    session._browser_queue.enqueue(message)
    return weakref.ref(kept)


def test_a_session_whose_time_ran_out_is_shut_down_and_emptied_even_while_something_points_at_it():
    """Streamlit forgets an expired stored session without shutting it down, and its runtime loop keeps the last
    session it sent to in a local variable: held like that, the session must no longer hold what its page kept."""
    runtime = Runtime(ttl_s=0.2)
    leaving, staying = runtime.visit("leaving", b"x" * 1000), runtime.visit("staying", b"y" * 1000)
    kept, kept_by_staying = fill(leaving), fill(staying)
    assert sweep(runtime) == 0  # both seen, both here
    runtime._session_mgr.close_tab(leaving)
    assert sweep(runtime) == 0  # stored for reconnection: nothing let go yet
    assert leaving.shutdowns == 0 and "_transfer_result" in leaving.session_state
    time.sleep(0.3)
    assert sweep(runtime) == 1
    gc.collect()
    assert leaving.shutdowns == 1
    assert kept() is None, "the closed session's state is still in memory"
    assert len(leaving.session_state) == 0 and leaving._browser_queue.is_empty()
    assert "leaving" not in runtime._uploaded_file_mgr.file_storage
    assert staying.shutdowns == 0 and kept_by_staying() is not None and not staying._browser_queue.is_empty()
    assert list(runtime._uploaded_file_mgr.file_storage) == ["staying"]
    assert sweep(runtime) == 0 and leaving.shutdowns == 1  # once


def test_a_session_streamlit_dropped_itself_is_emptied_too():
    """Streamlit drops expired and least recently used stored sessions on its own when it stores another one."""
    runtime = Runtime(ttl_s=60)
    leaving = runtime.visit("leaving", b"x" * 1000)
    kept = fill(leaving)
    sweep(runtime)
    runtime._session_mgr.close_tab(leaving)
    runtime._session_mgr._session_storage.delete("leaving")  # as Streamlit's storage does when it is full
    assert sweep(runtime) == 1
    gc.collect()
    assert leaving.shutdowns == 1 and kept() is None and not runtime._uploaded_file_mgr.file_storage
