"""Rooms: codes, the teacher's key, expiry and every bound, the same for the in-memory store and for Redis (a real
``redis-server`` on a free port)."""

from __future__ import annotations

import re
import threading

import pytest

from cnnviz.classroom import codes, rooms
from cnnviz.classroom.rooms import MAX_FOLLOWERS, MAX_ROOMS, MemoryRooms, RedisRooms, RoomStore
from tests.servers import redis_server


class Clock:
    """A clock the test moves (Redis keeps its own time for expiry; its tests wait instead)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as url:
        yield url


@pytest.fixture(params=["memory", "redis"])
def store(request) -> RoomStore:
    if request.param == "memory":
        return MemoryRooms()
    made = RedisRooms(request.getfixturevalue("redis_url"))
    made.client.flushdb()
    return made


def test_codes_are_crockford_base32_with_80_bits_and_a_40_bit_short_form():
    drawn = {codes.new_code() for _ in range(2000)}
    assert len(drawn) == 2000
    assert all(re.fullmatch("[0-9A-HJKMNP-TV-Z]{16}", code) for code in drawn)
    assert len(codes.ALPHABET) ** codes.SHORT_LENGTH == 2**40
    assert len(codes.ALPHABET) ** codes.FULL_LENGTH == 2**80
    # every symbol appears at every position about as often (a biased draw would have fewer bits)
    counts = [sum(code[0] == symbol for code in drawn) for symbol in codes.ALPHABET]
    assert min(counts) > 20 and max(counts) < 115
    code = "K7QM2XPA9F3D1BCE"
    assert codes.spoken(code) == "K7QM-2XPA"
    assert codes.normalise(" k7qm-2xpa ") == "K7QM2XPA"
    assert codes.normalise("K7QM 2XPA 9F3D IBCE") == "K7QM2XPA9F3D1BCE"  # I is read as 1
    assert codes.normalise("oOlL2XPA") == "00112XPA"
    for bad in ("", "K7QM2XP", "K7QM2XPAU", "K7QM<b>A", "K7QM2XPA9F3D1BC", "x" * 41):
        with pytest.raises(codes.CodeError):
            codes.normalise(bad)
    assert codes.matches("K7QM2XPA", code) and codes.matches(code, code)
    assert not codes.matches("K7QM2XPB", code) and not codes.matches("K7QM2XPA9F3D1BCF", code)


def test_a_room_is_found_by_its_short_form_or_its_whole_code_and_nothing_else(store):
    teacher = store.open()
    assert store.find(codes.spoken(teacher.code).lower()) == teacher.room
    assert store.find(teacher.code) == teacher.room
    wrong_tail = teacher.code[:-1] + ("0" if teacher.code[-1] != "0" else "1")
    with pytest.raises(rooms.RoomGone):
        store.find(wrong_tail)  # the short form is right, the link's secret is not
    with pytest.raises(rooms.RoomGone):
        store.find(codes.new_code())
    with pytest.raises(codes.CodeError):
        store.find("<script>")


def test_what_the_teacher_publishes_followers_see_and_only_the_teacher_changes_it(store):
    teacher = store.open()
    assert store.snapshot(teacher.room).version == 0
    view = {"page": "arithmetic", "query": {"i": "5", "k": "3"}, "sample": None}
    assert store.publish(teacher, view) == 1
    assert store.publish(teacher, view) == 1  # unchanged: no new version for followers to apply
    seen = store.snapshot(teacher.room)
    assert (seen.version, seen.view, seen.question) == (1, view, None)
    assert store.publish(teacher, view | {"page": "learn"}) == 2
    intruder = rooms.Teacher(teacher.code, "a guessed key")
    for act in (
        lambda: store.publish(intruder, {"page": "home"}),
        lambda: store.ask(intruder, {"kind": "x"}),
        lambda: store.reveal(intruder),
        lambda: store.close(intruder),
        lambda: store.answers(intruder),
        lambda: store.followers(intruder),
    ):
        with pytest.raises(rooms.NotTeacher):
            act()
    assert store.snapshot(teacher.room).view["page"] == "learn"
    other = store.open()
    assert store.snapshot(other.room).view == {}  # rooms do not share views
    with pytest.raises(rooms.RoomFull):
        store.publish(teacher, {"page": "x" * rooms.MAX_VIEW_BYTES})
    store.close(teacher)
    with pytest.raises(rooms.RoomGone):
        store.snapshot(teacher.room)
    with pytest.raises(rooms.RoomGone):
        store.follow(teacher.room, "someone")


def test_followers_are_counted_while_they_poll_and_bounded(store, monkeypatch):
    teacher = store.open()
    clock = Clock()
    store.clock = clock
    assert store.follow(teacher.room, "a") == 1
    assert store.follow(teacher.room, "a") == 1  # the same session again
    assert store.follow(teacher.room, "b") == 2
    assert store.followers(teacher) == 2
    clock.now += rooms.FOLLOWER_SEEN_S - 1
    assert store.follow(teacher.room, "b") == 2
    clock.now += 2  # "a" has not polled for longer than FOLLOWER_SEEN_S: its tab is closed
    assert store.followers(teacher) == 1
    store.leave(teacher.room, "b")
    assert store.followers(teacher) == 0
    for n in range(MAX_FOLLOWERS):
        store.follow(teacher.room, f"f{n}")
    with pytest.raises(rooms.RoomFull):
        store.follow(teacher.room, "one too many")
    assert store.follow(teacher.room, "f0") == MAX_FOLLOWERS  # those in the room stay
    clock.now += rooms.FOLLOWER_SEEN_S + 1
    assert store.follow(teacher.room, "one too many") == 1  # the others left: room again


def test_concurrent_joins_cannot_pass_the_bound(store):
    teacher = store.open()
    for n in range(MAX_FOLLOWERS - 5):
        store.follow(teacher.room, f"f{n}")
    outcomes: list[str] = []

    def join(n: int) -> None:
        try:
            store.follow(teacher.room, f"new{n}")
            outcomes.append("in")
        except rooms.RoomFull:
            outcomes.append("full")

    threads = [threading.Thread(target=join, args=(n,)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("in") == 5 and outcomes.count("full") == 35
    assert store.followers(teacher) == MAX_FOLLOWERS


def test_answers_count_for_the_open_question_only(store):
    teacher = store.open()
    first = store.ask(teacher, {"kind": "output_size", "prompt": "?"})
    snap = store.snapshot(teacher.room)
    assert (snap.quiz, snap.question, snap.revealed) == (first, {"kind": "output_size", "prompt": "?"}, False)
    assert store.answer(teacher.room, "a", first, "3")
    assert store.answer(teacher.room, "a", first, "4")  # the last answer counts
    assert store.answer(teacher.room, "b", first, "4")
    assert store.answers(teacher) == {"a": "4", "b": "4"}
    with pytest.raises(rooms.RoomFull):
        store.answer(teacher.room, "c", first, "9" * (rooms.MAX_ANSWER_LENGTH + 1))
    second = store.ask(teacher, {"kind": "output_size", "prompt": "again"})
    assert second == first + 1 and store.answers(teacher) == {}
    assert not store.answer(teacher.room, "a", first, "4")  # a late answer to the question before
    assert store.answer(teacher.room, "a", second, "5")
    store.reveal(teacher)
    assert store.snapshot(teacher.room).revealed
    assert not store.answer(teacher.room, "b", second, "5")  # closed once revealed
    assert store.answers(teacher) == {"a": "5"}
    third = store.ask(teacher, {"kind": "output_size"})
    for n in range(MAX_FOLLOWERS):
        assert store.answer(teacher.room, f"f{n}", third, "1")
    with pytest.raises(rooms.RoomFull):
        store.answer(teacher.room, "late", third, "1")


def test_the_store_holds_a_bounded_number_of_rooms(store):
    opened = [store.open() for _ in range(MAX_ROOMS)]
    with pytest.raises(rooms.RoomFull):
        store.open()
    store.close(opened[0])
    store.open()


def test_a_room_the_teacher_left_expires_with_its_followers_and_answers():
    clock = Clock()
    store = MemoryRooms(idle_s=60, clock=clock)
    teacher = store.open()
    store.follow(teacher.room, "a")
    clock.now += 50
    store.touch(teacher)  # the teacher's page is still open
    clock.now += 50
    assert store.snapshot(teacher.room).version == 0
    clock.now += 11
    with pytest.raises(rooms.RoomGone):
        store.snapshot(teacher.room)
    assert store._rooms == {}  # followers and answers went with it


def test_redis_expires_every_key_of_a_room_the_teacher_left(redis_url):
    import time

    store = RedisRooms(redis_url, idle_s=1.0)
    store.client.flushdb()
    teacher = store.open()
    store.follow(teacher.room, "a")
    store.ask(teacher, {"kind": "x"})
    store.answer(teacher.room, "a", 1, "3")
    assert set(store.client.keys("cnnviz:room:*")) == set(store._keys(teacher.room))
    time.sleep(0.6)
    store.touch(teacher)
    time.sleep(0.6)
    assert store.snapshot(teacher.room).quiz == 1  # touched 0.6 s ago: still open
    time.sleep(0.6)
    with pytest.raises(rooms.RoomGone):
        store.snapshot(teacher.room)
    assert store.client.keys("cnnviz:room:*") == []
    assert store.open()  # the expired room no longer counts against MAX_ROOMS


def test_two_stores_on_one_redis_share_rooms_as_two_replicas_would(redis_url):
    one, two = RedisRooms(redis_url), RedisRooms(redis_url)
    one.client.flushdb()
    teacher = one.open()
    one.publish(teacher, {"page": "learn", "query": {"lesson": "2"}})
    assert two.find(codes.spoken(teacher.code)) == teacher.room
    assert two.snapshot(teacher.room).view["query"] == {"lesson": "2"}
    two.follow(teacher.room, "student")
    assert one.followers(teacher) == 1


def test_the_server_setting_chooses_the_store(monkeypatch, redis_url):
    rooms.room_store.cache_clear()
    monkeypatch.delenv(rooms.REDIS_URL_SETTING, raising=False)
    assert isinstance(rooms.room_store(), MemoryRooms)
    rooms.room_store.cache_clear()
    monkeypatch.setenv(rooms.REDIS_URL_SETTING, redis_url)
    assert isinstance(rooms.room_store(), RedisRooms)
    rooms.room_store.cache_clear()


def _filled(store: RoomStore) -> rooms.Teacher:
    teacher = store.open()
    store.publish(teacher, {"page": "x" * (rooms.MAX_VIEW_BYTES - 20)})
    quiz = store.ask(teacher, {"prompt": "y" * (rooms.MAX_QUESTION_BYTES - 20)})
    for n in range(MAX_FOLLOWERS):
        follower = f"{n:032d}"  # as long as an id is kept
        store.follow(teacher.room, follower)
        store.answer(teacher.room, follower, quiz, "9" * rooms.MAX_ANSWER_LENGTH)
    return teacher


def test_a_room_filled_to_every_bound_stays_within_its_memory_budget(redis_url):
    import tracemalloc

    store = MemoryRooms()
    _filled(store)  # the store's own structures made once
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(10):
            _filled(store)
        per_room = (tracemalloc.get_traced_memory()[0] - before) / 10
    finally:
        tracemalloc.stop()
    assert 10_000 < per_room < rooms.ROOM_BUDGET_BYTES
    redis_store = RedisRooms(redis_url)
    redis_store.client.flushdb()
    teacher = _filled(redis_store)
    used = sum(redis_store.client.memory_usage(key) for key in redis_store._keys(teacher.room))
    assert 10_000 < used < rooms.ROOM_BUDGET_BYTES
