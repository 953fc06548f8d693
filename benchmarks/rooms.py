"""A room with many followers: how long students' screens take to show the teacher's change, and what following
costs the server.

Run: ``.venv/bin/python benchmarks/rooms.py [--followers 30] [--changes 10]`` (needs Chromium: set
``CHROMIUM_PATH`` or have ``chromium`` on PATH). It starts the app as ``make run`` does, opens a teacher's tab on
the arithmetic page and ``--followers`` students' tabs on the join link (each tab its own Streamlit session), all
in one headless Chromium on this machine, and prints

- the server's CPU while the room is idle (every follower polling each second, the teacher every half second):
  per cent of one core, and the polls per second it answers;
- the follow latency: from the teacher's change of preset to each student's screen showing that preset and its
  output size, p50 / p95 / worst over ``--changes`` changes and every student; and the server's CPU meanwhile; a
  student whose screen has not followed in 60 s is counted and left out of the later changes.

The browser tabs run on the same two cores as the server, so the latencies include the students' own rendering.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnviz.arithmetic.geometry import PRESETS
from cnnviz.ui.rooms import POLL_S, TEACHER_POLL_S
from tests.browser import CHROMIUM_FLAGS, chromium_path, cpu_seconds, streamlit_process
from tests.test_browser import select_option, settle, wait_step
from tests.test_browser_rooms import chosen_preset, output_size, start_room

TIMEOUT_MS = 60_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=30)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of the idle room measured")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with streamlit_process() as (url, process), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        teacher = context.new_page()
        teacher.goto(f"{url}/arithmetic")
        wait_step(teacher, 1)
        settle(teacher)
        link = start_room(teacher)
        students, crashed = [], []
        for _ in range(args.followers):
            student = context.new_page()
            student.on("crash", lambda page: crashed.append(page))
            student.goto(link)
            students.append(student)
        for student in students:
            student.get_by_text("Following room").wait_for()
            wait_step(student, 1)
        teacher.get_by_text(f"{args.followers} students following").wait_for()
        print(f"{args.followers} students follow room {link.rsplit('=', 1)[1][:8]}")

        start_cpu, start = cpu_seconds(process.pid), time.monotonic()
        time.sleep(args.idle)
        idle_share = (cpu_seconds(process.pid) - start_cpu) / (time.monotonic() - start)
        polls = args.followers / POLL_S + 1 / TEACHER_POLL_S
        print(f"idle room: server CPU {idle_share:.0%} of one core, answering {polls:.0f} polls/s")

        delays: list[float] = []
        stuck = 0
        presets = [p for p in PRESETS if p.op == "conv"][: args.changes] or list(PRESETS[:1])
        start_cpu, start = cpu_seconds(process.pid), time.monotonic()
        for n in range(args.changes):
            preset = presets[n % len(presets)]
            settle(teacher)
            select_option(teacher, "Preset", preset.title)
            since = time.monotonic()
            size = f"Output size: {preset.expected_output} × {preset.expected_output}"
            waiting = list(students)
            while waiting:
                for student in [s for s in waiting if s in crashed]:  # a renderer crash: not the server's doing
                    waiting.remove(student)
                for student in list(waiting):
                    if chosen_preset(student) == preset.title and output_size(student) == size:
                        delays.append(time.monotonic() - since)
                        waiting.remove(student)
                if time.monotonic() - since > TIMEOUT_MS / 1000:  # left out from here on, and counted
                    shown = sorted({(chosen_preset(s), output_size(s)) for s in waiting})
                    print(f"{len(waiting)} students did not follow {preset.title!r} in 60 s; they show {shown}")
                    stuck += len(waiting)
                    students = [s for s in students if s not in waiting]
                    break
                time.sleep(0.02)
            time.sleep(1.0)
        busy_share = (cpu_seconds(process.pid) - start_cpu) / (time.monotonic() - start)
        if not delays:
            raise SystemExit(f"no student followed (server CPU meanwhile {busy_share:.0%} of one core)")
        delays.sort()
        p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
        if crashed or stuck:
            print(f"left out: {len(crashed)} tabs crashed in Chromium, {stuck} did not follow")
        print(
            f"follow latency over {args.changes} changes x {args.followers} students: p50 "
            f"{statistics.median(delays):.2f} s, p95 {p95:.2f} s, worst {delays[-1]:.2f} s "
            f"(server CPU meanwhile {busy_share:.0%} of one core)"
        )
        browser.close()


if __name__ == "__main__":
    main()
