"""How long work reports how far it has got: one callable type for every loop that reports progress."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called as work goes on (an explanation's batches, a backbone's images, an
optimisation's steps), so that a page can draw a bar or stop work whose visitor has gone."""


class Stopped(Exception):
    """Work ended early: it was asked to stop, or the visitor it was for has gone. Raised by the work itself at a
    point where what it has done so far is of no use (a half-made dataset, half the features)."""
