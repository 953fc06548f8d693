"""A class in a room: how long students' screens take to show the teacher's change, and what following costs the
server.

Run: ``.venv/bin/python benchmarks/rooms.py [--followers 30] [--browsers 3] [--changes 10] [--idle 20]`` (needs
Chromium: set ``CHROMIUM_PATH`` or have ``chromium`` on PATH). It starts the app as ``make run`` does and opens a
teacher's tab in headless Chromium on the arithmetic page. ``--followers`` students join the room by its link:
``--browsers`` of them are Chromium tabs (each in its own browser context), the rest are
:class:`tests.wire.WireTab` sessions — a tab's WebSocket conversation with the server (its runs, its room poll
every second) without the rendering. A class brings its own devices; thirty Chromium tabs on this 2-core machine
would measure the machine's rendering, not the server (in stop 40's run with 30 tabs, the machine was saturated
before anything changed).

It prints

- the server's CPU while the room is idle, in per cent of one core, and the poll runs per second it answered;
- the follow latency: from the teacher's change of preset to each student's screen showing that case (its preset,
  its output size and the formula with its numbers), first / p50 / p95 / worst over ``--changes`` changes (the
  first student of all the changes: what a class of one would wait, the teacher's run and a poll), for the wire
  students and the Chromium students apart; and the server's CPU meanwhile. A student whose screen shows the new
  preset with another case's numbers (a wrong view) is counted; one that has not followed in 60 s is counted and
  left out of the later changes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.arithmetic.geometry import PRESETS
from cnnviz.ui.rooms import TEACHER_POLL_S
from tests.browser import CHROMIUM_FLAGS, chromium_path, cpu_seconds, streamlit_process
from tests.test_browser import select_option, settle, wait_step
from tests.test_browser_rooms import shows, start_room
from tests.wire import WireTab

TIMEOUT_S = 60.0


def page_text(student) -> str:
    """What a student's screen shows: a wire tab's elements, or a Chromium tab's text (with the preset's choice)."""
    if isinstance(student, WireTab):
        return student.text()
    return student.evaluate(
        r"""() => document.body.innerText + '\n' + [...document.querySelectorAll('[data-testid="stSelectbox"]')]
            .filter(b => b.innerText.startsWith('Preset'))
            .map(b => 'Preset: ' + ((b.querySelector('input') || {}).value || '')).join('\n')
            + '\n' + [...document.querySelectorAll('annotation')].map(a => a.textContent).join('\n')"""
    )


def percentiles(delays: list[float]) -> str:
    if not delays:
        return "none followed"
    delays = sorted(delays)
    p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
    return (
        f"first {delays[0]:.2f} s, p50 {statistics.median(delays):.2f} s, p95 {p95:.2f} s, worst {delays[-1]:.2f} s "
        f"({len(delays)} follows)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=30)
    parser.add_argument("--browsers", type=int, default=3, help="how many of the followers are Chromium tabs")
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of the idle room measured")
    args = parser.parse_args()
    browsers = min(args.browsers, args.followers)
    from playwright.sync_api import sync_playwright

    with streamlit_process() as (url, process), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)

        def tab(address: str):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(TIMEOUT_S * 1000)
            page = context.new_page()
            page.goto(address)
            return page

        teacher = tab(f"{url}/arithmetic")
        wait_step(teacher, 1)
        settle(teacher)
        link = start_room(teacher)
        code = link.rsplit("=", 1)[1]
        chromium_students = [tab(link) for _ in range(browsers)]
        wire_students = [WireTab(url, "", f"room={code}") for _ in range(args.followers - browsers)]
        for student in chromium_students:
            student.get_by_text("Following room").wait_for()
        teacher.get_by_text(f"{args.followers} students following").wait_for()
        print(
            f"{args.followers} students follow room {code[:8]}: {len(wire_students)} wire tabs, "
            f"{len(chromium_students)} Chromium tabs"
        )

        runs = sum(s.runs for s in wire_students)
        start_cpu, start = cpu_seconds(process.pid), time.monotonic()
        time.sleep(args.idle)
        elapsed = time.monotonic() - start
        idle_share = (cpu_seconds(process.pid) - start_cpu) / elapsed
        wire_rate = (sum(s.runs for s in wire_students) - runs) / elapsed
        polls = wire_rate + len(chromium_students) + 1 / TEACHER_POLL_S  # Chromium tabs poll each second
        print(
            f"idle room: server CPU {idle_share:.0%} of one core, about {polls:.0f} poll runs/s "
            f"({wire_rate:.1f}/s measured from the wire tabs)"
        )

        delays: dict[str, list[float]] = {"wire": [], "chromium": []}
        wrong, stuck = 0, 0
        students = [*wire_students, *chromium_students]
        presets = [p for p in PRESETS if p.op == "conv"]
        start_cpu, start = cpu_seconds(process.pid), time.monotonic()
        for n in range(args.changes):
            preset = presets[(n + 1) % len(presets)]  # the page opens on the first
            settle(teacher)
            select_option(teacher, "Preset", preset.title)
            since = time.monotonic()
            waiting, wronged = list(students), set()
            while waiting:
                for student in list(waiting):
                    named, numbers = shows(page_text(student), preset)
                    if named and numbers:
                        delays["wire" if isinstance(student, WireTab) else "chromium"].append(time.monotonic() - since)
                        waiting.remove(student)
                    elif named and isinstance(student, WireTab) and id(student) not in wronged:
                        wronged.add(id(student))  # a finished run drew the new preset with other numbers
                        if os.environ.get("ROOMS_DEBUG"):
                            print("WRONG", time.monotonic() - since, page_text(student)[:1200])
                if time.monotonic() - since > TIMEOUT_S:
                    print(f"{len(waiting)} students did not follow {preset.title!r} in {TIMEOUT_S:.0f} s")
                    stuck += len(waiting)
                    students = [s for s in students if s not in waiting]
                    break
                time.sleep(0.02)
            wrong += len(wronged)
            time.sleep(1.0)
        busy_share = (cpu_seconds(process.pid) - start_cpu) / (time.monotonic() - start)
        errors = [e for s in wire_students for e in s.errors]
        print(f"follow latency over {args.changes} changes (server CPU meanwhile {busy_share:.0%} of one core):")
        for kind, measured in delays.items():
            print(f"  {kind} students: {percentiles(measured)}")
        print(f"  all students: {percentiles(delays['wire'] + delays['chromium'])}")
        print(f"wrong views seen: {wrong}; did not follow in {TIMEOUT_S:.0f} s: {stuck}; wire errors: {errors[:3]}")
        for student in wire_students:
            student.close()
        browser.close()


if __name__ == "__main__":
    main()
