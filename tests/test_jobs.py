"""cnnviz.server.jobs: a bounded queue runs exactly its number of jobs at once, in order, refuses a full line, and lets
a job whose owner has gone leave."""

from __future__ import annotations

import threading
import time

import pytest

from cnnviz.progress import Stopped
from cnnviz.server import jobs
from cnnviz.server.jobs import Abandoned, Liveness, ServerBusy, WorkQueue


def test_exactly_the_number_of_workers_run_at_once():
    """An unbounded pool would run all six at once, a serial one one at a time, one that drops or refuses the
    waiting jobs would run fewer than six: each fails here."""
    queue = WorkQueue("jobs", workers=2, max_waiting=4, poll_s=0.01)
    running, peak, done, errors, lock = [0], [0], [0], [], threading.Lock()
    started = threading.Barrier(6)

    def job() -> None:
        started.wait(timeout=10)  # all six ask at once
        try:
            with queue.slot():
                with lock:
                    running[0] += 1
                    peak[0] = max(peak[0], running[0])
                time.sleep(0.15)
                with lock:
                    running[0] -= 1
                    done[0] += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a job never ran"
    assert errors == [] and done[0] == 6
    assert peak[0] == 2 and queue.counts() == (0, 0)


def test_a_full_line_is_refused_with_a_clear_message():
    queue = WorkQueue("trainings", workers=1, max_waiting=2)
    tickets = [queue.join() for _ in range(3)]
    assert [queue.ahead_of(t) for t in tickets] == [0, 0, 1]
    with pytest.raises(ServerBusy, match=r"^The server is busy: 1 trainings running and 2 waiting, the most it takes"):
        queue.join()
    queue.leave(tickets[0])
    assert queue.wait_turn(tickets[1]) and queue.ahead_of(tickets[2]) == 0
    assert queue.counts() == (1, 1)
    queue.join()  # a place in line is free again


