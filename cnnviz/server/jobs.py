"""Bounded work queues: at most ``workers`` jobs of a kind run at once, at most ``max_waiting`` wait in line
(first come, first served), and a job whose owner has gone leaves the line or stops.

The server shares a few cores between every session; trainings and long explanations go through a queue so
that a class starting them all at once waits its turn ("2 ahead of you") instead of exhausting memory and
CPU, and a full queue answers at once with :class:`ServerBusy` instead of growing without bound.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Generic, Literal, TypeVar

from cnnviz.progress import Progress, Stopped

logger = logging.getLogger(__name__)

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


JobState = Literal["ready", "queued", "running", "stopped", "done", "failed"]
"""Where a :class:`Job` is: not started, waiting in its queue, running, stopped (by its owner, or because its
session went), finished, or failed (the server's log has the traceback)."""


@dataclass(frozen=True)
class JobStatus:
    """What a :class:`Job` is doing, as a page shows it: its state, the stage it reported last and how far that
    stage has got (``done`` of ``total``), how many jobs wait before it while queued, whether it stopped because
    its session went, a message for the visitor when it failed, and the learning curves it last reported."""

    state: JobState
    stage: str = ""
    done: int = 0
    total: int = 0
    ahead: int = 0
    abandoned: bool = False
    error: str | None = None
    history: tuple[dict[str, float], ...] = ()  # the learning curves so far, where the work reports them


class Job(Generic[T]):
    """Long work in the background, the one model of every training and fine-tuning in cnnviz: ``work(job)`` runs
    on a thread of its own at a lower CPU priority (:func:`lower_priority`) once ``queue`` gives it a worker; it
    reports its stages through :meth:`report` and asks :meth:`keep_going` between steps, which turns false once
    :meth:`stop` is called or once ``alive`` (its session) has been false for ``grace_s`` seconds. ``name`` and
    ``log`` say whose job it is in the server's log.

    The state after the work returns is ``"done"``, or ``"stopped"`` when a :meth:`keep_going` answered false (the
    work then returned what it had); a :class:`~cnnviz.progress.Stopped` raised by the work stops it without a
    result; any other exception fails the job, logged with its traceback and never shown. :meth:`start` again
    after a stop runs ``work`` again (work that keeps its own state, such as a training, resumes).
    """

    def __init__(
        self,
        work: Callable[[Job[T]], T],
        alive: Alive = always,
        grace_s: float = 10.0,
        queue: WorkQueue | None = None,
        name: str = "job",
        log: logging.Logger = logger,
    ) -> None:
        self._work, self._liveness = work, Liveness(alive, grace_s)
        self._queue = queue if queue is not None else TRAININGS
        self.name, self._log = name, log
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = JobStatus("ready")
        self._interrupted = False
        self._result: T | None = None

    # -- the owner's side --------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start, or run again after a stop or a failure; a no-op while queued, running or done.

        Raises:
            ServerBusy: the queue is full.
        """
        with self._lock:
            if self._status.state in ("queued", "running", "done"):
                return
            ticket = self._queue.join()
            self._stop.clear()
            self._interrupted = False
            ahead = self._queue.ahead_of(ticket)
            self._status = replace(self._status, state="queued", ahead=ahead, abandoned=False, error=None)
            self._thread = threading.Thread(target=self._run, args=(ticket,), name=f"cnnviz-{self.name}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ask the work to stop at its next :meth:`keep_going` (or leave the queue)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> JobState:
        """Block until the work returns or stops (or ``timeout`` passes); returns the state."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state

    @property
    def state(self) -> JobState:
        with self._lock:
            return self._status.state

    @property
    def status(self) -> JobStatus:
        with self._lock:
            return self._status

    @property
    def result(self) -> T | None:
        """What the work returned (``None`` before it has, and after a failure)."""
        with self._lock:
            return self._result

    # -- the work's side ---------------------------------------------------------------------------------------

    def keep_going(self) -> bool:
        """False once a stop was asked for, or once the session has gone (the job is then marked abandoned)."""
        asked = self._stop.is_set()
        if not asked and self._liveness():
            return True
        with self._lock:
            self._interrupted = True
            if not asked:
                self._status = replace(self._status, abandoned=True)
        return False

    def report(self, stage: str, done: int, total: int, history: list[dict[str, float]] | None = None) -> None:
        """Say how far the work has got: ``done`` of ``total`` of ``stage`` (and its learning curves so far)."""
        with self._lock:
            curves = self._status.history if history is None else tuple(history)
            self._status = replace(self._status, stage=stage, done=done, total=total, history=curves)

    # -- the thread ---------------------------------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def _run(self, ticket: Ticket) -> None:
        lower_priority()  # a page's own work comes first (this thread, and PyTorch's workers it starts)
        try:
            if not self._queue.wait_turn(ticket, self.keep_going, lambda ahead: self._set(ahead=ahead)):
                self._set(state="stopped", ahead=0)  # stopped while waiting, or its session has gone
                return
            self._set(state="running", ahead=0)
            try:
                result = self._work(self)
            except Stopped:
                self._set(state="stopped")
            except Exception as exc:  # noqa: BLE001 - logged with its traceback; the visitor is told in a sentence
                self._log.exception("%s failed (%s)", self.name, self.status)
                self._set(state="failed", error=f"an unexpected {type(exc).__name__}; the server's log has the details")
            else:
                with self._lock:
                    self._result = result
                    self._status = replace(self._status, state="stopped" if self._interrupted else "done")
        finally:
            self._queue.leave(ticket)


TRAININGS = WorkQueue("trainings", workers=2, max_waiting=4)
"""Playground trainings: two at once on the server, four more in line."""

COMPUTATIONS = WorkQueue("explanations", workers=2, max_waiting=32)
"""Explanations, their faithfulness curves and activation maximisations: two at once, a class of 32 in line."""
