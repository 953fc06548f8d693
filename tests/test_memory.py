"""cnnviz.server.memory: the allocator setting applies on glibc Linux and is harmless to call twice, and memory it
keeps goes back to the system when trimmed."""

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
    base, grown, kept, trimmed = map(int, subprocess.run([sys.executable, "-c", script], capture_output=True,
                                                         text=True, check=True).stdout.split())  # fmt: skip
    assert grown - base > 250 and kept - base > 250  # kept for reuse: the allocator setting at work
    assert trimmed - base < 50, (base, grown, kept, trimmed)
