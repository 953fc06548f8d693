"""Controls several pages share: sliders kept in the URL, seeds, cell pickers and the server-side stepper."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from cnnviz.params import Param
from cnnviz.ui.links import URL, linked_value

_PLAYING_KEY = "_cnnviz_playing"


def bounded_slider(
    container: DeltaGenerator,
    label: str,
    key: str,
    max_value: int,
    min_value: int = 0,
    default: int = 0,
    **widget: Any,
) -> int:
    """An integer slider (kept in the URL) whose range may depend on other controls.

    A value already held for ``key`` is clamped into the range first; ``default`` is used only when none
    is held. With nothing to choose (``max_value <= min_value``) it shows the fixed value instead.
    """
    if max_value <= min_value:
        st.session_state[key] = min_value
        container.caption(f"{label}: {min_value} (the only value PyTorch allows here)")
        return min_value
    if key in st.session_state:
        st.session_state[key] = min(max(int(st.session_state[key]), min_value), max_value)
        return container.slider(label, min_value, max_value, key=key, bind=URL, **widget)
    value = min(max(default, min_value), max_value)
    return container.slider(label, min_value, max_value, value, key=key, bind=URL, **widget)


def _number(text: str) -> float | int:
    return float(text) if "." in text else int(text)


def control_label(key: str, setting: Param, texts: Mapping[str, str] | None = None) -> str:
    """The declared label of ``key``'s control, its placeholders filled from ``texts``.

    Raises:
        ValueError: the setting was declared without a label.
    """
    if not setting.label:
        raise ValueError(f"{key} is declared without a label")
    return setting.label.format(**texts) if texts else setting.label


def offered_choices(
    key: str, setting: Param, options: Sequence[Any] | None, format_func: Any = str
) -> tuple[list[Any], list[str]]:
    """The options a choice or name control offers (the declared choices unless the case offers fewer), and each as
    the link writes it (``format_func``'s text).

    Raises:
        ValueError: an option the declaration lacks, or a layer name control the page gave no layers.
    """
    if setting.kind == "name":
        if options is None:
            raise ValueError(f"{key} names a layer: the page must offer the layers")
        offered = list(options)
    else:
        offered = list(setting.choices) if options is None else list(options)
    shown = [str(format_func(o)) for o in offered]
    if setting.kind == "choice" and (unknown := [v for v in shown if v not in setting.choices]):
        raise ValueError(f"{key} offers {unknown}, which its declaration lacks")
    return offered, shown


LINK_TEXTS_KEY = "_cnnviz_link_texts"
_RECIPES_KEY = "_cnnviz_link_recipes"  # key -> how its control's value is written in a link


def keep_link_text(key: str, text: str) -> None:
    """Keep ``text`` as what the link says for ``key`` now, for a value no control holds (the browser player's step)
    (:func:`link_texts`)."""
    st.session_state.setdefault(LINK_TEXTS_KEY, {})[key] = text


def link_texts() -> dict[str, str]:
    """What the link says for each control drawn in this session (key → text), written from the values the server
    holds now: the address bar may lag behind or lose them while fragments rerun on a timer (a room's bar)."""
    texts = dict(st.session_state.get(LINK_TEXTS_KEY, {}))
    for key, (setting, options, format_func) in st.session_state.get(_RECIPES_KEY, {}).items():
        if (text := _link_text(key, setting, options, format_func)) is not None:
            texts[key] = text
    return texts


def write_link(keys: Iterable[str]) -> None:
    """Write what the controls of ``keys`` hold now into the server's copy of the address, each as its link writes
    it (a control not drawn yet in this session is left out), for a callback that set them (a preset). The server's
    copy is the address the browser sent with the change, and every address the run sends back is that copy: when
    the browser's copy lacked the new preset (its own write of the box raced with the request; seen only while a
    room was open), the teacher's address lost the preset and a copied link opened "custom" or another case (stop 41:
    in 3 runs of 5; with this, right in 9 runs of 9)."""
    texts = link_texts()
    from streamlit.runtime.state.session_state_proxy import get_session_state

    with get_session_state().query_params() as params:
        for key in keys:
            if key in texts:
                params.set_with_no_forward_msg(key, texts[key])
        params.set_initial_query_params_from_current()
        # Sent now, whole: Streamlit sends the address again only for a control whose value differs from this copy,
        # so without it the last address the browser got could be the one sent while the old values were forgotten
        # (the old preset, no numbers: a CI run of stop 42).
        params._send_query_param_msg()


def _link_text(key: str, setting: Param, options: Sequence[Any] | None, format_func: Any) -> str | None:
    value = st.session_state.get(key)
    if value is None:
        return None
    if setting.kind == "int":
        return str(int(value))
    if setting.kind == "bool":
        return "true" if value else "false"
    if setting.kind == "number":
        return next((c for c in setting.choices if float(c) == float(value)), str(value))
    offered, shown = offered_choices(key, setting, options, format_func)
    return shown[offered.index(value)] if value in offered else None


def bound(
    container: DeltaGenerator,
    key: str,
    setting: Param,
    *,
    options: Sequence[Any] | None = None,
    limit: int | None = None,
    default: Any = None,
    texts: Mapping[str, str] | None = None,
    **widget: Any,
) -> Any:
    """The control of ``key``, kept in the URL, made from its declaration ``setting`` (:mod:`cnnviz.params`): its
    widget, label (its placeholders filled from ``texts``), help, range or choices and default, so the link check
    and the control cannot disagree. What depends on the case is passed here: ``options`` (a subset of a choice's
    declared values, or the layers offered for a name), ``limit`` (the highest whole number the case allows) and
    ``default`` (where the declared one depends on other settings). ``widget`` passes on to Streamlit (``disabled``,
    ``format_func``, ``on_change``, ``horizontal`` …). Returns the control's value (the tabs, for ``tabs``)."""
    st.session_state.setdefault(_RECIPES_KEY, {})[key] = (setting, options, widget.get("format_func", str))
    label = control_label(key, setting, texts)
    if setting.help is not None:
        widget.setdefault("help", setting.help)
    control, held = setting.control, key in st.session_state  # a value held wins: no default is passed then
    # a followed teacher's link sets every control, over what the browser still holds; a setting it lacks is at its
    # default, unless the page set it in this run (the link's preset)
    following, linked = linked_value(key)
    following = following and (linked is not None or not held)
    if setting.kind == "int":
        if default is None:
            default = int(setting.default) if setting.default is not None else setting.low
        high = setting.high if limit is None else min(limit, setting.high)
        if following:
            st.session_state[key] = min(max(int(linked) if linked is not None else int(default), setting.low), high)
            held = True
        if control == "segmented_control":  # every value at once, as buttons
            if not held:
                widget["default"] = default
            return container.segmented_control(label, list(range(setting.low, high + 1)), key=key, bind=URL, **widget)
        if control == "number_input":
            if held:
                st.session_state[key] = min(max(int(st.session_state[key]), setting.low), high)
            else:
                widget["value"] = min(max(int(default), setting.low), high)
            return int(container.number_input(label, setting.low, high, key=key, bind=URL, **widget))
        return bounded_slider(container, label, key, high, setting.low, default, **widget)
    if setting.kind == "bool":
        if following:
            own = setting.default == "true" if default is None else bool(default)
            st.session_state[key] = linked == "true" if linked is not None else own
            held = True
        if not held:
            widget["value"] = setting.default == "true" if default is None else bool(default)
        if control == "toggle":
            return bool(container.toggle(label, key=key, bind=URL, **widget))
        return bool(container.checkbox(label, key=key, bind=URL, **widget))
    if setting.kind == "number":
        if following:
            first = _number(setting.default or setting.choices[0]) if default is None else default
            st.session_state[key] = _number(linked) if linked is not None else first
            held = True
        if not held:
            widget["value"] = _number(setting.default or setting.choices[0]) if default is None else default
        return container.select_slider(label, [_number(v) for v in setting.choices], key=key, bind=URL, **widget)
    offered, shown = offered_choices(key, setting, options, widget.get("format_func", str))
    if following:
        start = linked if linked is not None else default if default is not None else setting.default
        picked = offered[shown.index(start)] if start in shown else start if start in offered else offered[0]
        st.session_state[key] = picked
        held = True
    if held and st.session_state[key] not in offered:  # a choice of another case (another model's layer)
        del st.session_state[key]
        held = False
    if control == "tabs":  # a choice of tab reruns the page, so a tab computes only when open (``tab.open``)
        widget.setdefault("on_change", "rerun")
        return container.tabs(offered, key=key, bind=URL, **widget)
    start = default if default is not None else setting.default
    index = 0 if held else offered.index(start) if start in offered else shown.index(start) if start in shown else 0
    if control == "segmented_control":
        if not held:
            widget["default"] = offered[index]
        return container.segmented_control(label, offered, key=key, bind=URL, **widget)
    if control == "radio":
        return container.radio(label, offered, index, key=key, bind=URL, **widget)
    return container.selectbox(label, offered, index, key=key, bind=URL, **widget)


def _reroll(key: str) -> None:
    st.session_state[key] = int(st.session_state.get(key, 0)) + 1


def seed_control(setting: Param, key: str = "seed", container: DeltaGenerator | None = None) -> int:
    """A seed input (kept in the URL, from its declaration ``setting``) with a re-roll button; returns the seed."""
    row = (container or st).container(horizontal=True, vertical_alignment="bottom", wrap=False, width="content")
    seed = bound(row, key, setting, width=140)
    row.button("Re-roll", on_click=_reroll, args=(key,), key=f"{key}_reroll", icon=":material/casino:")
    return int(seed)


def cell_picker(container: DeltaGenerator, label: str, size: tuple[int, int], key: str) -> tuple[int, int]:
    """Row and column inputs for a cell of a ``size`` grid; kept values are clamped into the grid."""
    left, right = container.columns(2)
    cell = []
    for box, axis, limit in ((left, "row", size[0]), (right, "col", size[1])):
        k = f"{key}_{axis}"
        if k in st.session_state:
            st.session_state[k] = min(max(int(st.session_state[k]), 0), limit - 1)
        picked = box.number_input(f"{label.capitalize()} {axis}", 0, limit - 1, "min", key=k, persist_state="page")
        cell.append(int(picked))  # kept while its tab is closed
    return cell[0], cell[1]


def play_interval(setting: Param, key: str = "speed") -> float | None:
    """Seconds between animation frames while playing at the speed of ``key`` (declared by ``setting``), else None
    (for ``st.fragment(run_every=...)``)."""
    if not st.session_state.get(_PLAYING_KEY):
        return None
    return 1.0 / speed_value(setting, key)


def speed_value(setting: Param, key: str = "speed") -> float:
    """The link's animation speed (steps per second), one of the declared ``setting``'s, else its default."""
    value = st.session_state.get(key, st.query_params.get(key))
    default = float(setting.default or setting.choices[0])
    try:
        return float(value) if value is not None and float(value) in map(float, setting.choices) else default
    except ValueError:
        return default


def speed_control(setting: Param, container: DeltaGenerator | None = None, key: str = "speed") -> float:
    """Frames per second for the animation (kept in the URL, from its declaration ``setting``)."""
    return float(bound(container if container is not None else st.container(), key, setting))


def _move(key: str, frames: int, delta: int | None) -> None:
    current = int(st.session_state.get(key, 1))
    st.session_state[key] = 1 if delta is None else min(max(current + delta, 1), frames)
    st.session_state[_PLAYING_KEY] = False


def step_controls(frames: int, setting: Param, key: str = "step") -> int:
    """First / back / play-pause / forward buttons and a scrub slider; returns the 0-based step.

    Call inside a fragment whose ``run_every`` is :func:`play_interval`: each run while playing moves one
    step on, and reaching the last step stops the player.
    """
    playing = bool(st.session_state.get(_PLAYING_KEY))
    current = min(max(int(st.session_state.get(key, 1)), 1), frames)
    if playing:
        if current >= frames:
            st.session_state[_PLAYING_KEY] = False
            st.rerun(scope="app")  # stops the fragment's timer
        current += 1
    st.session_state[key] = current
    buttons = st.columns([1, 1, 1, 1, 8], vertical_alignment="center")
    buttons[0].button(
        "",
        icon=":material/first_page:",
        key=f"{key}_first",
        help="First step",
        on_click=_move,
        args=(key, frames, None),
    )
    buttons[1].button(
        "", icon=":material/chevron_left:", key=f"{key}_back", help="Step back", on_click=_move, args=(key, frames, -1)
    )
    if buttons[2].button(
        "",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        key=f"{key}_play",
        help="Pause" if playing else "Play",
    ):
        st.session_state[_PLAYING_KEY] = not playing
        if not playing and current >= frames:
            st.session_state[key] = 1
        st.rerun(scope="app")  # a new timer needs the whole page to run again
    buttons[3].button(
        "",
        icon=":material/chevron_right:",
        key=f"{key}_forward",
        help="Step forward",
        on_click=_move,
        args=(key, frames, 1),
    )
    if frames > 1:
        bound(buttons[4], key, setting, limit=frames, label_visibility="collapsed")
    buttons[4].caption(f"step {st.session_state[key]} of {frames}")
    return int(st.session_state[key]) - 1
