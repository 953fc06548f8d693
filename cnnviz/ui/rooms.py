"""The classroom in the app: a teacher's room and the students who follow it, its quiz, and the self-check quiz.

A teacher starts a room in the sidebar's Classroom box; each run of the teacher's page publishes the teacher's view
once the page has run (:func:`page_run`) — the page, every setting the page keeps in its link (the player's step
included), the sample image and the model — and the room bar above every page (a fragment polled every
:data:`TEACHER_POLL_S`) shows how many follow. A student opens the join link
(``?room=CODE`` on any page) or types the code; their room bar applies each new version of the teacher's view:
the same page, its settings set from the teacher's link (checked as any link is), the same sample and model. A
student can leave to explore and rejoin in one click. The teacher asks a question made from the view
(:mod:`cnnviz.classroom.quiz`), sees the answers come in and reveals the answer; a student alone asks the same
questions of themselves ("Quiz me"). The rooms themselves, their bounds and their expiry are
:mod:`cnnviz.classroom.rooms`'.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import segno
import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.scriptrunner_utils.exceptions import StopException

from cnnviz import links
from cnnviz.assets import POLLER_DIR
from cnnviz.classroom import codes, quiz
from cnnviz.classroom.charts import answers_figure
from cnnviz.classroom.rooms import RoomError, Snapshot, Teacher, room_store
from cnnviz.models import registry
from cnnviz.text import md
from cnnviz.ui.components import shipped_component
from cnnviz.ui.controls import link_texts
from cnnviz.ui.keys import MODEL_KEY, PICKED_KEY, SAMPLE_KEY, SOURCE_KEY
from cnnviz.ui.links import follow_link, followed, following_link
from cnnviz.ui.navigation import PAGES
from cnnviz.ui.runs import fragment
from cnnviz.ui.selection import Selection, suited_model

logger = logging.getLogger(__name__)

POLL_S = 1.0
"""How often a follower's room bar asks the room for the teacher's view and question, in a room of more than
:data:`SMALL_ROOM` followers (30 followers polling every 0.5 s cost the server 34 % of a core idle and followed
later, p50 2.2 s against 1.7–1.9 s: ``benchmarks/rooms.py``)."""
SMALL_ROOM_POLL_S = 0.5
"""How often a follower polls in a room of at most :data:`SMALL_ROOM` followers (3 students in Chromium followed
after a median 1.0 s, worst 1.4 s, against 1.6–2.5 s and 2.0–3.1 s at :data:`POLL_S`)."""
SMALL_ROOM = 10
"""The most followers a room may have for its followers to poll every :data:`SMALL_ROOM_POLL_S`."""
TEACHER_POLL_S = 1.0
"""How often the teacher's room bar counts the followers and the answers (the view itself is published by each
whole run of the teacher's page, at its end: :func:`page_drawn`)."""
APPLY_AGAIN_S = 2.0
"""A follower whose page does not show the teacher's view this long after it was applied gets it again (a rerun the
browser asked for at the same moment, with its old address, can win over the one that applied it)."""
APPLY_TRIES = 3
"""How often one view is applied at :data:`APPLY_AGAIN_S` before the follower tries only every five times as long (a
setting this session's page cannot take, such as a layer of a model it lacks, would otherwise rerun it every
two seconds)."""

TEACHER_KEY = "_cnnviz_room_teacher"
ROOM_KEY = "_cnnviz_room"  # the room a student joined (its short code)
FOLLOWER_KEY = "_cnnviz_room_follower"  # this session's random id in rooms
FOLLOWING_KEY = "_cnnviz_room_following"
APPLIED_KEY = "_cnnviz_room_applied"  # the teacher's view last applied here, when, and how often
PAGE_KEY = "_cnnviz_page"  # the URL path of the page the last whole run ran
DRAWN_KEY = "_cnnviz_room_drawn"  # the view the last whole run drew (shown_view), for a student in a room
FOLLOWERS_KEY = "_cnnviz_room_followers"  # how many followed the room at this student's last poll
ANSWERED_KEY = "_cnnviz_room_answered"  # question number -> the answer sent
OFFERS_KEY = "_cnnviz_quiz_offers"  # page -> {kind: a maker of the question about the view now shown}
PRACTICE_KEY = "_cnnviz_quiz_practice"  # the self-check question, and what was answered

Maker = Callable[[], quiz.Question]


