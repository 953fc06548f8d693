"""Room codes: 80 random bits for the join link and the QR code, and a short form of 40 of them to read aloud.

Both forms are written in Crockford's base 32 (digits and capitals without I, L, O and U), so that what is read
aloud or typed can be mistaken less: ``i`` and ``l`` are read as 1, ``o`` as 0, case, spaces and dashes do not
matter. A room is found by its short form; a full code must then match the room's full code as a whole
(:func:`matches`), so the link carries twice the short form's secret. 40 bits are 1.1 × 10¹² codes: with the
most rooms a server holds (:data:`cnnviz.classroom.rooms.MAX_ROOMS`) open, a guess finds one with a chance of
about 2 in 10¹⁰.
"""

from __future__ import annotations

import hmac
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base 32."""
FULL_LENGTH = 16
"""Symbols of a full code: 80 bits."""
SHORT_LENGTH = 8
"""Symbols of the short form, the full code's first ones: 40 bits."""
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


class CodeError(ValueError):
    """Text that is not a room code; the message says why, in words a visitor can act on."""


def new_code() -> str:
    """A fresh full code, from the operating system's random source (:mod:`secrets`)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(FULL_LENGTH))


def short_form(code: str) -> str:
    """The part of ``code`` read aloud."""
    return code[:SHORT_LENGTH]


def spoken(code: str) -> str:
    """The short form as the teacher shows it: two groups of four (``K7QM-2XPA``)."""
    short = short_form(code)
    return f"{short[:4]}-{short[4:]}"


def normalise(text: str) -> str:
    """``text`` as a code: a short form or a full code, capitals, separators dropped.

    Raises:
        CodeError: it is neither, or holds a symbol no code has.
    """
    if len(text) > 40:
        raise CodeError("That is too long for a room code.")
    symbols = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if any(s not in ALPHABET for s in symbols):
        raise CodeError("A room code has only digits and the letters A–Z without U.")
    if len(symbols) not in (SHORT_LENGTH, FULL_LENGTH):
        raise CodeError(
            f"A room code has {SHORT_LENGTH} symbols (as the teacher reads it) or {FULL_LENGTH} (in a link)."
        )
    return symbols


def matches(given: str, full: str) -> bool:
    """Whether the normalised ``given`` (a short form or a full code) opens the room whose full code is ``full``:
    a short form must be its first symbols, a full code all of it (compared in constant time)."""
    if len(given) == SHORT_LENGTH:
        return hmac.compare_digest(given, short_form(full))
    return hmac.compare_digest(given, full)
