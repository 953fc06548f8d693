"""A Streamlit session without a browser, for load: a tab's WebSocket conversation with the server and nothing else.

A :class:`WireTab` opens a page as the browser would (the XSRF cookie from an HTTP GET, then ``/_stcore/stream`` with
the ``streamlit`` subprotocol and that token), asks for the first run with the page's query string, and keeps what
each run drew once it has finished (every element's text, by its place on the page: a whole run replaces the page, a
fragment's run its part; the browser shows each element as it comes, so a run half drawn can pair a new element with
an old one for a moment, which is not counted here). It answers a room's poll component (``assets/poller``) as the
browser does: every ``interval_ms`` it asks for a rerun of the poll's fragment with the component's ``tick`` trigger
set. It renders nothing, so a load of many such tabs measures the server alone (:mod:`benchmarks.rooms`,
:mod:`tests.test_browser_rooms`).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

XSRF_COOKIE = "_streamlit_xsrf"
POLLER = "poller"  # the end of the poll component's registered name


def element_text(element) -> str:  # a protobuf Element
    """What a student reads in ``element``: a markdown's or heading's text, a selectbox's label and choice."""
    kind = element.WhichOneof("type")
    if kind in ("markdown", "heading"):
        return getattr(element, kind).body
    if kind == "selectbox":
        box = element.selectbox
        choice = box.raw_value if box.set_value else (box.options[box.default[0]] if box.default else "")
        return f"{box.label}: {choice}"
    return ""


@dataclass
class WireTab:
    """One tab of the app at ``url`` (base URL), page ``page`` ("" is Home), query ``query`` (no "?")."""

    url: str
    page: str = ""
    query: str = ""
    shown: dict[tuple[int, ...], str] = field(default_factory=dict)  # place on the page -> its text
    runs: int = 0  # runs finished (full or fragment)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._drawing: dict[tuple[int, ...], str] = {}  # the current full run's elements so far
        self._poll: tuple[str, str, int] | None = None  # (trigger widget id, fragment id, interval ms)
        self._closed = threading.Event()
        with urllib.request.urlopen(f"{self.url}/_stcore/health") as response:  # sets the XSRF cookie
            cookies = response.headers.get_all("Set-Cookie") or []
        token = next(c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith(XSRF_COOKIE + "="))
        parts = urlsplit(self.url)
        self._exits = ExitStack()  # the connection, closed by close()
        self._socket = self._exits.enter_context(
            connect(
                f"ws://{parts.netloc}{parts.path}/_stcore/stream",
                subprotocols=["streamlit", token],  # type: ignore[list-item]
                additional_headers={"Cookie": f"{XSRF_COOKIE}={token}", "Origin": self.url},
                max_size=None,
            )
        )
        self._send_rerun()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._tick, daemon=True).start()

    def text(self) -> str:
        """Everything the page shows now, one element per line, in page order."""
        with self._lock:
            return "\n".join(text for _, text in sorted(self.shown.items()) if text)

    def close(self) -> None:
        self._closed.set()
        self._exits.close()

    def _send_rerun(self, fragment_id: str = "", trigger: str | None = None) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query
        state.page_name = self.page
        state.fragment_id = fragment_id
        if trigger is not None:
            widget = state.widget_states.widgets.add()
            widget.id = trigger
            widget.json_trigger_value = json.dumps([{"event": "tick", "value": int(time.time() * 1000)}])
        self._socket.send(message.SerializeToString())

    def _read(self) -> None:
        try:
            for data in self._socket:
                self._take(ForwardMsg.FromString(data))  # type: ignore[arg-type]
        except ConnectionClosed:
            pass
        except Exception as exc:  # noqa: BLE001 - a benchmark reports it, and the tab stops
            self.errors.append(repr(exc))

    def _take(self, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        if kind == "page_info_changed":
            self.query = message.page_info_changed.query_string
        elif kind == "new_session":
            pages = {p.page_script_hash: p.url_pathname for p in message.new_session.app_pages}
            self.page = pages.get(message.new_session.page_script_hash, self.page)
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            place = tuple(message.metadata.delta_path)
            with self._lock:
                self._drawing[place] = element_text(element)
            if element.WhichOneof("type") == "bidi_component" and element.bidi_component.component_name.endswith(
                POLLER
            ):
                interval = json.loads(element.bidi_component.json or "{}").get("interval_ms", 1000)
                trigger = f"$$STREAMLIT_INTERNAL_KEY_{element.bidi_component.id}__events"
                self._poll = (trigger, message.delta.fragment_id, int(interval))
        elif kind == "script_finished":
            status = message.script_finished
            with self._lock:
                if status == ForwardMsg.FINISHED_SUCCESSFULLY:  # the page is what this whole run drew
                    self.shown = self._drawing
                else:  # a fragment's run, or one cut short: what it drew replaced its places
                    self.shown.update(self._drawing)
                self._drawing = {}
                self.runs += 1

    def _tick(self) -> None:
        while not self._closed.is_set():
            poll = self._poll
            interval = poll[2] if poll else 1000
            if self._closed.wait(interval / 1000):
                return
            if poll is not None:
                try:
                    self._send_rerun(fragment_id=poll[1], trigger=poll[0])
                except ConnectionClosed:
                    return