def page_path(page: str) -> str:
    """The script of the page whose URL path is ``page`` ("" is Home)."""
    for entry in PAGES:
        if url_path(entry.path) == page:
            return entry.path
    raise ValueError(f"no page is at {page!r}")


def url_path(path: str) -> str:
    """The URL path of the page script ``path`` (Home, the first page, is at "")."""
    return "" if path == PAGES[0].path else Path(path).stem


@contextmanager
def _store_errors(where: Any) -> Iterator[None]:
    """Say a room's own error in ``where``; an unexpected one (Redis unreachable) is logged with its traceback and
    said in a sentence."""
    try:
        yield
    except (RoomError, codes.CodeError) as exc:
        where.warning(str(exc), icon=":material/groups:")
    except Exception:
        logger.exception("the classroom store failed")
        where.error("The classroom cannot be reached just now; try again in a moment.", icon=":material/error:")


# --- the view a teacher shows ----------------------------------------------------------------------------------


def current_view(page: str) -> dict[str, Any]:
    """What this session shows, as a room publishes it: the page, the settings its link holds (those a link may
    carry, as this session's controls hold them; the address adds what only the browser knows: the player's step),
    the sample image (None for an upload, a photo or a drawing: a visitor's own image is not shared) and
    the model (None for an uploaded one)."""
    state = st.session_state
    params = links.PAGE_PARAMS.get(page, {})
    query = {key: st.query_params[key] for key in st.query_params if key in params}  # the player's step
    query |= {key: text for key, text in link_texts().items() if key in params}  # the controls, as the server has them
    sample = state.get(SAMPLE_KEY) if state.get(SOURCE_KEY, "Sample") == "Sample" else None
    model = state.get(MODEL_KEY)
    return {"page": page, "query": query, "sample": sample, "model": model if model in _registry_models() else None}


def _registry_models() -> set[str]:
    """The models every session is offered (not a visitor's own upload)."""
    return {spec.key for spec in registry.available_models()}


