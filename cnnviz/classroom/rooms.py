"""Rooms: a teacher's view, published for the students who follow it, and the quiz asked in it.

A room lives in a :class:`RoomStore`: :class:`MemoryRooms` in the process (one server), :class:`RedisRooms` in
Redis (several replicas behind a load balancer: a teacher served by one and students by another share it);
:func:`room_store` picks one from the server's setting ``CNNVIZ_REDIS_URL``. The rules are the same for both
and declared here once:

- only the holder of the room's teacher key (:class:`Teacher`, kept in the teacher's session) changes what the
  room shows or asks; a follower can only say it is there and answer the open question;
- a room the teacher has not touched for :data:`ROOM_IDLE_S` is gone, followers and answers with it;
- a store holds at most :data:`MAX_ROOMS` rooms, a room :data:`MAX_FOLLOWERS` followers and as many answers,
  a view at most :data:`MAX_VIEW_BYTES`, a question :data:`MAX_QUESTION_BYTES`, an answer
  :data:`MAX_ANSWER_LENGTH` characters. A room filled to every bound takes 33 KiB of this process's memory
  (23 KiB in Redis), under :data:`ROOM_BUDGET_BYTES`; a full store under 8 MiB.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cnnviz.classroom import codes

logger = logging.getLogger(__name__)

ROOM_IDLE_S = 3600
"""A room whose teacher has not been heard from for an hour is gone (the teacher's open page keeps it alive)."""
FOLLOWER_SEEN_S = 15
"""A follower not heard from for this long (its tab closed) no longer counts."""
MAX_ROOMS = 200
MAX_FOLLOWERS = 100
MAX_VIEW_BYTES = 4096
MAX_QUESTION_BYTES = 2048
MAX_ANSWER_LENGTH = 40
ROOM_BUDGET_BYTES = 40 * 1024
"""What one room filled to every bound may take: its view and question, and per follower an id, a time and an
answer (tests/test_rooms.py measures it)."""
REDIS_URL_SETTING = "CNNVIZ_REDIS_URL"
"""The server setting (an environment variable) naming the Redis that holds the rooms; unset: in memory."""


class RoomError(Exception):
    """What went wrong, in a sentence a visitor can read."""


class RoomGone(RoomError):
    def __init__(self) -> None:
        super().__init__("There is no such room: the code is wrong, or the room has ended.")


class RoomFull(RoomError):
    def __init__(self, what: str) -> None:
        super().__init__(what)


class NotTeacher(RoomError):
    def __init__(self) -> None:
        super().__init__("Only the room's teacher can do that.")


@dataclass(frozen=True)
class Teacher:
    """What the teacher's session holds: the room's full code and the secret key that changes it."""

    code: str
    key: str = field(repr=False)

    @property
    def room(self) -> str:
        return codes.short_form(self.code)


@dataclass(frozen=True)
class Snapshot:
    """A room as a follower sees it: the view (``version`` counts its changes, the question's included) and the
    question asked, if any (``quiz`` counts questions; ``revealed`` once the teacher shows the answer)."""

    version: int
    view: dict[str, Any]
    question: dict[str, Any] | None
    quiz: int
    revealed: bool


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _encoded(value: Mapping[str, Any], limit: int, what: str) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    if len(text.encode()) > limit:
        raise RoomFull(f"The {what} is larger than a room holds ({limit} bytes).")
    return text


class RoomStore(ABC):
    """The rooms of one server (or of every replica sharing a Redis). Codes are checked here
    (:func:`cnnviz.classroom.codes.normalise`), the teacher key and every bound too; the subclasses only keep the
    records, each operation atomic."""

    def __init__(self, idle_s: float = ROOM_IDLE_S, clock: Callable[[], float] = time.time) -> None:
        self.idle_s = idle_s
        self.clock = clock

    # --- what a page calls ---------------------------------------------------------------------------------

    def open(self) -> Teacher:
        """A new room, empty; the teacher's key to it.

        Raises:
            RoomFull: the store holds :data:`MAX_ROOMS` rooms.
        """
        for _ in range(5):  # a short form already in use (a chance of 2 in 10¹⁰): draw again
            teacher = Teacher(codes.new_code(), secrets.token_urlsafe(24))
            fields = {"full": teacher.code, "teacher": _digest(teacher.key), "version": "0", "view": "{}"}
            fields |= {"quiz": "0", "question": "", "revealed": "0"}
            made = self._insert(teacher.room, fields)
            if made is None:
                raise RoomFull("The server holds as many rooms as it can; try again later.")
            if made:
                logger.info("room %s opened", teacher.room)
                return teacher
        raise RoomFull("No new room code could be drawn; try again.")

    def find(self, text: str) -> str:
        """The room that ``text`` (a code as typed, read aloud or carried by a link) opens.

        Raises:
            CodeError: ``text`` is not a code.
            RoomGone: no open room has it.
        """
        given = codes.normalise(text)
        room = codes.short_form(given)
        fields = self._fields(room)
        if fields is None or not codes.matches(given, fields["full"]):
            raise RoomGone()
        return room

    def publish(self, teacher: Teacher, view: Mapping[str, Any]) -> int:
        """Show ``view`` to the room's followers (unchanged: nothing happens); the room's version."""
        fields = self._teachers(teacher)
        text = _encoded(view, MAX_VIEW_BYTES, "view")
        if text == fields["view"]:
            self._touch(teacher.room)
            return int(fields["version"])
        return self._set(teacher.room, {"view": text}, bump=True)

    def touch(self, teacher: Teacher) -> None:
        """Keep the room open: the teacher is still there."""
        self._teachers(teacher)
        self._touch(teacher.room)

    def snapshot(self, room: str) -> Snapshot:
        """What ``room`` shows now.

        Raises:
            RoomGone: it has ended.
        """
        fields = self._fields(room)
        if fields is None:
            raise RoomGone()
        return Snapshot(
            int(fields["version"]),
            json.loads(fields["view"]),
            json.loads(fields["question"]) if fields["question"] else None,
            int(fields["quiz"]),
            fields["revealed"] == "1",
        )

    def follow(self, room: str, follower: str) -> int:
        """Count ``follower`` (a session's random id) among ``room``'s followers for :data:`FOLLOWER_SEEN_S`; how
        many follow.

        Raises:
            RoomGone: the room has ended.
            RoomFull: it has :data:`MAX_FOLLOWERS` followers and ``follower`` is not one of them.
        """
        if self._fields(room) is None:
            raise RoomGone()
        count = self._follow(room, follower[:32], self.clock())
        if count < 0:
            raise RoomFull(f"The room is full: it holds {MAX_FOLLOWERS} students.")
        return count

    def leave(self, room: str, follower: str) -> None:
        """``follower`` no longer follows (it may come back)."""
        self._leave(room, follower[:32])

    def followers(self, teacher: Teacher) -> int:
        """How many follow the teacher's room now."""
        self._teachers(teacher)
        return self._count(teacher.room, self.clock())

    def ask(self, teacher: Teacher, question: Mapping[str, Any]) -> int:
        """Ask ``question`` in the room (the one asked before, its answers with it, is dropped); its number."""
        fields = self._teachers(teacher)
        text = _encoded(question, MAX_QUESTION_BYTES, "question")
        self._clear_answers(teacher.room)
        quiz = int(fields["quiz"]) + 1
        self._set(teacher.room, {"question": text, "quiz": str(quiz), "revealed": "0"}, bump=True)
        return quiz

    def answer(self, room: str, follower: str, quiz: int, answer: str) -> bool:
        """Record ``follower``'s answer to question ``quiz`` (its last answer counts); False when that question is
        no longer open (another was asked, or its answer was revealed).

        Raises:
            RoomGone: the room has ended.
            RoomFull: the answer is too long, or the question already has :data:`MAX_FOLLOWERS` answerers.
        """
        if len(answer) > MAX_ANSWER_LENGTH:
            raise RoomFull(f"An answer has at most {MAX_ANSWER_LENGTH} characters.")
        fields = self._fields(room)
        if fields is None:
            raise RoomGone()
        if fields["quiz"] != str(quiz) or fields["revealed"] == "1" or not fields["question"]:
            return False
        kept = self._answer(room, str(quiz), follower[:32], answer)
        if kept is None:
            raise RoomFull(f"The question has {MAX_FOLLOWERS} answers, as many as a room holds.")
        return kept

    def answers(self, teacher: Teacher) -> dict[str, str]:
        """Each answerer's answer to the open question (follower id → answer)."""
        self._teachers(teacher)
        return self._answers(teacher.room)

    def reveal(self, teacher: Teacher) -> None:
        """Close the question and show its answer to the followers."""
        self._teachers(teacher)
        self._set(teacher.room, {"revealed": "1"}, bump=True)

    def close(self, teacher: Teacher) -> None:
        """End the room: followers are told it has ended."""
        self._teachers(teacher)
        self._drop(teacher.room)
        logger.info("room %s closed", teacher.room)

    def _teachers(self, teacher: Teacher) -> dict[str, str]:
        fields = self._fields(teacher.room)
        if fields is None:
            raise RoomGone()
        if not secrets.compare_digest(fields["teacher"], _digest(teacher.key)):
            raise NotTeacher()
        return fields

    # --- what a store keeps ---------------------------------------------------------------------------------

    @abstractmethod
    def _insert(self, room: str, fields: dict[str, str]) -> bool | None:
        """Add the room (True); False when its code is taken, None when the store is full."""

    @abstractmethod
    def _fields(self, room: str) -> dict[str, str] | None:
        """The room's record, None once it has ended."""

    @abstractmethod
    def _set(self, room: str, fields: dict[str, str], bump: bool) -> int:
        """Change the record (``bump``: its version goes up by one), keep the room open; the version."""

    @abstractmethod
    def _touch(self, room: str) -> None:
        """Keep the room open for :attr:`idle_s` more."""

    @abstractmethod
    def _follow(self, room: str, follower: str, now: float) -> int:
        """Drop followers not seen since ``now - FOLLOWER_SEEN_S``, count ``follower`` as seen now; the count, or
        -1 when the room is full without it."""

    @abstractmethod
    def _leave(self, room: str, follower: str) -> None: ...

    @abstractmethod
    def _count(self, room: str, now: float) -> int: ...

    @abstractmethod
    def _answer(self, room: str, quiz: str, follower: str, answer: str) -> bool | None:
        """Keep the answer if ``quiz`` is still the open question (True, else False); None when it has
        :data:`MAX_FOLLOWERS` answerers without ``follower``."""

    @abstractmethod
    def _answers(self, room: str) -> dict[str, str]: ...

    @abstractmethod
    def _clear_answers(self, room: str) -> None: ...

    @abstractmethod
    def _drop(self, room: str) -> None: ...


@dataclass
class _Room:
    fields: dict[str, str]
    until: float
    followers: dict[str, float] = field(default_factory=dict)
    answers: dict[str, str] = field(default_factory=dict)


class MemoryRooms(RoomStore):
    """Rooms in this process's memory, behind one lock (each operation is a few dictionary steps)."""

    def __init__(self, idle_s: float = ROOM_IDLE_S, clock: Callable[[], float] = time.time) -> None:
        super().__init__(idle_s, clock)
        self._rooms: dict[str, _Room] = {}
        self._lock = threading.Lock()

    def _live(self, room: str) -> _Room | None:  # under the lock
        now = self.clock()
        for code in [code for code, r in self._rooms.items() if r.until <= now]:
            del self._rooms[code]
        return self._rooms.get(room)

    def _insert(self, room: str, fields: dict[str, str]) -> bool | None:
        with self._lock:
            if self._live(room) is not None:
                return False
            if len(self._rooms) >= MAX_ROOMS:
                return None
            self._rooms[room] = _Room(dict(fields), self.clock() + self.idle_s)
            return True

    def _fields(self, room: str) -> dict[str, str] | None:
        with self._lock:
            record = self._live(room)
            return None if record is None else dict(record.fields)

    def _set(self, room: str, fields: dict[str, str], bump: bool) -> int:
        with self._lock:
            record = self._live(room)
            if record is None:
                raise RoomGone()
            record.fields.update(fields)
            if bump:
                record.fields["version"] = str(int(record.fields["version"]) + 1)
            record.until = self.clock() + self.idle_s
            return int(record.fields["version"])

    def _touch(self, room: str) -> None:
        with self._lock:
            if (record := self._live(room)) is not None:
                record.until = self.clock() + self.idle_s

    def _follow(self, room: str, follower: str, now: float) -> int:
        with self._lock:
            record = self._live(room)
            if record is None:
                raise RoomGone()
            seen = {f: t for f, t in record.followers.items() if t > now - FOLLOWER_SEEN_S}
            if follower not in seen and len(seen) >= MAX_FOLLOWERS:
                record.followers = seen
                return -1
            record.followers = seen | {follower: now}
            return len(record.followers)

    def _leave(self, room: str, follower: str) -> None:
        with self._lock:
            if (record := self._live(room)) is not None:
                record.followers.pop(follower, None)

    def _count(self, room: str, now: float) -> int:
        with self._lock:
            record = self._live(room)
            return 0 if record is None else sum(t > now - FOLLOWER_SEEN_S for t in record.followers.values())

    def _answer(self, room: str, quiz: str, follower: str, answer: str) -> bool | None:
        with self._lock:
            record = self._live(room)
            if record is None or record.fields["quiz"] != quiz or record.fields["revealed"] == "1":
                return False
            if follower not in record.answers and len(record.answers) >= MAX_FOLLOWERS:
                return None
            record.answers[follower] = answer
            return True

    def _answers(self, room: str) -> dict[str, str]:
        with self._lock:
            record = self._live(room)
            return {} if record is None else dict(record.answers)

    def _clear_answers(self, room: str) -> None:
        with self._lock:
            if (record := self._live(room)) is not None:
                record.answers.clear()

    def _drop(self, room: str) -> None:
        with self._lock:
            self._rooms.pop(room, None)


_INSERT = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1] + ARGV[2] / 1000, ARGV[4])
return 1
"""
_SET = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if #ARGV > 4 then redis.call('HSET', KEYS[1], unpack(ARGV, 5)) end
local version = tonumber(redis.call('HGET', KEYS[1], 'version'))
if ARGV[1] == '1' then version = redis.call('HINCRBY', KEYS[1], 'version', 1) end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
return version
"""
_FOLLOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[3])
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return -1
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return redis.call('ZCARD', KEYS[1])
"""
_ANSWER = """
local record = redis.call('HMGET', KEYS[1], 'quiz', 'revealed')
if record[1] ~= ARGV[1] or record[2] == '1' then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then
  return -1
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
"""


class RedisRooms(RoomStore):
    """Rooms in Redis, shared by every replica pointed at it: a room is a hash (``cnnviz:room:CODE``), its
    followers a sorted set by last seen, its answers a hash, all expiring together after :attr:`idle_s`; the
    rooms open a sorted set by expiry (for :data:`MAX_ROOMS`). Each bounded step is one Lua script, so replicas
    cannot race past a bound."""

    PREFIX = "cnnviz:room:"
    ROOMS = "cnnviz:rooms"

    def __init__(self, url: str, idle_s: float = ROOM_IDLE_S, clock: Callable[[], float] = time.time) -> None:
        import redis

        super().__init__(idle_s, clock)
        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=2, socket_connect_timeout=2)
        self._scripts = {
            name: self.client.register_script(source)
            for name, source in (("insert", _INSERT), ("set", _SET), ("follow", _FOLLOW), ("answer", _ANSWER))
        }

    def _keys(self, room: str) -> tuple[str, str, str]:
        key = self.PREFIX + room
        return key, key + ":followers", key + ":answers"

    @property
    def _idle_ms(self) -> int:
        return max(1, int(self.idle_s * 1000))

    def _insert(self, room: str, fields: dict[str, str]) -> bool | None:
        pairs = [item for pair in fields.items() for item in pair]
        made = self._scripts["insert"](
            keys=[self._keys(room)[0], self.ROOMS], args=[self.clock(), self._idle_ms, MAX_ROOMS, room, *pairs]
        )
        return None if made == -1 else made == 1

    def _fields(self, room: str) -> dict[str, str] | None:
        fields = self.client.hgetall(self._keys(room)[0])
        return {str(k): str(v) for k, v in fields.items()} or None

    def _set(self, room: str, fields: dict[str, str], bump: bool) -> int:
        pairs = [item for pair in fields.items() for item in pair]
        until = self.clock() + self.idle_s
        version = self._scripts["set"](
            keys=[*self._keys(room), self.ROOMS], args=["1" if bump else "0", self._idle_ms, until, room, *pairs]
        )
        if version == -1:
            raise RoomGone()
        return int(version)

    def _touch(self, room: str) -> None:
        with contextlib.suppress(RoomGone):
            self._set(room, {}, bump=False)

    def _follow(self, room: str, follower: str, now: float) -> int:
        keys = [self._keys(room)[1]]
        return int(
            self._scripts["follow"](keys=keys, args=[now, follower, FOLLOWER_SEEN_S, MAX_FOLLOWERS, self._idle_ms])
        )

    def _leave(self, room: str, follower: str) -> None:
        self.client.zrem(self._keys(room)[1], follower)

    def _count(self, room: str, now: float) -> int:
        return int(self.client.zcount(self._keys(room)[1], now - FOLLOWER_SEEN_S, "+inf"))

    def _answer(self, room: str, quiz: str, follower: str, answer: str) -> bool | None:
        key, _, answers = self._keys(room)
        kept = self._scripts["answer"](keys=[key, answers], args=[quiz, follower, answer, MAX_FOLLOWERS, self._idle_ms])
        return None if kept == -1 else kept == 1

    def _answers(self, room: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.client.hgetall(self._keys(room)[2]).items()}

    def _clear_answers(self, room: str) -> None:
        self.client.delete(self._keys(room)[2])

    def _drop(self, room: str) -> None:
        self.client.delete(*self._keys(room))
        self.client.zrem(self.ROOMS, room)


@functools.cache
def room_store() -> RoomStore:
    """The server's rooms: in Redis when the setting :data:`REDIS_URL_SETTING` names one, else in memory."""
    url = os.environ.get(REDIS_URL_SETTING, "").strip()
    if url:
        logger.info("rooms are kept in Redis")
        return RedisRooms(url)
    return MemoryRooms()
