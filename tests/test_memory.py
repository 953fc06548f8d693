"""cnnviz.server.memory: the allocator setting applies on glibc Linux and is harmless to call twice, and memory it
keeps goes back to the system when trimmed."""

import os
import subprocess
import sys

import pytest

from cnnviz.server.memory import keep_freed_memory
from tests.conftest import ROOT


def test_keep_freed_memory_applies_on_linux():
    assert keep_freed_memory() is sys.platform.startswith("linux")
    assert keep_freed_memory() is sys.platform.startswith("linux")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_memory_kept_for_reuse_goes_back_to_the_system_when_trimmed():
    """With keep_freed_memory, 300 MiB of freed 1 MiB blocks stay resident; release_freed_memory gives them back."""
    script = f"""
import ctypes, sys
sys.path.insert(0, {str(ROOT)!r})
from cnnviz.server.memory import keep_freed_memory, release_freed_memory
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:")) // 1024
keep_freed_memory()
base = rss()
blocks = [ctypes.create_string_buffer(1 << 20) for _ in range(300)]
grown = rss()
del blocks
kept = rss()
assert release_freed_memory()
print(base, grown, kept, rss())
"""
    base, grown, kept, trimmed = map(
        int, subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    )
    assert grown - base > 250 and kept - base > 250  # kept for reuse: the allocator setting at work
    assert trimmed - base < 50, (base, grown, kept, trimmed)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("limited", [False, True])
def test_limit_arenas_keeps_new_threads_to_two_arenas(limited):
    """glibc gives each new thread that allocates an arena of its own (up to 8 per core); after limit_arenas(2),
    threads share two. Counted in malloc_info's report, in a fresh process."""
    script = f"""
import ctypes, os, re, sys, tempfile, threading
sys.path.insert(0, {str(ROOT)!r})
from cnnviz.server.memory import limit_arenas
if {limited}:
    assert limit_arenas(2)
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
kept, ready, done = [], threading.Barrier(7), threading.Event()
def allocate():
    kept.append(ctypes.create_string_buffer(1 << 16))  # from this thread's arena
    ready.wait()
    done.wait()
threads = [threading.Thread(target=allocate) for _ in range(6)]
for thread in threads:
    thread.start()
ready.wait()
path = tempfile.mktemp()
handle = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(handle))
libc.fclose(ctypes.c_void_p(handle))
done.set()
print(len(re.findall(r'<heap nr="', open(path).read())))
os.remove(path)
"""
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    arenas = int(
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env).stdout
    )
    assert arenas <= 2 if limited else arenas >= 5, arenas


class _Cyclic:
    def __init__(self) -> None:
        self.me = self


def test_a_run_s_request_collects_its_cyclic_garbage_soon():
    """collect_soon's thread frees a reference cycle that only a garbage collection frees (automatic collections
    are off for the test, so nothing else frees it)."""
    import gc
    import time
    import weakref

    from cnnviz.server import memory

    gc.disable()
    try:
        garbage = _Cyclic()
        alive = weakref.ref(garbage)
        del garbage
        time.sleep(memory.COLLECT_DELAY_S + 0.1)
        assert alive() is not None  # a cycle outlives its last name
        memory.collect_soon()
        deadline = time.monotonic() + memory.COLLECT_DELAY_S + memory.COLLECT_GAP_S + 5
        while alive() is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert alive() is None
    finally:
        gc.enable()


def test_requests_made_together_share_a_few_collections():
    """300 requests within about 0.6 s (thirty students' polls for 0.6 s) cost at most three collections, not 300."""
    import time

    from cnnviz.server import memory

    memory.collect_soon()
    time.sleep(memory.COLLECT_DELAY_S + memory.COLLECT_GAP_S + 0.3)  # an earlier request's collection is over
    before = memory.collections_done()
    for _ in range(300):
        memory.collect_soon()
        time.sleep(0.002)
    time.sleep(2 * (memory.COLLECT_DELAY_S + memory.COLLECT_GAP_S) + 0.5)
    assert 1 <= memory.collections_done() - before <= 3


def test_every_run_of_the_app_asks_for_a_collection_in_place_of_streamlit_s():
    """Streamlit's collection after every run is off in the server's settings; app.py's runs end in ``collected``
    and every fragment of the app is made with cnnviz.ui.runs.fragment (no ``st.fragment`` of its own)."""
    import ast
    import tomllib

    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["runner"]["postScriptGC"] is False
    app = ast.parse((ROOT / "app.py").read_text())
    ended = [w for w in app.body if isinstance(w, ast.With) and ast.unparse(w.items[0].context_expr) == "collected()"]
    assert len(ended) == 1 and any("navigation.run" in ast.unparse(n) for n in ast.walk(ended[0]))
    sources = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "cnnviz").rglob("*.py")]
    own = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sources
        if path != ROOT / "cnnviz" / "ui" / "runs.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "fragment" and ast.unparse(node.value) == "st"
    ]
    assert own == []
    made = [
        path.name
        for path in sources
        if any(isinstance(node, ast.Name) and node.id == "fragment" for node in ast.walk(ast.parse(path.read_text())))
    ]
    assert {"arithmetic.py", "playground.py", "transfer.py", "rooms.py"} <= set(made)
