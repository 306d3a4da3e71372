"""Rezolve HTML -> Markdown never raises on what people (or other integrations) put in a richtext
field: odd attributes, broken markup, NULs and lone surrogates, nesting too deep to recurse."""

from __future__ import annotations

import random

import pytest

from ticketbridge.connectors.rezolve.richtext import html_to_markdown, html_to_text

NASTY = [
    '<ol start="²"><li>first</li><li>second</li></ol>',
    '<ol start="١٢"><li>arabic-indic digits</li></ol>',
    '<ol start="-3"><li>negative</li></ol>',
    '<ol start="99999999999999999999"><li>huge</li></ol>',
    '<ol start=""><li>empty</li></ol>',
    "<ol start><li>no value</li></ol>",
    '<ol start=" 7 "><li>spaces</li></ol>',
    "<h7>not a heading</h7><h1>",
    "<table><tr></tr></table><table></table><table><tr><td>a|b</td></tr><tr></tr></table>",
    "<pre></pre><pre><code class>x</code></pre>",
    "<p>nul \x00 inside</p><br\x00>",
    "<p>lone \ud800 surrogate</p>",
    "&#0; &#xD800; &#99999999999; &bogus; &#x;",
    "<a href>empty href</a><img><img src='x' alt='\x00'>",
    "</p></div></li>stray end tags",
    "<li>item outside a list</li><ul>text in ul<li>ok</li></ul>",
    "<<<>>><!-- unclosed comment",
    "<![CDATA[ x ]]><!DOCTYPE html><?php echo 1 ?>",
    "<script>alert(1)</script><style>p{}</style>",
    "plain text, no tags at all",
    "",
]
TAGS = ["p", "div", "ol", "ul", "li", "h1", "h6", "pre", "code", "blockquote", "table", "tr", "td", "a", "b", "br"]


def check(html: str) -> str:
    markdown = html_to_markdown(html)
    assert isinstance(markdown, str) and "\x00" not in markdown
    return markdown


@pytest.mark.parametrize("html", NASTY, ids=range(len(NASTY)))
def test_odd_html_converts_without_raising(html: str) -> None:
    check(html)


def test_the_ol_start_superscript_bug_starts_at_one() -> None:
    assert check('<ol start="²"><li>first</li><li>second</li></ol>') == "1. first\n2. second"
    assert check('<ol start="3"><li>third</li></ol>') == "3. third"


def test_nesting_too_deep_to_recurse_falls_back_to_the_text() -> None:
    assert check("<div>" * 5000 + "deep <b>text</b>" + "</div>" * 5000) == "deep text"
    assert html_to_text("<p>one</p><p>two<br>three</p>") == "one\ntwo\nthree"


def test_random_markup_converts_without_raising() -> None:
    rng = random.Random(20261201)
    attrs = ['start="²"', 'start="12"', "start", 'href="x"', 'class="language-"', 'src="\x00"', ""]
    for _ in range(500):
        parts = []
        for _ in range(rng.randint(1, 30)):
            tag = rng.choice(TAGS)
            parts.append(
                rng.choice(
                    [f"<{tag} {rng.choice(attrs)}>", f"</{tag}>", rng.choice(["x", "\x00", "\ud83d", "*_`|", "&amp;"])]
                )
            )
        check("".join(parts))
