"""A class in Chromium: one teacher and three students, each in a browser context of their own, on one server. The
room goes through a preset change, a player step, a lesson step and a quiz with answers; each time every student's
screen shows what the teacher's shows. How long that took is printed (the benchmark, benchmarks/rooms.py, measures
it with 30 students)."""

from __future__ import annotations

import re
import statistics
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from cnnviz.arithmetic.geometry import PRESETS, Preset
from tests.browser import chromium, streamlit_server
from tests.test_browser import LOAD_TIMEOUT_MS, PLAYER, select_option, settle, wait_step
from tests.wire import WireTab

pytestmark = pytest.mark.browser
FOLLOW_TIMEOUT_S = 20
"""The longest a student's screen may take to show the teacher's change here (the target, 2 s, is measured by the
benchmark: these machines are shared)."""


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(LOAD_TIMEOUT_MS)
    page = context.new_page()
    page.goto(url)
    return page


def start_room(teacher) -> str:
    """Start a room from the sidebar's Classroom box; the join link it shows."""
    teacher.get_by_test_id("stSidebar").get_by_text("Classroom").click()
    teacher.get_by_role("button", name="Start a room (teacher)").click()
    link = teacher.get_by_test_id("stSidebar").get_by_test_id("stCode").filter(has_text="?room=")
    link.wait_for()
    return link.inner_text().strip()


def followed(students, check, what: str, delays: list[float], since: float) -> None:
    """Wait until ``check(student)`` holds for every student; record how long after ``since`` each did."""
    for student in students:
        while not check(student):
            assert time.monotonic() - since < FOLLOW_TIMEOUT_S, f"a student's screen did not follow: {what}"
            time.sleep(0.05)
        delays.append(time.monotonic() - since)


def text_of(page, selector: str) -> str:
    found = page.locator(selector)
    return found.first.inner_text() if found.count() else ""


