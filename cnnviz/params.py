"""A setting a link may carry: its kind, its range or choices and its default, and why a value cannot be used.

Every concept declares its own settings with :class:`Param` (a Learn step in :mod:`cnnviz.learn.lessons`, the
pages in :mod:`cnnviz.links`); the link check and the controls read those declarations.
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
    "bool", "choice" (one of ``choices``) or "name" (a layer name: letters, digits, ``_ . -``)."""

    kind: str
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()
    default: str | None = None  # as a link writes it; None where the control's default depends on other settings

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


def ints(**ranges: tuple[int, int] | tuple[int, int, int]) -> dict[str, Param]:
    """Whole-number settings, each ``(low, high)`` or ``(low, high, default)``."""
    made = {}
    for key, bounds in ranges.items():
        low, high = bounds[0], bounds[1]
        default = bounds[2] if len(bounds) == 3 else None
        if default is not None and not low <= default <= high:
            raise ValueError(f"{key}: the default {default} is outside {low}..{high}")
        made[key] = Param("int", low, high, default=None if default is None else str(default))
    return made


def choices(values: Iterable[str], default: str | None = None) -> Param:
    """One of ``values`` (starting at ``default``)."""
    offered = tuple(values)
    if default is not None and default not in offered:
        raise ValueError(f"the default {default!r} is not among {offered}")
    return Param("choice", choices=offered, default=default)


BOOL = Param("bool")


def numbers(values: Iterable[str], default: str) -> Param:
    """A slider over fixed numbers, as a link writes them (``"0.5"``), starting at ``default``."""
    offered = tuple(values)
    if default not in offered:
        raise ValueError(f"the default {default} is not among {offered}")
    return Param("number", choices=offered, default=default)
