"""The largest ONNX upload accepted, and what loading it costs: peak RSS over idle, in one fresh process.

Run: ``.venv/bin/python benchmarks/onnx_upload.py``. It builds an ONNX classifier just under the 200 MiB budget (a
1000-channel conv, then a Gemm to 48,000 classes: 183 MiB of float32 weights), reads the process's RSS once the
file is in memory and the libraries are imported (idle), resets the kernel's high-water mark, loads the file with
``load_uploaded_model(data, "onnx", None)`` and prints the peak over idle against the target of issue 26 (the
file plus the converted tensors plus 100 MiB) and whether it holds.
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.models.custom import load_uploaded_model
from tests.onnx_files import conv_classifier

CLASSES, FEATURES = 48_000, 1000


def status(field: str) -> int:
    """A field of /proc/self/status, in MiB."""
    with open("/proc/self/status") as lines:
        return int(next(line for line in lines if line.startswith(field)).split()[1]) // 1024


def largest_file() -> bytes:
    rng = np.random.default_rng(0)
    kernel = rng.standard_normal((FEATURES, 3, 3, 3))
    return conv_classifier(kernel, rng.standard_normal((CLASSES, FEATURES)) * 0.01, np.zeros(CLASSES), side=32)


def main() -> None:
    data = largest_file()
    gc.collect()
    idle = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as refs:  # reset the high-water mark
        refs.write("5")
    start = time.perf_counter()
    model = load_uploaded_model(data, "onnx", None)
    seconds = time.perf_counter() - start
    tensors = sum(t.numel() * t.element_size() for t in model.module.state_dict().values()) / 2**20
    file_mib, peak = len(data) / 2**20, status("VmHWM") - idle
    target = file_mib + tensors + 100
    print(f"file {file_mib:.0f} MiB, converted tensors {tensors:.0f} MiB, idle RSS {idle} MiB (the file held)")
    print(f"peak RSS over idle while loading: {peak} MiB; after: {status('VmRSS') - idle} MiB; {seconds:.1f} s")
    print(f"target ≤ file + tensors + 100 MiB = {target:.0f} MiB: {'holds' if peak <= target else 'MISSED'}")


if __name__ == "__main__":
    main()
