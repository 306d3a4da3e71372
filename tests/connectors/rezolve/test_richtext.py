"""Rezolve's richtext (HTML) to and from the Markdown our model keeps."""

from __future__ import annotations

import pytest

from ticketbridge.connectors.rezolve.richtext import html_to_markdown, markdown_to_html

ROUND_TRIPS = [
    "Hello **world** and *you*, ~~gone~~, `code` and [a link](https://example.com).",
    "# Title\n\nPara one\nline two\n\n- a\n- b\n  - c\n\n3. x\n4. y",
    "- loose\n\n- list\n\n  second paragraph",
    "> quoted\n> twice",
    "```python\nprint('hi')\n```",
    "| a | b |\n| --- | --- |\n| 1 | 2 |",
    "line\\\nbreak",
    "snake_case stays, 2 \\* 3 stays literal",
    "---",
]


@pytest.mark.parametrize("markdown", ROUND_TRIPS)
def test_markdown_survives_a_trip_through_rezolve(markdown: str) -> None:
    assert html_to_markdown(markdown_to_html(markdown)) == markdown


def test_the_seed_example_and_plain_text_read_as_text() -> None:
    assert html_to_markdown("<p>Updated description text.</p>") == "Updated description text."
    assert html_to_markdown("no markup at all") == "no markup at all"


def test_html_written_in_rezolve_keeps_its_structure_and_text() -> None:
    html = '<div>Hi <b>team</b>,<br>see <span style="color:red">this</span> &amp; that</div><h2>Next</h2>'

    assert html_to_markdown(html) == "Hi **team**,\\\nsee this & that\n\n## Next"


def test_markdown_cannot_smuggle_html_into_rezolve() -> None:
    assert markdown_to_html("<script>x()</script>") == "<p>&lt;script&gt;x()&lt;/script&gt;</p>"
    assert markdown_to_html("  ") == ""
