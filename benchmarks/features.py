"""Cost of extracting every conv layer's activations of resnet50 at 224×224, as a ratio to a plain no-grad
forward, measured in one run on this machine (random weights: the cost does not depend on them).

Run: ``.venv/bin/python benchmarks/features.py``. Target: at most 1.15.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.network.features import activations, conv_layers
from cnnviz.server.memory import keep_freed_memory

TARGET = 1.15


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure(repeats: int) -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet50().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    x = torch.randn(1, 3, 224, 224)
    layers = conv_layers(model)

    def plain() -> None:
        with torch.no_grad():
            model(x)

    def extract() -> None:
        activations(model, x, layers)

    for fn in (plain, extract, plain, extract):  # warm up
        fn()
    # Interleave the two so that machine noise hits both alike.
    plain_times, extract_times = [], []
    for _ in range(repeats):
        plain_times.append(median_time(plain, 1))
        extract_times.append(median_time(extract, 1))
    base, cost = statistics.median(plain_times), statistics.median(extract_times)
    print(f"  plain no-grad forward     {base * 1000:7.1f} ms (median of {repeats})")
    print(f"  activations(all convs)    {cost * 1000:7.1f} ms (median of {repeats})")
    print(f"  ratio {cost / base:.3f} (target <= {TARGET})")


def main(repeats: int = 15) -> None:
    print(f"resnet50 224x224, every conv layer, torch threads {torch.get_num_threads()}")
    print("glibc malloc defaults (each large tensor a fresh mmap):")
    measure(repeats)
    applied = keep_freed_memory()
    print(f"with cnnviz.server.memory.keep_freed_memory() as app.py sets it (applied: {applied}):")
    measure(repeats)


if __name__ == "__main__":
    main()
