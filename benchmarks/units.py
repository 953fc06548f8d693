"""How long one unit's computation takes on the server, measured in one run on this machine.

Run: ``.venv/bin/python benchmarks/units.py``. Prints, for random units of resnet18 (224×224, random weights)
and of the shipped EfficientNet-Lite0, the median and worst seconds of ``explain_unit`` (target: a unit's
computation within 0.5 s of the click on resnet18) and its ratio to a plain no-grad forward (it is one forward
with two hooks plus the unit's arithmetic).
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

import torch
import torchvision
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.models.lite0 import load_lite0
from cnnviz.network.units import explain_unit
from tests.reference import layer_outputs


def measure(name: str, model: nn.Module, x: torch.Tensor, count: int = 20) -> None:
    rng = random.Random(0)
    convs = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    shapes = {n: tuple(out.shape[1:]) for n, out in layer_outputs(model, x, convs).items()}
    unit_times, forward_times = [], []
    for _ in range(count):
        layer = rng.choice(list(convs))
        unit = tuple(rng.randrange(n) for n in shapes[layer])
        started = time.perf_counter()
        explain_unit(model, x, layer, unit)
        unit_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        with torch.no_grad():
            model(x)
        forward_times.append(time.perf_counter() - started)
    median = statistics.median(unit_times)
    print(
        f"{name}: explain_unit median {median:.3f} s, worst {max(unit_times):.3f} s over {count} random conv units "
        f"(target <= 0.5 s); / no-grad forward {median / statistics.median(forward_times):.2f}"
    )


if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.randn(1, 3, 224, 224)
    measure("resnet18 224x224", torchvision.models.resnet18().eval(), x)
    measure("EfficientNet-Lite0 224x224", load_lite0(), x.clamp(-1, 1))
