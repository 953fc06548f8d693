"""A setting a link may carry: its kind, its range or choices, its default, its label, help and widget, and why a
value cannot be used.

Every concept declares its own settings with :class:`Param` (a Learn step in :mod:`cnnviz.learn.lessons`, the
pages in :mod:`cnnviz.links`); the link check and the controls (:func:`cnnviz.ui.controls.bound`) are both made
from those declarations.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,80}")


@dataclass(frozen=True)
class Param:
    """One bound control: ``kind`` "int" (``low``..``high``), "number" (one of ``choices``, compared as numbers),
    "bool", "choice" (one of ``choices``) or "name" (a layer name: letters, digits, ``_ . -``); the ``label`` and
    ``help`` its control shows (the label may hold ``{placeholders}`` the page fills, such as an axis), and the
    ``widget`` that draws it (:data:`WIDGETS`; by default the one of its kind)."""

    kind: str
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()
    default: str | None = None  # as a link writes it; None where the control's default depends on other settings
    label: str = ""
    help: str | None = None
    widget: str = ""

    def __post_init__(self) -> None:
        if self.widget and self.widget not in WIDGETS[self.kind]:
            raise ValueError(f"a {self.kind} setting is drawn by {', '.join(WIDGETS[self.kind])}, not {self.widget}")

    @property
    def control(self) -> str:
        """The widget that draws it."""
        return self.widget or WIDGETS[self.kind][0]

    def problem(self, value: str) -> str | None:
        """Why ``value`` cannot be used, or None when it can."""
        if self.kind == "int":
            if not re.fullmatch(r"[+-]?\d{1,12}", value.strip()):
                return f"must be a whole number from {self.low} to {self.high}"
            return None if self.low <= int(value) <= self.high else f"must be from {self.low} to {self.high}"
        if self.kind == "number":
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if any(number == float(choice) for choice in self.choices):
                return None
            return f"must be one of {', '.join(self.choices)}"
        if self.kind == "bool":
            return None if value.lower() in ("true", "false") else "must be true or false"
        if self.kind == "choice":
            return None if value in self.choices else "is not one of the choices offered"
        return None if _NAME.fullmatch(value) else "is not a layer name"


WIDGETS: dict[str, tuple[str, ...]] = {
    "int": ("slider", "number_input", "segmented_control"),
    "number": ("select_slider",),
    "bool": ("toggle", "checkbox"),
    "choice": ("selectbox", "radio", "segmented_control", "tabs"),
    "name": ("selectbox",),
}
"""The widgets that may draw each kind of setting, its default first."""


def whole(
    low: int, high: int, default: int | None = None, label: str = "", help: str | None = None, widget: str = ""
) -> Param:
    """A whole number from ``low`` to ``high`` (starting at ``default``; None where it depends on other settings)."""
    if default is not None and not low <= default <= high:
        raise ValueError(f"the default {default} is outside {low}..{high}")
    return Param(
        "int", low, high, default=None if default is None else str(default), label=label, help=help, widget=widget
    )


def flag(label: str, default: bool = False, help: str | None = None, widget: str = "") -> Param:
    """On or off (starting at ``default``)."""
    return Param("bool", default="true" if default else "false", label=label, help=help, widget=widget)


def choices(
    values: Iterable[str], default: str | None = None, label: str = "", help: str | None = None, widget: str = ""
) -> Param:
    """One of ``values`` (starting at ``default``)."""
    offered = tuple(values)
    if default is not None and default not in offered:
        raise ValueError(f"the default {default!r} is not among {offered}")
    return Param("choice", choices=offered, default=default, label=label, help=help, widget=widget)


def numbers(values: Iterable[str], default: str, label: str = "", help: str | None = None) -> Param:
    """A slider over fixed numbers, as a link writes them (``"0.5"``), starting at ``default``."""
    offered = tuple(values)
    if default not in offered:
        raise ValueError(f"the default {default} is not among {offered}")
    return Param("number", choices=offered, default=default, label=label, help=help)


def name(label: str, help: str | None = None) -> Param:
    """A layer name, among the layers the page offers for the model shown."""
    return Param("name", label=label, help=help)
