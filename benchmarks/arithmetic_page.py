"""Convolution arithmetic page: figure payload and build time, and the page's rerun time.

Run: ``.venv/bin/python benchmarks/arithmetic_page.py``. Prints, from one run on this machine, the Plotly
payload (bytes) and build time of a step figure for the default setting and the largest settings the
controls allow, and the time of a whole page rerun (through Streamlit's AppTest, which adds its own
overhead) after changing one control, each with its ratio to the target.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

from cnnviz.arithmetic import geometry as ar  # noqa: E402
from cnnviz.arithmetic.animation import step_figure  # noqa: E402
from cnnviz.arithmetic.board import board, num_frames  # noqa: E402
from cnnviz.arithmetic.steps import make_scene, random_values  # noqa: E402

PAYLOAD_TARGET = 1_000_000  # bytes, at the largest setting
RERUN_TARGET = 0.200  # seconds, default setting

SETTINGS = {
    "default (conv 5x5, k3)": (("conv", 5, 3), 1, 1, "window"),
    "largest conv (i32 k7 d4 p24, 3->2 ch)": (("conv", 32, 7, 1, 24, 4), 3, 2, "window"),
    "largest transposed, direct (i32 k7 s4 d4 a3)": (("transposed", 32, 7, 4, 0, 4, 3), 3, 2, "direct"),
    "largest transposed, scatter (i32 k7 s4 d4 a3)": (("transposed", 32, 7, 4, 0, 4, 3), 3, 2, "scatter"),
    "largest max pool (i32 k7 s1 p3 d4)": (("maxpool", 32, 7, 1, 3, 4), 3, 3, "window"),
}


def figure_costs() -> dict[str, tuple[int, float]]:
    results = {}
    for name, (args, cin, cout, view) in SETTINGS.items():
        geo = ar.geometry(*args)
        scene = make_scene(geo, *random_values(geo, cin, cout))
        index = num_frames(scene, view) // 2
        b = board(scene, view)  # made once per case: the page keeps it (cnnviz.ui.cached.arithmetic_board)
        step_figure(b, index)  # warm up
        times = []
        for _ in range(5):
            started = time.perf_counter()
            payload = step_figure(b, index).to_json()
            times.append(time.perf_counter() - started)
        results[name] = (len(payload.encode()), statistics.median(times))
    return results


def rerun_time(repeats: int = 10) -> float:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import AppTest

    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # the server's state once st.navigation ran (see tests/apptest.py)
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/arithmetic.py").run()
    times = []
    for n in range(repeats + 2):
        slider = at.slider(key="i").set_value(6 if n % 2 == 0 else 5)
        started = time.perf_counter()
        slider.run()
        if n >= 2:  # the first reruns warm caches
            times.append(time.perf_counter() - started)
        assert not at.exception
    return statistics.median(times)


def main() -> None:
    print("step figure: payload and build+serialise time (median of 5)")
    largest = 0
    for name, (size, seconds) in figure_costs().items():
        print(f"  {name:48s} {size:>9,d} bytes  {seconds * 1000:7.1f} ms")
        if not name.startswith("default"):
            largest = max(largest, size)
    print(f"largest payload {largest:,d} bytes = {largest / PAYLOAD_TARGET:.2f} x target ({PAYLOAD_TARGET:,d})")
    rerun = rerun_time()
    print(
        f"page rerun after changing one control (default setting, AppTest, median of 10): {rerun * 1000:.0f} ms"
        f" = {rerun / RERUN_TARGET:.2f} x target ({RERUN_TARGET * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
