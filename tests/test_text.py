"""cnnviz.text: visitor text rendered by a CommonMark parser (markdown-it, with GitHub-style autolinks) forms no
markup, and reads as it was typed. The link notices are checked the same way, as the page shows them."""

from __future__ import annotations

import html as html_module
import re

import pytest
from markdown_it import MarkdownIt

from cnnviz.links import check_query
from cnnviz.text import code, html, md, one_line, table

ATTACKS = [
    "\n\n[Log in](//127.9)",
    "\n\n![](//127.9/a)",
    "\n\n# Pwned",
    "[Log in](https://127.9/login)",
    "![x](http://127.9/a.png)",
    "<img src=//127.9/b onerror=alert(1)>",
    "<a href='//127.9'>x</a>",
    "www.127.9.example.com",
    "http://127.9/x",
    "visit https://127.9 now",
    "mail a@b.example",
    "[ref]: //127.9\n\n[ref]",
    "**bold** _it_ ~~gone~~ `code`",
    "Setext\n===",
    "> quoted",
    "1. listed",
    "- listed",
    "    indented code",
    "---",
    "| a | b |\n|---|---|",
    ":red[coloured] :material/warning: :smile:",
    "$x^2$ and $$y$$",
    "&lt;script&gt; &amp; &#x3C;",
    "tab\tand\rcarriage\x00null\u2028separator",
    "back\\slash\\",
    "jack-o'-lantern, potter's wheel",
]
MARKUP = re.compile(r"<(?!/?p>)[a-z]")  # any element but the paragraph around the text


@pytest.fixture(scope="module")
def parser() -> MarkdownIt:
    return MarkdownIt("gfm-like")  # tables, strikethrough and linkify: autolinks of bare URLs and addresses


def visible_text(rendered: str) -> str:
    return html_module.unescape(re.sub(r"</?p>", "", rendered)).strip()


@pytest.mark.parametrize("attack", ATTACKS)
def test_escaped_text_forms_no_markup_and_reads_as_typed(parser, attack):
    rendered = parser.render(md(attack))
    assert not MARKUP.search(rendered), rendered
    assert visible_text(rendered) == one_line(attack).strip()


@pytest.mark.parametrize("attack", ATTACKS)
def test_escaped_text_inside_emphasis_and_a_sentence_stays_text(parser, attack):
    rendered = parser.render(f"**Prediction: {md(attack)}** (93.0%)")
    assert rendered.count("<strong>") == 1 and not re.search(r"<(?!/?(p|strong)>)[a-z]", rendered), rendered


def test_the_unescaped_attacks_do_form_markup(parser):
    """The reference parser sees the attacks as the issue did: the test above would fail without md()."""
    for attack in ATTACKS[:10]:
        assert MARKUP.search(parser.render(attack)), attack


def test_code_spans_cannot_be_closed_or_broken():
    assert code("a`b\n\nc") == "a'b c"
    assert code("x" * 30, 24) == "x" * 23 + "…"


@pytest.mark.parametrize("attack", ATTACKS)
def test_plotly_text_has_no_tag_and_reads_as_typed(attack):
    shown = html(attack)
    assert "<" not in shown and ">" not in shown
    assert html_module.unescape(shown) == one_line(attack)


@pytest.mark.parametrize(
    ("page", "key"),
    [
        ("", "\n\n[Log in](//127.9)"),
        ("arithmetic", "\n\n![](//127.9/a)"),
        ("", "\n\n# Pwned"),
        ("arithmetic", "`\n\n[x](//127.9)`"),
        ("arithmetic", "i"),
    ],
)
def test_link_notices_show_keys_and_values_as_text(parser, page, key):
    """The notice as ui.links.check_link shows it: a list of the notices, each with the key (and value) in a code
    span; a key or value that opens with line breaks or holds backticks cannot end the span."""
    _, notices = check_query(page, {key: ["\n\n[v](//127.9/v)`"]})
    assert len(notices) == 1
    rendered = parser.render("Some settings in this link cannot be used:\n\n- " + "\n- ".join(notices))
    assert not re.search(r"<(?!/?(p|ul|li|code)>)[a-z]", rendered), rendered
    assert "127.9" not in re.sub(r"<code>[^<]*</code>", "", rendered)  # only inside the code span


def table_cells(parser: MarkdownIt, text: str) -> list[list[str]]:
    """The rows of the one table ``text`` renders to (its header first), each cell as the reader sees it."""
    rendered = parser.render(text)
    assert rendered.count("<table>") == 1 and not re.search(r"<(?!/?(p|table|thead|tbody|tr|th|td)[ >])[a-z]", rendered)
    rows = re.findall(r"<tr>(.*?)</tr>", rendered, re.S)
    return [[html_module.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)] for row in rows]


def test_a_table_shows_its_cells_as_given_even_hostile_ones(parser):
    cells = table(
        {"layer": ["plain 3×3", "pair ÷ plain"], "weights | bias": ["1,234", ATTACKS[0]], "x": ["0.25", ATTACKS[19]]}
    )
    assert table_cells(parser, cells) == [
        ["layer", "weights | bias", "x"],
        ["plain 3×3", "1,234", "0.25"],
        ["pair ÷ plain", one_line(ATTACKS[0]).strip(), one_line(ATTACKS[19]).strip()],
    ]
    with pytest.raises(ValueError):
        table({"a": ["1"], "b": ["1", "2"]})
