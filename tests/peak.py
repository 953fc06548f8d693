"""Peak memory of a piece of work, measured in a fresh interpreter (torch's and Pillow's allocations are
invisible to ``tracemalloc``)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
def peak_kib():  # VmHWM starts afresh at exec (ru_maxrss would carry the parent's peak over)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
{setup}
before = peak_kib()
{work}
print((peak_kib() - before) // 1024)
"""


def peak_rss_mib(setup: str, work: str) -> int:
    """How far the peak resident memory (MiB) of a new Python process grows while it runs ``work``, after
    ``setup`` (imports, inputs) has run."""
    script = _SCRIPT.format(root=str(ROOT), setup=setup, work=work)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    return int(done.stdout.split()[-1])
