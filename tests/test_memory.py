"""cnnviz.server.memory: the allocator setting applies on glibc Linux and is harmless to call twice."""

import sys

from cnnviz.server.memory import keep_freed_memory


def test_keep_freed_memory_applies_on_linux():
    assert keep_freed_memory() is sys.platform.startswith("linux")
    assert keep_freed_memory() is sys.platform.startswith("linux")
