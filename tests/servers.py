"""Real servers the tests start on free localhost ports and stop afterwards: Redis (Debian's ``redis-server``) and
HAProxy (Debian's ``haproxy``, with the repository's ``deploy/haproxy.cfg``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser import _free_port, stop, wait_healthy


def debian_tool(name: str) -> str:
    """The path of Debian's ``name`` (``make test`` installs it). Missing means fail in CI, skip elsewhere."""
    for candidate in (shutil.which(name), f"/usr/bin/{name}", f"/usr/sbin/{name}"):
        if candidate and Path(candidate).is_file():
            return candidate
    message = f"{name} not found: run `make test` (it installs it) or `apt-get install {name}`"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def redis_server(timeout: float = 20) -> Iterator[str]:
    """A ``redis-server`` of its own (no disk, localhost only) until the block ends; yields its URL."""
    import redis

    port = _free_port()
    command = [debian_tool("redis-server"), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {process.returncode}: {process.stderr.read()!r}")
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer in {timeout} s")
            time.sleep(0.1)
        client.close()
        yield url
    finally:
        stop(process)


@contextmanager
def haproxy_server(replicas: tuple[str, str], timeout: float = 20) -> Iterator[str]:
    """HAProxy with ``deploy/haproxy.cfg`` on a free localhost port in front of the two ``replicas`` (their base URLs)
    until the block ends; yields its URL once both replicas pass its health check."""
    port = _free_port()
    env = {**os.environ, "CNNVIZ_BIND": f"127.0.0.1:{port}"}
    for n, url in enumerate(replicas, start=1):
        env[f"CNNVIZ_APP{n}"] = url.removeprefix("http://")
    config = Path(__file__).resolve().parents[1] / "deploy" / "haproxy.cfg"
    command = [debian_tool("haproxy"), "-f", str(config), "-db"]  # in the foreground, as a child of the test
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"cnnviz-haproxy-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process, timeout, "haproxy", log.read_text)
        time.sleep(2.5)  # both replicas marked up (two health checks a second apart)
        yield url
    finally:
        stop(process)
        log.unlink(missing_ok=True)
