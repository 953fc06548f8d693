"""Controls several pages share: sliders kept in the URL, seeds, cell pickers and the server-side stepper."""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from cnnviz.params import Param
from cnnviz.ui.links import URL

_PLAYING_KEY = "_cnnviz_playing"


def bounded_slider(
    container: DeltaGenerator, label: str, key: str, max_value: int, min_value: int = 0, default: int = 0
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
        return container.slider(label, min_value, max_value, key=key, bind=URL)
    value = min(max(default, min_value), max_value)
    return container.slider(label, min_value, max_value, value, key=key, bind=URL)


def setting_slider(
    container: DeltaGenerator,
    label: str,
    key: str,
    setting: Param,
    limit: int | None = None,
    default: int | None = None,
) -> int:
    """A :func:`bounded_slider` over the declared ``setting`` of ``key`` (:mod:`cnnviz.params`): its range, up to
    ``limit`` where the case allows less, from its declared default (or ``default`` where that depends on other
    settings). The link check reads the same declaration."""
    high = setting.high if limit is None else min(limit, setting.high)
    if default is None:
        default = int(setting.default) if setting.default is not None else setting.low
    return bounded_slider(container, label, key, high, setting.low, default)


def setting_choice(
    container: DeltaGenerator, label: str, key: str, setting: Param, radio: bool = False, **options: Any
) -> str:
    """A selectbox (or a radio) kept in the URL over the declared choices of ``setting``
    (:mod:`cnnviz.params`), starting at its declared default: the link check reads the same declaration."""
    if setting.kind != "choice":
        raise ValueError(f"{key} is a {setting.kind} setting, not a choice")
    offered = list(setting.choices)
    index = offered.index(setting.default) if setting.default is not None else 0
    if radio:
        return str(container.radio(label, offered, index, key=key, bind=URL, **options))
    return str(container.selectbox(label, offered, index, key=key, bind=URL, **options))


def _reroll(key: str) -> None:
    st.session_state[key] = int(st.session_state.get(key, 0)) + 1


def seed_control(key: str = "seed", container: DeltaGenerator | None = None) -> int:
    """A seed input (kept in the URL) with a re-roll button; returns the seed."""
    row = (container or st).container(horizontal=True, vertical_alignment="bottom", wrap=False, width="content")
    seed = row.number_input("Seed", 0, 1_000_000, 0, key=key, bind=URL, width=140)
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
        cell.append(int(box.number_input(f"{label.capitalize()} {axis}", 0, limit - 1, "min", key=k)))
    return cell[0], cell[1]


def play_interval(key: str = "speed") -> float | None:
    """Seconds between animation frames while playing, else None (for ``st.fragment(run_every=...)``)."""
    if not st.session_state.get(_PLAYING_KEY):
        return None
    return 1.0 / float(st.session_state.get(key, 2.0))


SPEEDS = (0.5, 1.0, 2.0, 4.0, 8.0)


def speed_value(key: str = "speed") -> float:
    """The link's animation speed (steps per second), or 2; the link check has already vetted it."""
    value = st.session_state.get(key, st.query_params.get(key, 2.0))
    try:
        return float(value) if float(value) in SPEEDS else 2.0
    except ValueError:
        return 2.0


def speed_control(container: DeltaGenerator | None = None, key: str = "speed") -> float:
    """Frames per second for the animation (kept in the URL)."""
    box = container or st
    return float(box.select_slider("Speed (steps per second)", SPEEDS, 2.0, key=key, bind=URL))


def _move(key: str, frames: int, delta: int | None) -> None:
    current = int(st.session_state.get(key, 1))
    st.session_state[key] = 1 if delta is None else min(max(current + delta, 1), frames)
    st.session_state[_PLAYING_KEY] = False


def step_controls(frames: int, key: str = "step") -> int:
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
        buttons[4].slider("Step", 1, frames, key=key, bind=URL, label_visibility="collapsed")
    buttons[4].caption(f"step {st.session_state[key]} of {frames}")
    return int(st.session_state[key]) - 1
