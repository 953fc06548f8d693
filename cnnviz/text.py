"""Visitor text shown as text: link keys and values, file names, class names and model labels never become
markup.

Streamlit renders the body of ``st.markdown``, ``st.caption``, ``st.info`` / ``warning`` / ``error``, widget
labels and image captions as Markdown (links, images, headings, Streamlit's ``:material/…:`` icons and
``:red[…]`` directives, ``$…$`` LaTeX), and Plotly renders a subset of HTML (``<a href>``, ``<br>``, ``<b>``) in
every label, legend and hover text. :func:`md` makes any string inert in the first (:func:`code` inside a code span),
:func:`html` in the second.
"""

from __future__ import annotations

import re
import string

_MD_SPECIAL = re.compile("([" + re.escape(string.punctuation) + "])")
_BREAKS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def one_line(text: str) -> str:
    """``text`` with every line break, tab and other control character made a single space (a line break would
    end a list item or a paragraph, or start a heading)."""
    return _BREAKS.sub(" ", str(text))


def md(text: object) -> str:
    """``text`` as literal characters inside Streamlit Markdown: one line without leading or trailing spaces (four
    would start a code block), and every ASCII punctuation character backslash-escaped (CommonMark lets any of
    them be escaped), so no link, image, heading, list, emphasis, HTML, directive, icon or formula can be formed
    from it. Not for code spans, where escapes are literal (:func:`code`)."""
    return _MD_SPECIAL.sub(r"\\\1", one_line(str(text)).strip())


def code(text: object, limit: int | None = None) -> str:
    """``text`` for a Markdown code span (between backticks), cut to ``limit`` characters with an ellipsis: one
    line, and backticks made quotes, so nothing can close the span early (inside it nothing else is markup)."""
    shown = one_line(str(text)).replace("`", "'")
    return shown if limit is None or len(shown) <= limit else shown[: limit - 1] + "…"


def html(text: object) -> str:
    """``text`` for a Plotly label: one line, with ``&``, ``<`` and ``>`` as entities, so it forms no tag."""
    return one_line(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def table(columns: dict[str, list[str]]) -> str:
    """A Markdown table of ``columns`` (header → the column's cells, all of one length), every header and cell made
    literal (:func:`md`; a ``|`` cannot end a cell early). Streamlit draws it as text: no DataFrame, Arrow
    conversion or table element (``st.table`` spent a sixth of the arithmetic page's run turning three short
    columns into Arrow)."""
    heads = list(columns)
    rows = zip(*(columns[h] for h in heads), strict=True)
    lines = ["| " + " | ".join(md(h) for h in heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(md(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
