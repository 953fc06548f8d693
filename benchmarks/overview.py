"""How long the network overview takes on the server, measured in one run on this machine.

Run: ``.venv/bin/python benchmarks/overview.py [--reps 10]``. Streamlit's AppTest runs the "Inside the network"
page's script as the server would (no browser): the time of one script run is the server's share of what a click
costs. It prints, as medians and worst cases over ``--reps`` warm runs (after one cold run):

- TinyVGG's overview (15 columns of ten maps, the enlarged map, a unit's computation and the class bars) on the
  default sample: the run after a click on a map, and after a click on a unit (target: ≤ 1 s warm);
- resnet18 (seeded random weights saved into a temporary ``TORCH_HOME``, nothing downloaded) at 224×224: the run
  after a click on a unit of a conv, and within it the unit's computation alone (``explain_unit`` and the
  player's data for it; target: ≤ 0.5 s from the click);

and whether each target holds in this run.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]


def timed_runs(at, reps: int, change) -> list[float]:
    times = []
    for i in range(reps):
        change(i)
        start = time.perf_counter()
        at.run(timeout=120)
        times.append(time.perf_counter() - start)
        if at.exception:
            raise RuntimeError(at.exception[0].message)
        if not any(m.value.startswith("**How unit") for m in at.markdown):
            raise RuntimeError("the run did not show the overview's unit")
    return times


def report(label: str, times: list[float], target: float | None = None) -> None:
    median, worst = statistics.median(times), max(times)
    verdict = "" if target is None else f"  target ≤ {target:g} s: {'holds' if median <= target else 'MISSED'}"
    print(f"{label:58s} median {median:6.3f} s  worst {worst:6.3f} s{verdict}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=10)
    reps = parser.parse_args().reps
    os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="cnnviz-bench-")
    from streamlit.testing.v1 import AppTest

    from tests.conftest import cache_random_weights

    cache_random_weights("resnet18")
    rng = random.Random(0)

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/network.py")
    at.query_params["tab"] = "Overview"
    at.run()  # cold: the layer table, the model, the first overview
    names = ["features.conv_1_1", "features.relu_1_2", "features.conv_2_1", "features.max_pool_2", "features.conv_3_2"]

    def map_click(i: int) -> None:
        at.query_params["ov_layer"] = names[i % len(names)]
        at.query_params["ov_map"] = "0"
        for key in ("ov_row", "ov_col"):
            if key in at.query_params:
                del at.query_params[key]

    def unit_click(i: int) -> None:
        at.query_params["ov_row"], at.query_params["ov_col"] = str(rng.randrange(8)), str(rng.randrange(8))

    report("TinyVGG overview: run after a click on a map", timed_runs(at, reps, map_click), 1.0)
    report("TinyVGG overview: run after a click on a unit", timed_runs(at, reps, unit_click), 1.0)

    at.sidebar.selectbox(key="model_key").set_value("resnet18")
    for key in ("ov_layer", "ov_map", "ov_row", "ov_col"):
        if key in at.query_params:
            del at.query_params[key]
    at.run()  # cold for resnet18
    convs = ["conv1", "layer1.0.conv1", "layer2.0.conv2", "layer3.1.conv1", "layer4.0.conv1"]
    at.query_params["ov_from"] = "conv1"

    def resnet_unit(i: int) -> None:
        at.query_params["ov_layer"], at.query_params["ov_map"] = "conv1", str(rng.randrange(64))
        at.query_params["ov_row"], at.query_params["ov_col"] = str(rng.randrange(112)), str(rng.randrange(112))

    report("resnet18 overview: run after a click on a unit", timed_runs(at, reps, resnet_unit))

    import torch
    import torchvision

    from cnnviz.network.unit_player import unit_payload
    from cnnviz.network.units import explain_unit

    model = torchvision.models.resnet18().eval()
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    times = []
    for i in range(reps):
        layer = convs[i % len(convs)]
        start = time.perf_counter()
        unit_payload(explain_unit(model, x, layer, (0, 1, 1)))
        times.append(time.perf_counter() - start)
    report("resnet18: a unit's computation and its player data", times, 0.5)


if __name__ == "__main__":
    main()
