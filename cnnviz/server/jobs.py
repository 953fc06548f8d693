"""Bounded work queues: at most ``workers`` jobs of a kind run at once, at most ``max_waiting`` wait in line
(first come, first served), and a job whose owner has gone leaves the line or stops.

The server shares a few cores between every session; trainings and long explanations go through a queue so
that a class starting them all at once waits its turn ("2 ahead of you") instead of exhausting memory and
CPU, and a full queue answers at once with :class:`ServerBusy` instead of growing without bound.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from cnnviz.progress import Progress

T = TypeVar("T")
Alive = Callable[[], bool]
"""Whether the owner of a job (a browser session) is still there."""


def always() -> bool:
    """The owner of a job run outside the app (a notebook, a script, a test) never goes away."""
    return True


class ServerBusy(RuntimeError):
    """The queue is full. The message is written for the user."""

    def __init__(self, kind: str, running: int, waiting: int) -> None:
        super().__init__(
            f"The server is busy: {running} {kind} running and {waiting} waiting, the most it takes. "
            "Try again in a minute."
        )


class Abandoned(RuntimeError):
    """The job's owner went away while the job waited or ran."""


class Ticket:
    """A place in a :class:`WorkQueue`: waiting, then running, until it leaves."""

    __slots__ = ("running",)

    def __init__(self) -> None:
        self.running = False


class WorkQueue:
    """At most ``workers`` jobs at once; at most ``max_waiting`` more wait, in order of arrival."""

    def __init__(self, kind: str, workers: int, max_waiting: int, poll_s: float = 0.25) -> None:
        if workers < 1 or max_waiting < 0:
            raise ValueError("a queue needs at least one worker and a non-negative line")
        self.kind, self.workers, self.max_waiting, self.poll_s = kind, workers, max_waiting, poll_s
        self._changed = threading.Condition()
        self._running = 0
        self._line: list[Ticket] = []

    def join(self) -> Ticket:
        """Take a place in line (or a free worker at once).

        Raises:
            ServerBusy: every worker is busy and the line is full.
        """
        ticket = Ticket()
        with self._changed:
            if self._running < self.workers and not self._line:
                self._running += 1
                ticket.running = True
            elif len(self._line) >= self.max_waiting:
                raise ServerBusy(self.kind, self._running, len(self._line))
            else:
                self._line.append(ticket)
        return ticket

    def ahead_of(self, ticket: Ticket) -> int:
        """How many jobs wait before ``ticket`` (0 once it runs or has left)."""
        with self._changed:
            return self._ahead_of(ticket)

    def _ahead_of(self, ticket: Ticket) -> int:  # with the lock held
        return self._line.index(ticket) if ticket in self._line else 0

    def wait_turn(self, ticket: Ticket, alive: Alive = always, on_wait: Callable[[int], None] | None = None) -> bool:
        """Block until ``ticket`` may run (True), or leave the line as soon as ``alive()`` turns False (False).
        ``on_wait(ahead)`` is called, outside the queue's lock, each time the wait goes on."""
        while True:
            with self._changed:
                if ticket.running:
                    return True
                if self._line and self._line[0] is ticket and self._running < self.workers:
                    self._line.pop(0)
                    self._running += 1
                    ticket.running = True
                    self._changed.notify_all()
                    return True
                ahead = self._ahead_of(ticket)
            if not alive():
                self.leave(ticket)
                return False
            if on_wait is not None:
                on_wait(ahead)
            with self._changed:
                self._changed.wait(self.poll_s)

    def leave(self, ticket: Ticket) -> None:
        """Give back the worker ``ticket`` holds, or its place in line; leaving twice does nothing."""
        with self._changed:
            if ticket.running:
                ticket.running = False
                self._running -= 1
            elif ticket in self._line:
                self._line.remove(ticket)
            self._changed.notify_all()

    @contextmanager
    def slot(self, alive: Alive = always, on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Run the block on a worker of this queue, after waiting in line.

        Raises:
            ServerBusy: the line is full.
            Abandoned: ``alive()`` turned False while waiting.
        """
        ticket = self.join()
        try:
            if not self.wait_turn(ticket, alive, on_wait):
                raise Abandoned(f"the {self.kind} was abandoned by its session")
            yield
        finally:
            self.leave(ticket)

    def counts(self) -> tuple[int, int]:
        """Jobs running and waiting now."""
        with self._changed:
            return self._running, len(self._line)


class Liveness:
    """``alive`` with a grace period: it stays true until its owner has been gone for ``grace_s`` seconds, so a
    network blip that reconnects within it loses nothing."""

    def __init__(self, alive: Alive = always, grace_s: float = 10.0) -> None:
        self._alive, self.grace_s = alive, grace_s
        self._last_seen = time.monotonic()

    def __call__(self) -> bool:
        now = time.monotonic()
        if self._alive():
            self._last_seen = now
            return True
        return now - self._last_seen < self.grace_s


LONG_WORK_NICE = 10
"""How much lower than a page's the CPU priority of long work is (trainings, long explanations): on a shared
machine the pages' own short work (a prediction, a Grad-CAM) comes first, and the long work takes the rest."""


def lower_priority(by: int = LONG_WORK_NICE) -> bool:
    """Lower the calling thread's CPU priority by ``by`` nice levels (Linux keeps a nice value per thread, and the
    threads it starts from then on, such as PyTorch's OpenMP workers, inherit it). Returns whether it took."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + by))
        return True
    except (OSError, AttributeError):  # not Linux, or not allowed
        return False


def run_lowered(
    work: Callable[[Progress], T],
    relay: Progress,
    keep_going: Alive = always,
    poll_s: float = 0.2,
) -> T:
    """``work(progress)`` on a new thread of lower CPU priority (:func:`lower_priority`: a new thread, so the
    OpenMP workers it starts are lowered too), its progress relayed to ``relay`` on the calling thread (where a
    page may draw it). When ``relay`` raises (a page stopped) or ``keep_going()`` turns false, the work is told
    to stop at its next progress update and the calling thread does not wait for it.

    Raises:
        Abandoned: ``keep_going()`` turned false.
        whatever ``work`` or ``relay`` raised.
    """
    updates: list[tuple[int, int]] = []
    stop = threading.Event()
    box: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        if stop.is_set():
            raise Abandoned("the work's owner went away")
        updates.append((done, total))

    def body() -> None:
        lower_priority()
        try:
            box["value"] = work(progress)
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, which raises it
            box["error"] = exc

    worker = threading.Thread(target=body, name="cnnviz-long-work", daemon=True)
    worker.start()
    try:
        while True:
            worker.join(poll_s)
            while updates:
                relay(*updates.pop(0))
            if not worker.is_alive():
                break
            if not keep_going():
                raise Abandoned("the work's owner went away")
    finally:
        stop.set()
    if "error" in box:
        raise box["error"]
    return box["value"]


TRAININGS = WorkQueue("trainings", workers=2, max_waiting=4)
"""Playground trainings: two at once on the server, four more in line."""

COMPUTATIONS = WorkQueue("explanations", workers=2, max_waiting=32)
"""Explanations, their faithfulness curves and activation maximisations: two at once, a class of 32 in line."""