def checked(view: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The page of a published ``view`` (Home if it names none) and the settings of its link that the page can use
    (:func:`cnnviz.links.check_query`: a view is checked as any link is)."""
    page = view.get("page")
    if not isinstance(page, str) or page not in links.PAGE_PARAMS:
        page = ""
    query = view.get("query")
    if not isinstance(query, dict):
        query = {}
    kept, _ = links.check_query(page, {str(k): [str(v)] for k, v in query.items()})
    return page, kept


def apply_view(view: dict[str, Any], room: str) -> None:
    """Show the teacher's ``view``: its sample and model chosen, every setting of its page reset, then the page
    opened with the teacher's link (checked as any link is: :func:`cnnviz.links.check_query`). Ends the run."""
    state = st.session_state
    page, kept = checked(view)
    for key in links.PAGE_PARAMS[page]:  # the page's own logic (a preset's link) starts from a fresh state
        state.pop(key, None)
    follow_link(kept)  # then every control is set from the link (a setting it lacks: at its default)
    sample = view.get("sample")
    if isinstance(sample, str) and sample:
        state[SOURCE_KEY] = "Sample"
        state[SAMPLE_KEY] = sample
    model = view.get("model")
    if isinstance(model, str) and model in _registry_models():
        state[MODEL_KEY] = model
        state[PICKED_KEY] = model != suited_model()  # the teacher's own pick stays; else it follows the image
    _release_url(kept)
    st.switch_page(page_path(page), query_params=kept | {links.ROOM_PARAM: room})


def _release_url(keys: Iterable[str]) -> None:
    """Unbind the URL's parameters and ``keys`` from the controls bound to them, so that the page's link can be set
    whole (Streamlit refuses to set a parameter a control is bound to); the next run's controls bind them again,
    seeded from the new link."""
    from streamlit.runtime.state.session_state_proxy import get_session_state

    with get_session_state().query_params() as params:
        for key in {*params, *keys}:
            if (binding := params.get_binding_for_param(key)) is not None:
                params.unbind_widget(binding.widget_id)


# --- questions a page offers -----------------------------------------------------------------------------------


def offer_questions(page: str, makers: dict[str, Maker]) -> None:
    """What the page ``page`` (its URL path; "*": every page) can be asked about as it is shown now: a maker per
    question kind (:data:`cnnviz.classroom.quiz.KINDS`), called only when the question is asked."""
    offers = st.session_state.setdefault(OFFERS_KEY, {})
    offers[page] = dict(makers)


def offer_class_question(choice: Selection) -> None:
    """On every page with an image: which class the model will predict for it."""
    if choice.image is not None:
        offer_questions("*", {"predicted_class": lambda: _class_question(choice)})
    else:
        offer_questions("*", {})


def _class_question(choice: Selection) -> quiz.Question:
    prediction = choice.prediction().top(quiz.MAX_OPTIONS - 2)
    return quiz.predicted_class(list(zip(prediction.classes, map(float, prediction.probabilities), strict=True)))


def offered(page: str) -> dict[str, Maker]:
    """The questions that can be asked on ``page`` now, in :data:`cnnviz.classroom.quiz.KINDS`' order."""
    offers = st.session_state.get(OFFERS_KEY, {})
    makers = offers.get("*", {}) | offers.get(page, {})
    return {kind: makers[kind] for kind in quiz.KINDS if kind in makers}


def _ask_box(page: str, key: str, on_ask: Callable[[quiz.Question], object]) -> None:
    """A choice of the questions offered on ``page`` and an Ask button, which makes the question and hands it to
    ``on_ask`` (in the click's callback, before the rerun draws anything)."""
    makers = offered(page)
    if not makers:
        st.caption("This view offers no question; the arithmetic page and any page with an image do.")
        return
    st.radio("Question", list(makers), format_func=quiz.KINDS.__getitem__, key=f"{key}_kind")  # a click each
    st.button("Ask", key=f"{key}_ask", icon=":material/quiz:", on_click=_ask, args=(page, key, on_ask))
    if failed := st.session_state.pop(f"{key}_failed", None):
        st.warning(failed)


def _ask(page: str, key: str, on_ask: Callable[[quiz.Question], object]) -> None:
    kind = st.session_state.get(f"{key}_kind")
    maker = offered(page).get(kind) if isinstance(kind, str) else None
    try:
        if maker is None:
            raise LookupError(f"no {kind} question on {page!r}")
        on_ask(maker())
    except (RoomError, codes.CodeError) as exc:
        st.session_state[f"{key}_failed"] = str(exc)
    except Exception:
        logger.exception("a %s question could not be asked", kind)
        st.session_state[f"{key}_failed"] = "That question cannot be asked about this view."


def _answer_form(question: quiz.Question, key: str) -> str | None:
    """The question and a way to answer it; the answer once sent."""
    st.markdown(f"**{md(question.text)}**")
    with st.form(key, border=False):
        if question.options:
            given = st.radio("Your answer", question.options, index=None, key=f"{key}_pick")
        else:
            given = st.text_input("Your answer", max_chars=40, key=f"{key}_text", placeholder=question.hint or None)
        sent = st.form_submit_button("Answer", icon=":material/send:")
    return given if sent and given else None


def _verdict(question: quiz.Question, given: str) -> None:
    if question.correct(given):
        st.success(f"Right: {md(question.answer)}. {md(question.why)}", icon=":material/check_circle:")
    else:
        st.error(
            f"You said {md(given)}; the answer is {md(question.answer)}. {md(question.why)}", icon=":material/cancel:"
        )


def _tally_chart(question: quiz.Question, counts: quiz.Tally) -> None:
    st.plotly_chart(answers_figure(counts.counts, question.answer), config={"displayModeBar": False})


# --- the teacher ------------------------------------------------------------------------------------------------


def teaching() -> bool:
    """Whether this session is a room's teacher (its view is published)."""
    return isinstance(st.session_state.get(TEACHER_KEY), Teacher)


def join_link(code: str) -> str:
    """The link that joins the room ``code`` (its full code) on this server."""
    parts = urlsplit(st.context.url or "http://localhost:8501/")
    base = str(st.get_option("server.baseUrlPath") or "").strip("/")
    return f"{parts.scheme}://{parts.netloc}/{base + '/' if base else ''}?{links.ROOM_PARAM}={code}"


def qr_png(text: str, scale: int = 6) -> bytes:
    """``text`` as a QR code (PNG)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=scale, border=2)
    return out.getvalue()


@st.dialog("Join this room", width="large")
def _show_code(code: str) -> None:
    link = join_link(code)
    left, right = st.columns([3, 2], vertical_alignment="center")
    left.html(
        "<div style='font-size:4rem;font-weight:700;letter-spacing:0.08em;font-family:monospace'>"
        f"{codes.spoken(code)}</div>"  # only base-32 symbols: nothing to escape
    )
    left.markdown("Open the link, or type the code in the sidebar's **Classroom** box:")
    left.code(link, language=None)
    right.image(qr_png(link, 8), caption="Scan to join", width=280)


def _start() -> None:
    with _store_errors(st.sidebar):
        st.session_state[TEACHER_KEY] = room_store().open()


def _end() -> None:
    teacher = st.session_state.pop(TEACHER_KEY, None)
    if teacher is not None:
        with _store_errors(st.sidebar):
            room_store().close(teacher)


@contextmanager
def page_run(page: str) -> Iterator[None]:
    """Run the body of the page ``page`` (its URL path) in this block, as app.py runs it: once the body has run to
    its end, or to a deliberate ``st.stop`` (a setting PyTorch rejects), the page is drawn (:func:`page_drawn`); a
    run cut short by a rerun is left alone (its controls are half set)."""
    st.session_state[PAGE_KEY] = page
    try:
        yield
    except StopException:
        page_drawn(page)
        raise
    page_drawn(page)


def page_fragment(body: Callable[[], None]) -> Callable[[], None]:
    """``st.fragment`` for the part of a page that its own controls rerun alone (not the sidebar): each run of it on
    its own ends as a whole run of the page does (:func:`page_run`), so that a teacher's change made there is
    published."""

    @functools.wraps(body)
    def part() -> None:
        if not _fragment_run():  # drawn with the whole page, which app.py ends
            body()
            return
        with page_run(st.session_state.get(PAGE_KEY, "")):
            body()

    return fragment(part)


def _fragment_run() -> bool:
    """Whether this run is a fragment's alone, not the whole page's."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def page_drawn(page: str) -> None:
    """The page ``page`` (its URL path) has run to its end: a followed link applied in this run is done with
    (:func:`cnnviz.ui.links.followed`); a teacher's view is published now that the page has set every control (a
    preset sets the case's numbers as the page runs, so a view taken before it ran could pair the new preset with
    the old numbers); a student's room bar notes the view this run drew, which is what the screen shows until the
    next whole run (a poll's run redraws the room bar alone, and its address may be older than the page's)."""
    followed()
    state = st.session_state
    if isinstance(teacher := state.get(TEACHER_KEY), Teacher):
        _publish(teacher, page)
    elif state.get(ROOM_KEY):
        state[DRAWN_KEY] = shown_view(current_view(page))


def _publish(teacher: Teacher, page: str) -> None:
    with _store_errors(st):
        view = current_view(page)
        version = room_store().publish(teacher, view)
        logger.debug("room %s shows version %d: %s", teacher.room, version, view)


def _teacher_bar(teacher: Teacher, page: str) -> None:
    store = room_store()
    store.touch(teacher)  # the view is published once the page (or its own fragment) has run: page_drawn
    count = store.followers(teacher)
    row = st.container(horizontal=True, vertical_alignment="center")
    row.markdown(
        f":material/co_present: **Room {codes.spoken(teacher.code)}** · "
        f"{count} student{'' if count == 1 else 's'} following"
    )
    if row.button("Show the code", key="room_show", icon=":material/qr_code_2:"):
        _show_code(teacher.code)
    snapshot = store.snapshot(teacher.room)
    with st.expander("Quiz", expanded=snapshot.question is not None):
        if (question := _room_question(snapshot)) is not None:
            st.markdown(f"**Asked:** {md(question.text)}")
            counts = quiz.tally(question, store.answers(teacher).values())
            st.markdown(
                f"{counts.total} answer{'' if counts.total == 1 else 's'} · {counts.correct} right"
                + (f" ({counts.share:.0%})" if counts.total else "")
            )
            if counts.total:
                _tally_chart(question, counts)
            if snapshot.revealed:
                st.success(f"Revealed: {md(question.answer)}. {md(question.why)}", icon=":material/visibility:")
            else:
                st.button(
                    "Reveal the answer",
                    key="room_reveal",
                    icon=":material/visibility:",
                    on_click=_reveal,
                    args=(teacher,),
                )
        _ask_box(page, "room_quiz", lambda asked: room_store().ask(teacher, asked.as_dict()))


def _reveal(teacher: Teacher) -> None:
    with _store_errors(st):
        room_store().reveal(teacher)


def _room_question(snapshot: Snapshot) -> quiz.Question | None:
    if snapshot.question is None:
        return None
    try:
        return quiz.Question.from_dict(snapshot.question)
    except ValueError:
        logger.exception("a room holds a question that cannot be read")
        return None


# --- a student ---------------------------------------------------------------------------------------------------


def _follower_id() -> str:
    if FOLLOWER_KEY not in st.session_state:
        st.session_state[FOLLOWER_KEY] = secrets.token_hex(12)
    return st.session_state[FOLLOWER_KEY]


def join(text: str) -> None:
    """Join the room that ``text`` (a code as typed or carried by a link) opens, and follow it."""
    room = room_store().find(text)
    state = st.session_state
    state[ROOM_KEY], state[FOLLOWING_KEY] = room, True
    state.pop(APPLIED_KEY, None)  # show the teacher's view at once


def _leave() -> None:
    state = st.session_state
    state[FOLLOWING_KEY] = False
    followed()
    with _store_errors(st.sidebar):
        room_store().leave(state[ROOM_KEY], _follower_id())


def _rejoin() -> None:
    st.session_state[FOLLOWING_KEY] = True
    st.session_state.pop(APPLIED_KEY, None)


def _quit() -> None:
    _leave()
    _forget_room()


def _forget_room() -> None:
    """This student is in no room any more (left it, or it ended)."""
    for key in (ROOM_KEY, FOLLOWING_KEY, APPLIED_KEY, DRAWN_KEY, ANSWERED_KEY, FOLLOWERS_KEY):
        st.session_state.pop(key, None)


def shown_view(view: dict[str, Any]) -> tuple[Any, ...]:
    """``view`` as a page shows it: its page, every setting of that page (what its link holds once checked, the
    others at their defaults), the sample and the model (None: left as the follower has it)."""
    page, kept = checked(view)
    settings = {key: kept.get(key, param.default) for key, param in links.PAGE_PARAMS[page].items()}
    return page, json.dumps(settings, sort_keys=True), view.get("sample"), view.get("model")


def _shows(mine: tuple[Any, ...], wanted: tuple[Any, ...]) -> bool:
    """Whether a page showing ``mine`` shows the view ``wanted`` (both :func:`shown_view`; a sample or model the
    teacher's view leaves open is any)."""
    return wanted[:2] == mine[:2] and wanted[2] in (None, mine[2]) and wanted[3] in (None, mine[3])


def _keep_up(view: dict[str, Any], page: str, room: str) -> None:
    """Apply the teacher's ``view`` when this page does not show it (again after :data:`APPLY_AGAIN_S`, less often
    after :data:`APPLY_TRIES` tries)."""
    if view.get("page") is None:  # the teacher has not shown anything yet
        return
    state = st.session_state
    last = state.get(APPLIED_KEY)
    now = time.monotonic()
    wanted, mine = shown_view(view), state.get(DRAWN_KEY)
    drawn = not following_link()  # the run that applied the last view drew the whole page
    if drawn and mine is not None and _shows(mine, wanted):
        return
    if last is not None and last[0] == wanted and now - last[1] < APPLY_AGAIN_S * (1 if last[2] < APPLY_TRIES else 5):
        return
    tries = last[2] + 1 if last is not None and last[0] == wanted else 1
    state[APPLIED_KEY] = (wanted, now, tries)
    logger.debug("a follower of room %s takes the teacher's view (try %d)", room, tries)
    apply_view(view, room)


def _follower_bar(room: str, page: str) -> None:
    state, store = st.session_state, room_store()
    try:
        snapshot = store.snapshot(room)
    except RoomError:
        st.info("The room has ended: you can explore on your own.", icon=":material/groups:")
        _forget_room()
        return
    following = bool(state.get(FOLLOWING_KEY))
    if following:
        state[FOLLOWERS_KEY] = store.follow(room, _follower_id())
        _keep_up(snapshot.view, page, room)
    row = st.container(horizontal=True, vertical_alignment="center")
    if following:
        row.markdown(f":material/cast_for_education: **Following room {codes.spoken(room)}**: the teacher's view.")
        row.button("Leave to explore", key="room_leave", on_click=_leave, icon=":material/explore:")
    else:
        row.markdown(f":material/explore: **Exploring on your own** (room {codes.spoken(room)}).")
        row.button(
            "Follow the teacher again", key="room_rejoin", on_click=_rejoin, icon=":material/cast_for_education:"
        )
    if (question := _room_question(snapshot)) is None:
        return
    answered = state.setdefault(ANSWERED_KEY, {})
    with st.container(border=True):
        given = answered.get(snapshot.quiz)
        if snapshot.revealed:
            st.markdown(f"**{md(question.text)}**")
            if given is None:
                st.info(f"The answer: {md(question.answer)}. {md(question.why)}", icon=":material/visibility:")
            else:
                _verdict(question, given)
            return
        sent = _answer_form(question, f"room_answer_{snapshot.quiz}")
        if sent is not None and store.answer(room, _follower_id(), snapshot.quiz, sent):
            answered[snapshot.quiz] = given = sent
        if given is not None:
            st.caption(f"Sent: {md(given)}. You may change it until the teacher reveals the answer.")


# --- the bar above every page, and the sidebar's box -------------------------------------------------------------


def follower_poll_s(followers: int | None) -> float:
    """How often a follower polls, in a room that ``followers`` follow (None: not counted yet, as a large room)."""
    return SMALL_ROOM_POLL_S if followers is not None and followers <= SMALL_ROOM else POLL_S


def room_bar(page: str) -> None:
    """The room bar above the page ``page`` (its URL path), polled while in a room (:data:`TEACHER_POLL_S`,
    :func:`follower_poll_s`); joins the
    room a link names first (``?room=CODE``)."""
    state = st.session_state
    code = st.query_params.get(links.ROOM_PARAM)
    if code and TEACHER_KEY not in state and state.get(ROOM_KEY) is None:
        with _store_errors(st):
            join(code)
    if TEACHER_KEY in state or state.get(ROOM_KEY):
        with st.container(key="room_bar"):  # left out of a printed page
            _polled_bar(page)


@fragment
def _polled_bar(page: str) -> None:
    """The room bar, rerun by the poll component inside it (not ``run_every``: Streamlit's timer was seen to stop in
    a follower's tab when a rerun interrupted the run that had registered it): a teacher's every
    :data:`TEACHER_POLL_S`, a follower's every :func:`follower_poll_s` of the class counted at its last poll."""
    state = st.session_state
    teacher = state.get(TEACHER_KEY)
    every_s = TEACHER_POLL_S if isinstance(teacher, Teacher) else follower_poll_s(state.get(FOLLOWERS_KEY))
    shipped_component("cnnviz_poller", POLLER_DIR, "poller")(
        data={"interval_ms": int(every_s * 1000)}, key="room_poll", height=0, on_tick_change=lambda: None
    )
    with _store_errors(st):
        if isinstance(teacher, Teacher):
            try:
                _teacher_bar(teacher, page)
            except RoomError:
                state.pop(TEACHER_KEY, None)
                raise
        elif room := state.get(ROOM_KEY):
            _follower_bar(room, page)


def classroom_sidebar() -> DeltaGenerator:
    """The sidebar's Classroom box: start or end a room, join one by its code, leave it. Returns the box, for Quiz me
    (:func:`practice`, drawn once the page has said what it offers)."""
    state = st.session_state
    box = st.sidebar.expander("Classroom", icon=":material/groups:", expanded=False)
    teacher = state.get(TEACHER_KEY)
    if isinstance(teacher, Teacher):
        link = join_link(teacher.code)
        box.markdown(f"Your room: **{codes.spoken(teacher.code)}**. Students open the link or scan the code:")
        box.code(link, language=None)
        box.image(qr_png(link), width=180)
        box.button("End the room", on_click=_end, key="room_end", icon=":material/stop_circle:")
    elif state.get(ROOM_KEY):
        box.markdown(f"You are in room **{codes.spoken(state[ROOM_KEY])}**.")
        box.button("Leave the room", on_click=_quit, key="room_quit", icon=":material/logout:")
    else:
        box.button(
            "Start a room (teacher)",
            on_click=_start,
            key="room_start",
            icon=":material/co_present:",
            help="Students who join see your page and settings as you change them, and answer your questions.",
        )
        with box.form("room_join", border=False):
            typed = st.text_input("Room code", max_chars=40, placeholder="K7QM-2XPA", key="room_code")
            if st.form_submit_button("Join", icon=":material/login:") and typed:
                with _store_errors(st):
                    join(typed)
                    st.rerun()
    return box


def practice(page: str) -> None:
    """Quiz me: a question about the view shown, answered and checked here, without a room."""
    state = st.session_state
    st.markdown("**Quiz me** on this view:")
    _ask_box(page, "practice", lambda asked: state.__setitem__(PRACTICE_KEY, {"question": asked, "given": None}))
    held = state.get(PRACTICE_KEY)
    if not held:
        return
    question: quiz.Question = held["question"]
    if held["given"] is None:
        held["given"] = _answer_form(question, "practice_answer")
        if held["given"] is None:
            return
    else:
        st.markdown(f"**{md(question.text)}**")
    _verdict(question, held["given"])