def test_jobs_run_in_order_of_arrival():
    queue = WorkQueue("jobs", workers=1, max_waiting=5, poll_s=0.01)
    first = queue.join()
    order: list[int] = []
    tickets = [queue.join() for _ in range(4)]

    def run(i: int) -> None:
        assert queue.wait_turn(tickets[i])
        order.append(i)
        queue.leave(tickets[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in reversed(range(4))]  # started in reverse
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    queue.leave(first)
    for thread in threads:
        thread.join(timeout=10)
    assert order == [0, 1, 2, 3]


def test_a_waiting_job_whose_owner_left_leaves_the_line():
    queue = WorkQueue("jobs", workers=1, max_waiting=2, poll_s=0.01)
    busy = queue.join()
    seen: list[int] = []
    calls = iter([True, True, False])
    with pytest.raises(Abandoned), queue.slot(alive=lambda: next(calls), on_wait=seen.append):
        pytest.fail("an abandoned job must not run")
    assert seen == [0, 0] and queue.counts() == (1, 0)
    queue.leave(busy)
    queue.leave(busy)  # twice: nothing more is given back
    assert queue.counts() == (0, 0)


def test_liveness_forgives_a_short_disconnection():
    present = [True]
    alive = Liveness(lambda: present[0], grace_s=0.2)
    assert alive()
    present[0] = False
    assert alive()  # within the grace period
    time.sleep(0.25)
    assert not alive()
    present[0] = True
    assert alive()


def test_long_work_runs_lowered_with_its_progress_relayed_and_its_result_returned():
    import os

    seen = {}

    def work(progress):
        thread = threading.get_native_id()
        seen["nice"], seen["thread"] = os.getpriority(os.PRIO_PROCESS, thread), thread
        for step in range(1, 4):
            progress(step, 3)
        return "done"

    relayed = []
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert jobs.run_lowered(work, lambda d, t: relayed.append((d, t)), poll_s=0.01) == "done"
    assert seen["thread"] != threading.get_native_id() and relayed == [(1, 3), (2, 3), (3, 3)]
    assert seen["nice"] == min(19, before + jobs.LONG_WORK_NICE)  # lowered; the caller's is unchanged
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
    with pytest.raises(ZeroDivisionError):
        jobs.run_lowered(lambda progress: 1 / 0, lambda d, t: None)


def test_long_work_stops_at_its_next_update_when_its_page_stops_or_its_owner_goes():
    steps, ended = [], threading.Event()

    def work(progress):
        try:
            for step in range(1000):
                steps.append(step)
                progress(step, 1000)
                time.sleep(0.005)
        finally:
            ended.set()

    def relay(done, total):
        if done >= 3:
            raise RuntimeError("the page stopped")

    with pytest.raises(RuntimeError, match="the page stopped"):
        jobs.run_lowered(work, relay, poll_s=0.01)
    assert ended.wait(5) and len(steps) < 100
    steps.clear()
    ended.clear()
    with pytest.raises(jobs.Abandoned):
        jobs.run_lowered(work, lambda d, t: None, keep_going=lambda: len(steps) < 5, poll_s=0.01)
    assert ended.wait(5) and len(steps) < 100


def test_a_job_runs_in_the_background_reports_and_ends_done_stopped_or_failed(caplog):
    """The one job model: the work's result and reports reach the owner; a stop asked for between steps ends it
    "stopped" with what it had, and a start resumes it; Stopped ends it without a result; an error fails it with a
    sentence for the visitor and the traceback in the log."""
    queue = WorkQueue("jobs", workers=1, max_waiting=1, poll_s=0.01)
    gate, steps = threading.Event(), []

    def counting(job: jobs.Job[int]) -> int:
        while len(steps) < 5 and job.keep_going():
            gate.wait(10)
            steps.append(len(steps) + 1)
            job.report("counting", len(steps), 5, [{"step": len(steps)}])
        return len(steps)

    job = jobs.Job(counting, queue=queue, name="counting")
    assert job.state == "ready" and job.result is None
    job.start()
    job.start()  # a no-op while it runs: one thread, one place in the queue
    assert queue.counts() == (1, 0)
    job.stop()
    gate.set()
    assert job.wait(10) == "stopped" and job.result == len(steps) < 5
    job.start()  # resumes: the work keeps its own state
    assert job.wait(10) == "done" and job.result == 5 and steps == [1, 2, 3, 4, 5]
    status = job.status
    assert (status.stage, status.done, status.total, status.history[-1]) == ("counting", 5, 5, {"step": 5})
    assert queue.counts() == (0, 0)
    job.start()
    assert job.state == "done" and queue.counts() == (0, 0)  # done is done

    def half(job: jobs.Job[int]) -> int:
        raise Stopped

    stopped = jobs.Job(half, queue=queue)
    stopped.start()
    assert stopped.wait(10) == "stopped" and stopped.result is None

    def broken(job: jobs.Job[int]) -> int:
        raise KeyError("/srv/secret")

    failed = jobs.Job(broken, queue=queue, name="broken work")
    with caplog.at_level("ERROR", logger="cnnviz.server.jobs"):
        failed.start()
        assert failed.wait(10) == "failed"
    assert failed.status.error == "an unexpected KeyError; the server's log has the details"
    assert "broken work failed" in caplog.text and "/srv/secret" in caplog.text and caplog.records[0].exc_info
    assert queue.counts() == (0, 0)


def test_a_job_whose_session_went_stops_and_says_so():
    here = threading.Event()
    here.set()

    def forever(job: jobs.Job[None]) -> None:
        while job.keep_going():
            time.sleep(0.01)

    job = jobs.Job(forever, alive=here.is_set, grace_s=0.1, queue=WorkQueue("jobs", 1, 0))
    job.start()
    time.sleep(0.2)
    assert job.state == "running" and not job.status.abandoned
    here.clear()
    assert job.wait(10) == "stopped" and job.status.abandoned
