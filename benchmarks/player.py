"""Browser step player: measured steps per second at each speed, against the chosen speed.

Run: ``.venv/bin/python benchmarks/player.py`` (needs Chromium, as the browser tests do). Starts the app with
``streamlit run``, opens the arithmetic page in Chromium at 1024×768 in presentation mode on a 100-step case,
plays at 1, 2, 4 and 8 steps per second, and records, in the page, the time of every step the player shows
(a MutationObserver on its ``data-step``). Prints the measured rate (steps after the first, over the time
they took) and its ratio to the chosen speed; the target is within 10 %. Nothing is asked of the server
while it plays: the script also counts the app's WebSocket messages sent during play (0 expected).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM_FLAGS, chromium_path, streamlit_server  # noqa: E402

CASE = "present=true&i=12&k=3"  # 10 × 10 output: 100 steps
SPEEDS = (1, 2, 4, 8)
STEPS_MEASURED = {1: 8, 2: 12, 4: 20, 8: 40}  # steps recorded per speed (about 5 s each)
TOLERANCE = 0.10

RECORD = """(player, count) => new Promise((resolve) => {
  const times = [];
  const observer = new MutationObserver(() => {
    times.push(performance.now());
    if (times.length > count) { observer.disconnect(); resolve(times); }
  });
  observer.observe(player, {attributes: true, attributeFilter: ['data-step']});
  player.querySelector('button[aria-label="Play or pause (space)"]').click();
})"""


def main() -> int:
    from playwright.sync_api import sync_playwright

    failures = 0
    with streamlit_server() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        sent: list[int] = []
        page.on("websocket", lambda ws: ws.on("framesent", lambda _: sent.append(1)))
        page.goto(f"{url}/arithmetic?{CASE}")
        page.locator('.cnnviz-player[data-step="1"][data-steps="100"]').wait_for(timeout=120_000)
        page.wait_for_timeout(2000)
        print(f"{'speed':>6} {'measured steps/s':>17} {'ratio':>6}  messages to the server while playing")
        for speed in SPEEDS:
            page.locator(f'.cnnviz-player button[data-speed="{speed}"]').click()
            page.keyboard.press("Home")
            before = len(sent)
            times = page.locator(".cnnviz-player").evaluate(RECORD, STEPS_MEASURED[speed])
            page.locator('.cnnviz-player button[aria-label="Play or pause (space)"]').click()  # pause
            rate = (len(times) - 1) / ((times[-1] - times[0]) / 1000)
            ratio = rate / speed
            ok = abs(ratio - 1) <= TOLERANCE
            failures += not ok
            print(f"{speed:>6} {rate:>17.3f} {ratio:>6.3f}  {len(sent) - before}{'' if ok else '  (outside 10 %)'}")
        browser.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