def chosen_preset(page) -> str:
    """The preset the arithmetic page's box shows ("" while there is none): read at once, never waited for."""
    return page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="stSelectbox"]')]
            .filter(b => b.innerText.startsWith('Preset'))
            .map(b => (b.querySelector('input') || {}).value || '')[0] || ''"""
    )


def output_size(page) -> str:
    shown = page.get_by_text(re.compile(r"^Output size: \d+ × \d+$"))
    return shown.first.inner_text() if shown.count() else ""


def formula(preset: Preset) -> str:
    """The output-size formula with the numbers of ``preset`` (a convolution), as the page writes it (worked out
    here from the preset's sizes, not by the app's formula code)."""
    p = preset
    return (
        rf"\frac{{{p.input_size} + 2 \cdot {p.padding} - {p.dilation} \cdot ({p.kernel_size}-1) - 1}}{{{p.stride}}}"
        rf" \right\rfloor + 1 = {p.expected_output}"
    )


def shows(text: str, preset: Preset) -> tuple[bool, bool]:
    """Whether a page's ``text`` names ``preset`` in the Preset box, and whether it shows that case's numbers (the
    paper's output size, and the formula with the case's sizes)."""
    size = f"Output size: {preset.expected_output} × {preset.expected_output}"
    named = any(line.startswith("Preset") and line.endswith(f": {preset.title}") for line in text.splitlines())
    numbers = size in text and formula(preset).replace(" ", "") in text.replace(" ", "")
    return named, numbers


def test_a_teacher_and_three_students_in_a_room(tmp_path_factory, browser):
    with streamlit_server() as url:
        teacher = open_page(browser, f"{url}/arithmetic")
        wait_step(teacher, 1, 9)
        settle(teacher)
        link = start_room(teacher)
        assert re.fullmatch(r"http://[^/]+/\?room=[0-9A-HJKMNP-TV-Z]{16}", link), link
        assert teacher.get_by_role("img", name=re.compile("")).count() >= 1  # the QR code in the sidebar
        students = [open_page(browser, link) for _ in range(3)]
        for student in students:  # the join link opens Home; the room bar takes each to the teacher's page
            student.get_by_text("Following room").wait_for()
            wait_step(student, 1, 9)
        teacher.get_by_text(re.compile("3 students following")).wait_for()
        delays: list[float] = []

        # presets, one after another: each student's settings, output size and player follow
        for preset, size, steps in (
            ("Padding, strides", 3, 9),
            ("Dilation", 3, 9),
            ("Arbitrary padding, no strides", 6, 36),
        ):
            select_option(teacher, "Preset", preset)
            since = time.monotonic()
            teacher.get_by_text(f"Output size: {size} × {size}").wait_for()
            settle(teacher)
            followed(
                students,
                lambda s, preset=preset, size=size: (
                    chosen_preset(s) == preset and output_size(s) == f"Output size: {size} × {size}"
                ),
                preset,
                delays,
                since,
            )
            for student in students:
                wait_step(student, 1, steps)

        # a player step: the students' players go to the teacher's step
        settle(teacher)
        teacher.locator(PLAYER).get_by_role("button", name="Step forward (→)").click()
        teacher.locator(PLAYER).get_by_role("button", name="Step forward (→)").click()
        since = time.monotonic()
        wait_step(teacher, 3)
        caption = text_of(teacher, ".cnnviz-caption")
        followed(
            students,
            lambda s: s.locator(f'{PLAYER}[data-step="3"]').count() == 1 and text_of(s, ".cnnviz-caption") == caption,
            "the player's step",
            delays,
            since,
        )

        # a lesson step on another page
        teacher.get_by_test_id("stSidebarNav").get_by_text("Learn").click()
        teacher.get_by_role("heading", name=re.compile(r"^1\. ")).wait_for()
        settle(teacher)
        teacher.locator('.st-key-lesson_next[data-stale="false"] button:visible').click()
        since = time.monotonic()
        heading = re.compile(r"^2\. ")
        teacher.get_by_role("heading", name=heading).wait_for()
        followed(
            students, lambda s: s.get_by_role("heading", name=heading).count() == 1, "the lesson step", delays, since
        )

        # a quiz: the teacher asks which class the model predicts, two students answer right, one wrong
        quiz_box = teacher.get_by_test_id("stMain").get_by_test_id("stExpander").filter(has_text="Quiz")
        quiz_box.locator("summary").click()
        teacher.locator(".st-key-room_quiz_kind").get_by_text("The class the model will predict").click()
        teacher.locator(".st-key-room_quiz_ask button").click()
        since = time.monotonic()
        question = "Which class will the model predict for this image?"
        followed(students, lambda s: s.get_by_text(question).count() >= 1, "the question", delays, since)
        answers = []
        for n, student in enumerate(students):
            options = student.get_by_test_id("stRadio").filter(has_text="Your answer").get_by_role("radio")
            labels = [o.evaluate("e => e.closest('label').innerText") for o in options.all()]
            answers.append(labels)
            pick = 0 if n < 2 else 1
            options.nth(pick).evaluate("e => e.closest('label').click()")
            student.get_by_role("button", name="Answer").click()
            student.get_by_text(re.compile("^Sent: ")).wait_for()
        assert answers[0] and all(sorted(a) == sorted(answers[0]) for a in answers)
        teacher.get_by_text(re.compile(r"^3 answers · ")).wait_for()
        tally = teacher.get_by_text(re.compile(r"^3 answers · \d right")).inner_text()
        right = int(re.search(r"(\d) right", tally).group(1))
        teacher.get_by_role("button", name="Reveal the answer").click()
        verdicts = []
        for student in students:
            student.get_by_text(re.compile("^(Right: |You said )")).first.wait_for()
            verdicts.append(student.get_by_text(re.compile("^Right: ")).count() == 1)
        assert sum(verdicts) == right  # what each student was told agrees with the teacher's count
        assert teacher.get_by_text(re.compile("^Revealed: ")).count() == 1

        for page in (teacher, *students):
            assert page.get_by_test_id("stException").count() == 0
        print(
            f"students following within: median {statistics.median(delays):.2f} s, "
            f"worst {max(delays):.2f} s over {len(delays)} changes"
        )
        for page in (teacher, *students):
            page.context.close()


@pytest.mark.slow
def test_a_class_never_sees_a_half_changed_case(browser):
    """Twelve students follow a teacher (in Chromium) through six presets, preset after preset. The students are
    wire tabs (:class:`tests.wire.WireTab`: a tab's conversation with the server, polls included, without the
    rendering), so that twelve fit beside the server on two cores. Every student shows each preset with its own
    numbers (the paper's output size, the formula with the preset's sizes), and no student's finished run ever
    draws the new preset with another case's numbers (a view published, or applied, half changed)."""
    with streamlit_server() as url:
        teacher = open_page(browser, f"{url}/arithmetic")
        wait_step(teacher, 1, 9)
        settle(teacher)
        code = start_room(teacher).rsplit("=", 1)[1]
        students = [WireTab(url, "", f"room={code}") for _ in range(12)]
        try:
            teacher.get_by_text("12 students following").wait_for()
            for preset in [p for p in PRESETS if p.op == "conv"][1:7]:
                settle(teacher)
                select_option(teacher, "Preset", preset.title)
                waiting, deadline = list(students), time.monotonic() + FOLLOW_TIMEOUT_S
                while waiting and time.monotonic() < deadline:
                    for student in list(waiting):
                        text = student.text()
                        named, numbers = shows(text, preset)
                        assert numbers or not named, f"{preset.title!r} is shown with another case's numbers:\n{text}"
                        if named:
                            waiting.remove(student)
                    time.sleep(0.01)
                assert not waiting, f"{len(waiting)} students did not follow {preset.title!r}: {waiting[0].text()}"
            assert not [error for student in students for error in student.errors]
        finally:
            for student in students:
                student.close()


def test_links_copied_in_a_room_open_the_case_shown(browser):
    """While a room is open, a link copied from the teacher's or a student's address bar opens the case their screen
    shows, preset after preset. Before :func:`cnnviz.ui.controls.write_link` in the preset's callback, the
    teacher's address lacked the preset in 3 of 5 runs (stop 41): the address the browser sent with the change
    sometimes lacked the new preset, and Streamlit sent that address back with the preset's numbers; the link opened
    "custom", once with a 2 × 2 output instead of 6 × 6."""
    with streamlit_server() as url:
        teacher = open_page(browser, f"{url}/arithmetic")
        wait_step(teacher, 1, 9)
        settle(teacher)
        student = open_page(browser, start_room(teacher))
        student.get_by_text("Following room").wait_for()
        for preset in [p for p in PRESETS if p.op == "conv"][1:4]:
            settle(teacher)
            select_option(teacher, "Preset", preset.title)
            expected = (preset.title, f"Output size: {preset.expected_output} × {preset.expected_output}")
            deadline = time.monotonic() + FOLLOW_TIMEOUT_S
            while (chosen_preset(student), output_size(student)) != expected and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2.5)  # two of the room bar's polls on each side
            for who, page in (("teacher", teacher), ("student", student)):
                parts = urlsplit(page.url)
                query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "room"])
                copied = open_page(browser, urlunsplit(parts._replace(query=query)))
                try:
                    wait_step(copied, 1)
                    settle(copied)
                    shown = (chosen_preset(copied), output_size(copied))
                    assert shown == expected, f"the {who}'s link {page.url} opens {shown}, not {expected}"
                finally:
                    copied.context.close()
