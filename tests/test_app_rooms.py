"""Classroom rooms through the app (AppTest): a teacher's session and students' sessions in one server, sharing its
room store. Each of the teacher's runs is a poll of the room bar (it publishes the view); each student run is a
poll too (it applies what the teacher shows). Checked: preset after preset, page after page, the sample image, the
step, leaving and rejoining, a quiz from asking to revealing, Quiz me, hostile codes; in memory and in Redis."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from cnnviz.arithmetic import geometry as ar
from cnnviz.classroom import codes, quiz, rooms
from cnnviz.ui import rooms as ui
from tests.apptest import (  # noqa: F401 (fixtures)
    assert_no_exception,
    fresh_caches,
    navigation_mode,
    open_link,
    player_data,
    shown,
    start,
)
from tests.servers import redis_server

ARITHMETIC = "pages/arithmetic.py"


@pytest.fixture(params=["memory", "redis"])
def store(request, monkeypatch):
    """The server's room store: in memory, or in a real redis-server (the server setting names it)."""
    rooms.room_store.cache_clear()
    if request.param == "memory":
        monkeypatch.delenv(rooms.REDIS_URL_SETTING, raising=False)
        yield rooms.room_store()
    else:
        with redis_server() as url:
            monkeypatch.setenv(rooms.REDIS_URL_SETTING, url)
            made = rooms.room_store()
            assert isinstance(made, rooms.RedisRooms)
            yield made
    rooms.room_store.cache_clear()


def teacher_app(page: str | None = None) -> AppTest:
    at = start(page)
    at.sidebar.button(key="room_start").click().run()
    assert_no_exception(at)
    return at


def code_of(teacher: AppTest) -> str:
    return teacher.session_state[ui.TEACHER_KEY].code


def student_app(code: str) -> AppTest:
    """A student opening the join link (on Home)."""
    at = open_link(None, {"room": code})
    assert_no_exception(at)
    return at


def poll(*apps: AppTest) -> None:
    """One poll of each room bar, in order (the teacher's publishes, a student's applies)."""
    for at in apps:
        at.run()
        assert_no_exception(at)


def change(at: AppTest, kind: str, key: str, value, link: str | None = None) -> None:
    """A click on a control of ``at``'s page, as the browser makes it: the control's value, and its link text in the
    address (which the browser writes; AppTest does not)."""
    getattr(at, kind)(key=key).set_value(value)
    at.query_params[key] = link if link is not None else str(value)
    at.run()
    assert_no_exception(at)


