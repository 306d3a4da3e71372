"""ADF -> Markdown never raises on what Jira (or a broken client of Jira) may hold: odd types in
every slot, out-of-range numbers, NULs and lone surrogates, nesting too deep to recurse."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ticketbridge.connectors.jira.adf import adf_plain_text, adf_to_markdown
from ticketbridge.domain.tickets import storable_text

TYPES = [
    "doc", "paragraph", "text", "heading", "bulletList", "orderedList", "listItem", "codeBlock",
    "blockquote", "rule", "table", "tableRow", "tableCell", "tableHeader", "taskList", "taskItem",
    "decisionList", "decisionItem", "panel", "mention", "emoji", "date", "status", "inlineCard",
    "hardBreak", "mediaSingle", "media", "expand", "nestedExpand", "unknownThing",
]  # fmt: skip
ODD = [None, True, 0, -1, 10**12, 1.5, float("nan"), "", "²", "١٢", "-3", "1e9", "\x00", "\ud800", [], {}, [1, "a"]]
MARKS = ["strong", "em", "strike", "code", "link", "underline", "textColor", 7, None]


def text(value: str, *marks: dict[str, Any]) -> dict[str, Any]:
    return {"type": "text", "text": value, "marks": list(marks)}


def doc(*content: Any) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(content)}


NASTY: list[dict[str, Any]] = [
    doc({"type": "orderedList", "attrs": {"order": "²"}, "content": [{"type": "listItem", "content": []}]}),
    doc({"type": "orderedList", "attrs": {"order": 10**12}, "content": [{"type": "listItem"}]}),
    doc({"type": "orderedList", "attrs": {"order": -5}, "content": [{"type": "listItem"}]}),
    doc({"type": "heading", "attrs": {"level": "²"}, "content": [text("title")]}),
    doc({"type": "paragraph", "content": [{"type": "date", "attrs": {"timestamp": "²"}}]}),
    doc({"type": "paragraph", "content": [{"type": "date", "attrs": {"timestamp": 10**30}}]}),
    doc({"type": "paragraph", "content": [{"type": "date", "attrs": {"timestamp": "-99999999999999999"}}]}),
    doc({"type": [], "content": [text("unhashable type")]}),
    doc({"type": {"x": 1}, "content": {"not": "a list"}}),
    doc({"type": "taskList", "content": [{"type": "taskItem", "attrs": {"state": ["DONE"]}, "content": [text("t")]}]}),
    doc({"type": "paragraph", "content": [text("nul\x00inside", {"type": "strong"}), text("x\x00", {"type": "code"})]}),
    doc({"type": "paragraph", "content": [text("lone \ud800 surrogate", {"type": "em"})]}),
    doc({"type": "paragraph", "content": [text("a", {"type": "link", "attrs": {"href": "\x00(x)", "title": []}})]}),
    doc({"type": "paragraph", "content": [{"type": "text", "text": 42, "marks": "strong"}]}),
    doc({"type": "paragraph", "content": [{"type": "mention", "attrs": []}, {"type": "emoji", "attrs": None}]}),
    doc({"type": "table", "content": [{"type": "tableRow", "content": "cells"}, {"type": "tableRow"}]}),
    doc({"type": "codeBlock", "attrs": {"language": ["py"]}, "content": [text("```\x00")]}),
    doc({"type": "paragraph", "content": [text("`", {"type": "code"}), text(" ", {"type": "code"})]}),
    {"type": "paragraph", "content": [text("not wrapped in a doc")]},
    {"content": None},
    {},
]


def deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = text("bottom")
    for n in range(levels):
        node = {"type": "blockquote" if n % 2 else "bulletList", "content": [node]}
    return doc(node)


def random_node(rng: random.Random, depth: int = 0) -> Any:
    if depth > 6 or rng.random() < 0.15:
        return rng.choice([*ODD, text(rng.choice(["x", "\x00", "*_[", "\ud83d", "1."]))])
    node: dict[str, Any] = {"type": rng.choice([*TYPES, *ODD[:4]])}
    if rng.random() < 0.6:
        node["content"] = [random_node(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.5:
        node["attrs"] = rng.choice([{k: rng.choice(ODD) for k in ("order", "level", "timestamp", "text", "url")}, *ODD])
    if rng.random() < 0.3:
        node["text"] = rng.choice(["plain", "\x00", "\ud800", *ODD])
    if rng.random() < 0.3:
        node["marks"] = [{"type": rng.choice(MARKS), "attrs": rng.choice(ODD)} for _ in range(rng.randint(0, 3))]
    return node


def check(document: Any) -> None:
    for convert in (adf_to_markdown, adf_plain_text):
        result = convert(document)
        assert isinstance(result, str)
        # The result may keep a lone surrogate from the fallback; the domain makes it storable.
        assert "\x00" not in storable_text(result)


@pytest.mark.parametrize("document", NASTY, ids=range(len(NASTY)))
def test_odd_documents_convert_without_raising(document: dict[str, Any]) -> None:
    check(document)


def test_the_ol_start_bug_starts_at_one() -> None:
    document = doc({"type": "orderedList", "attrs": {"order": "²"}, "content": [{"type": "listItem"}]})
    assert adf_to_markdown(document).startswith("1.")


def test_nesting_too_deep_to_recurse_falls_back_to_the_text() -> None:
    assert adf_to_markdown(deep(5000)) == "bottom"
    assert adf_plain_text(deep(5000)) == "bottom"


def test_nul_never_reaches_the_markdown() -> None:
    markdown = adf_to_markdown(doc({"type": "paragraph", "content": [text("a\x00b", {"type": "em"})]}))
    assert markdown == "_ab_"


def test_random_documents_convert_without_raising() -> None:
    rng = random.Random(20261201)
    for _ in range(500):
        check(doc(*(random_node(rng) for _ in range(rng.randint(1, 4)))))
