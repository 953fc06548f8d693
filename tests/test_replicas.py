"""Two replicas of the app behind HAProxy (``deploy/haproxy.cfg``, cookie-based sticky sessions, WebSockets passed
through) with the rooms in Redis, all started here on localhost: a teacher served by one replica and students
served by the other follow the same room; an upload and its media work through the proxy (Streamlit's known
failures without affinity are MediaFileStorageError and HTTP 400 on upload); stopping the teacher's replica leaves
the students' sessions working, and the teacher's reconnecting browser gets a working page from the other."""

from __future__ import annotations

import os
import re
import signal

import pytest
from PIL import Image

from tests.browser import chromium, server_log, streamlit_process
from tests.conftest import ROOT
from tests.servers import haproxy_server, redis_server
from tests.test_browser import LOAD_TIMEOUT_MS, give_file, select_option, settle, wait_step
from tests.test_browser_rooms import chosen_preset, output_size, start_room

pytestmark = [pytest.mark.slow, pytest.mark.browser]
COOKIE = "CNNVIZ_REPLICA"  # deploy/haproxy.cfg's affinity cookie


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def on_replica(browser, proxy: str, replica: str, path: str):
    """A browser whose affinity cookie sends it to ``replica`` (as HAProxy's first answer would have set it)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(LOAD_TIMEOUT_MS)
    context.add_cookies([{"name": COOKIE, "value": replica, "url": proxy}])
    page = context.new_page()
    page.goto(path if path.startswith("http") else f"{proxy}{path}")
    return page


def no_failure(page) -> None:
    assert page.get_by_test_id("stException").count() == 0


def test_a_room_across_two_replicas_behind_haproxy_with_uploads_and_a_replica_stopped(browser, tmp_path):
    photo = tmp_path / "star.png"
    Image.open(ROOT / "assets" / "samples" / "synthetic" / "star.png").convert("RGB").save(photo)
    with redis_server() as redis_url:
        env = {"CNNVIZ_REDIS_URL": redis_url, "CNNVIZ_LOG_LEVEL": "DEBUG"}
        with (
            streamlit_process(env) as (app1, first),
            streamlit_process(env) as (app2, _second),
            haproxy_server((app1, app2)) as proxy,
        ):
            teacher = on_replica(browser, proxy, "app1", "/arithmetic")
            wait_step(teacher, 1, 9)
            settle(teacher)
            link = start_room(teacher)
            assert link.startswith(f"{proxy}/?room="), link  # the join link names the proxy, not a replica
            room = link.rsplit("=", 1)[1][:8]
            students = [on_replica(browser, proxy, "app2", link) for _ in range(2)]
            for student in students:
                student.get_by_text("Following room").wait_for()
            select_option(teacher, "Preset", "Dilation")
            for student in students:
                student.wait_for_function(
                    "() => [...document.querySelectorAll('[role=combobox]')].some(b => b.value === 'Dilation')"
                )
                assert chosen_preset(student) == "Dilation" and output_size(student) == "Output size: 3 × 3"
            # the teacher's replica opened the room, the other's sessions followed it: the room is in Redis
            assert f"room {room} opened" in server_log(app1) and f"room {room} opened" not in server_log(app2)
            assert f"a follower of room {room}" in server_log(app2)
            assert f"a follower of room {room}" not in server_log(app1)

            # an upload through the proxy, and its media (the sidebar's picture of it)
            student = students[0]
            student.get_by_role("button", name="Leave to explore").click()
            student.get_by_text("Exploring on your own").wait_for()
            settle(student)
            student.get_by_role("radiogroup", name="Image").get_by_text("Upload", exact=True).click()
            settle(student)
            give_file(student, "upload", photo)
            student.get_by_test_id("stSidebar").get_by_text("star.png").last.wait_for()
            picture = student.get_by_test_id("stSidebar").get_by_test_id("stImage").locator("img").last
            assert picture.evaluate("i => i.complete && i.naturalWidth > 0")
            no_failure(student)

            # the teacher's replica stops: the students' sessions go on, the teacher's browser reconnects
            os.killpg(first.pid, signal.SIGTERM)
            first.wait(timeout=30)
            other = students[1]
            other.get_by_role("button", name="Leave to explore").click()
            other.get_by_text("Exploring on your own").wait_for()
            settle(other)
            select_option(other, "Preset", "Padding, strides")
            other.wait_for_function(
                "() => [...document.querySelectorAll('[role=combobox]')].some(b => b.value === 'Padding, strides')"
            )
            no_failure(other)
            teacher.reload()
            teacher.get_by_role("heading", name="Convolution arithmetic").wait_for()
            wait_step(teacher, 1)
            settle(teacher)
            no_failure(teacher)
            assert re.search(r"Output size: \d+ × \d+", teacher.get_by_test_id("stMain").inner_text())
            cookies = {c["name"]: c["value"] for c in teacher.context.cookies()}
            assert cookies.get(COOKIE) == "app2"  # HAProxy sent it to the replica still up, and said so
            for log in (server_log(app2),):
                assert "MediaFileStorageError" not in log and " 400 " not in log
            for page in (teacher, *students):
                page.context.close()
