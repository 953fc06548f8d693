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
