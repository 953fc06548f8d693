"""cnnviz.ui.sessions: what Streamlit keeps of a visitor's uploads."""

import copy
import tracemalloc

import pytest
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

from cnnviz.ui.sessions import share_upload_bytes

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