def output_size(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Output size"))


def settings(at: AppTest) -> dict[str, str]:
    """The arithmetic controls shown (output padding only for a transposed convolution)."""
    keys = ("op", "i", "k", "s", "p", "d", "preset") + (("a",) if at.session_state["op"] == "transposed" else ())
    return {key: str(at.session_state[key]) for key in keys if key in at.session_state}


def bar(at: AppTest) -> str:
    return next(m.value for m in at.markdown if "Room " in m.value or "room " in m.value)


def test_students_follow_the_teacher_preset_after_preset_page_after_page(store):
    teacher = teacher_app(ARITHMETIC)
    students = [student_app(code_of(teacher)) for _ in range(2)]
    poll(teacher)
    assert "2 students following" in bar(teacher)
    for preset in ar.PRESETS[:8]:  # each preset over the one before: no setting of the last may linger
        change(teacher, "selectbox", "preset", preset.key, preset.title)
        poll(teacher, *students)
        n = preset.expected_output
        for student in students:
            assert output_size(student) == output_size(teacher) == f"**Output size: {n} × {n}**", preset.key
            assert settings(student) == settings(teacher)
            assert "Following room" in bar(student)
    change(teacher, "slider", "i", 9)  # a custom case after a preset
    poll(teacher, *students)
    for student in students:
        assert settings(student) == settings(teacher) and output_size(student) == output_size(teacher)

    teacher.sidebar.selectbox(key="sample_name").set_value("synthetic: ring").run()  # the sidebar: not in the link
    teacher.switch_page("pages/network.py").run()
    poll(teacher, *students)
    for student in students:
        assert student.session_state["sample_name"] == "synthetic: ring"
        assert any("Receptive field" in m.value for m in student.markdown)  # the network page's table caption
    teacher.switch_page("pages/learn.py").run()
    change(teacher, "segmented_control", "lesson", 3)
    poll(teacher, *students)
    assert [s.session_state["lesson"] for s in students] == [3, 3]


def test_the_step_follows_and_a_student_may_leave_and_rejoin(store):
    teacher = teacher_app(ARITHMETIC)
    student = student_app(code_of(teacher))
    teacher.query_params["step"] = "4"  # what the browser player writes into the teacher's address
    poll(teacher, student)
    assert student.query_params["step"] == "4"
    assert player_data(student)["start"] == 4

    student.button(key="room_leave").click().run()
    assert "Exploring on your own" in bar(student)
    change(teacher, "slider", "k", 2)
    poll(teacher, student)
    assert student.session_state["k"] == 3  # exploring: the teacher's change is not applied
    change(student, "slider", "i", 8)
    assert student.session_state["i"] == 8 and teacher.session_state["i"] == 5  # a student changes only their view
    poll(teacher)
    assert "0 students following" in bar(teacher)
    student.button(key="room_rejoin").click().run()
    poll(student)
    assert (student.session_state["k"], student.session_state["i"]) == (2, 5)
    assert "Following room" in bar(student)


def test_a_quiz_from_asking_to_revealing(store):
    teacher = teacher_app(ARITHMETIC)
    right, wrong = student_app(code_of(teacher)), student_app(code_of(teacher))
    teacher.radio(key="room_quiz_kind").set_value("output_size")
    teacher.button(key="room_quiz_ask").click().run()
    assert_no_exception(teacher)
    poll(right, wrong)
    asked = store.snapshot(store.find(code_of(teacher))).question
    assert asked is not None and asked["answer"] == "3×3"  # the default case: 5×5 input, kernel 3
    for student, answer in ((right, "3 x 3"), (wrong, "4×4")):
        assert any("what is the output's height × width" in shown(m.value) for m in student.markdown)
        texts = [shown(e.value) for e in (*student.markdown, *student.caption, *student.success, *student.info)]
        assert not any("gives 3×3" in t for t in texts)  # the answer and its reason stay on the server
        student.text_input(key="room_answer_1_text").input(answer)
        student.button(key="FormSubmitter:room_answer_1-Answer").click().run()
        assert_no_exception(student)
        assert any("Sent" in c.value for c in student.caption)
    poll(teacher)
    assert any(m.value.startswith("2 answers · 1 right (50%)") for m in teacher.markdown)
    (chart,) = teacher.get("plotly_chart")
    (bars,) = json.loads(chart.proto.spec)["data"]
    assert sorted(zip(bars["y"], bars["x"], strict=True)) == [("3×3", 1), ("4×4", 1)]
    teacher.button(key="room_reveal").click().run()
    poll(right, wrong)
    assert any(s.value.startswith("Right: 3×3") for s in right.success)
    assert any("the answer is 3×3" in e.value for e in wrong.error)


def test_quiz_me_alone_checks_the_answer():
    at = start(ARITHMETIC)
    at.sidebar.radio(key="practice_kind").set_value("output_size")
    at.sidebar.button(key="practice_ask").click().run()
    at.sidebar.text_input(key="practice_answer_text").input("3")  # one number for a square output
    at.sidebar.button(key="FormSubmitter:practice_answer-Answer").click().run()
    assert_no_exception(at)
    assert any(s.value.startswith("Right: 3×3") for s in at.sidebar.success)
    at.sidebar.radio(key="practice_kind").set_value("predicted_class")
    at.sidebar.button(key="practice_ask").click().run()
    options = at.sidebar.radio(key="practice_answer_pick").options
    assert len(options) >= 2
    at.sidebar.radio(key="practice_answer_pick").set_value(options[0])
    at.sidebar.button(key="FormSubmitter:practice_answer-Answer").click().run()
    assert_no_exception(at)
    assert at.sidebar.success or at.sidebar.error
    learn = start("pages/learn.py", {"lesson": "4"})  # Learn's step 4 offers the designed kernel of a filter
    assert quiz.KINDS["designed_match"] in learn.sidebar.radio(key="practice_kind").options
    learn = start("pages/learn.py", {"lesson": "3"})
    assert quiz.KINDS["designed_match"] not in learn.sidebar.radio(key="practice_kind").options


@pytest.mark.parametrize(
    "link",
    ["<script>alert(1)</script>", "K7QM-2XPA", "0" * 16, "x" * 500, "[a](javascript:alert(1))", "ABCD EFGH"],
)
def test_a_hostile_or_wrong_room_link_says_so_and_nothing_else(store, link):
    at = open_link(None, {"room": link})
    assert_no_exception(at)
    said = [w.value for w in at.warning]
    assert said and all(
        text in {str(rooms.RoomGone())} or text.startswith(("A room code", "That is too long")) for text in said
    )
    assert ui.ROOM_KEY not in at.session_state and ui.TEACHER_KEY not in at.session_state
    assert not any(link in m.value for m in at.markdown)


def test_a_follower_cannot_change_what_the_room_shows(store):
    teacher = teacher_app(ARITHMETIC)
    student = student_app(code_of(teacher))
    poll(teacher)
    room = store.find(code_of(teacher))
    before = store.snapshot(room)
    forged = rooms.Teacher(code_of(teacher), "a guessed key")
    student.session_state[ui.TEACHER_KEY] = forged  # even a session holding the code as a teacher would
    student.run()
    assert store.snapshot(room) == before
    with pytest.raises(rooms.NotTeacher):
        store.publish(forged, {"page": "learn"})
    assert codes.normalise(code_of(teacher)) == code_of(teacher)


def test_a_small_class_polls_twice_as_often_as_a_large_one(store):
    """A follower polls every SMALL_ROOM_POLL_S while at most SMALL_ROOM follow (counted at its last poll), every
    POLL_S beyond, and before it has counted (the poll component's interval as the page sends it)."""
    assert ui.follower_poll_s(None) == ui.POLL_S == 1.0
    assert ui.follower_poll_s(1) == ui.follower_poll_s(ui.SMALL_ROOM) == 0.5
    assert ui.follower_poll_s(ui.SMALL_ROOM + 1) == 1.0
    teacher = teacher_app(ARITHMETIC)
    students = [student_app(code_of(teacher)) for _ in range(2)]
    poll(teacher, *students)
    assert [s.session_state[ui.FOLLOWERS_KEY] for s in students] == [2, 2]
    intervals = []
    for student in students:
        polls = [e for e in student.get("bidi_component") if "interval_ms" in str(getattr(e, "proto", ""))]
        intervals.append([json.loads(e.proto.json)["interval_ms"] for e in polls])
    assert intervals == [[500], [500]]
