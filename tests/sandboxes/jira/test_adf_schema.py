"""The compiled ADF schema answers exactly what jsonschema's Draft 4 validator answers, on valid
documents of every kind and on thousands of broken ones, and refuses keywords it does not know."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from jsonschema import Draft4Validator  # type: ignore[import-untyped]

from ticketbridge.connectors.jira.adf import markdown_to_adf
from ticketbridge.sandboxes.jira.adf import ADF_SCHEMA_PATH, is_adf, paragraph
from ticketbridge.sandboxes.jira.adf_schema import Check, UnsupportedSchema, compile_schema

SCHEMA = json.loads(ADF_SCHEMA_PATH.read_text())
MARKDOWN = [
    "",
    "plain",
    '**bold** _em_ `code` ~~strike~~ [link](https://example.com "title")',
    "# One\n\n## Two\n\n###### Six",
    "- a\n- b\n  1. c\n  2. d\n\n3. e\n4. f",
    "```python\nprint(1)\n```\n\n> quoted\n> > nested\n\n---\n\nline  \nbreak",
    "| Host | Port |\n|---|--:|\n| `db1` | 5432 |\n| web |",
    "![alt](https://example.com/x.png) and <b>html</b>",
]
#: Small, because jsonschema takes seconds over some broken nested lists and tables (each failed anyOf
#: branch is explored to its last error).
SMALL_MARKDOWN = ["plain", "**b** [l](https://example.com)", "## Two", "- a", "> q\n\n---"]


def node(type_: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_, **fields}


def txt(value: str, *marks: dict[str, Any]) -> dict[str, Any]:
    return node("text", text=value, **({"marks": list(marks)} if marks else {}))


HANDMADE = [
    node(
        "doc", version=1, content=[node("panel", attrs={"panelType": "info"}, content=[paragraph("x")["content"][0]])]
    ),
    node(
        "doc",
        version=1,
        content=[
            node(
                "paragraph",
                content=[
                    node("mention", attrs={"id": "abc", "text": "@a"}),
                    node("emoji", attrs={"shortName": ":smile:"}),
                    node("status", attrs={"text": "done", "color": "green"}),
                    node("date", attrs={"timestamp": "1700000000000"}),
                    node("hardBreak"),
                    txt("c", {"type": "textColor", "attrs": {"color": "#ff0000"}}),
                    txt("s", {"type": "subsup", "attrs": {"type": "sub"}}),
                    node("inlineCard", attrs={"url": "https://example.com"}),
                ],
            ),
            node("rule"),
            node("expand", attrs={"title": "more"}, content=[node("paragraph", content=[txt("in")])]),
            node(
                "taskList",
                attrs={"localId": "l"},
                content=[node("taskItem", attrs={"localId": "t", "state": "TODO"}, content=[txt("do")])],
            ),
            node(
                "mediaSingle",
                attrs={"layout": "center"},
                content=[node("media", attrs={"type": "file", "id": "f", "collection": "c"})],
            ),
            node("heading", attrs={"level": 3}, content=[txt("h")]),
            node("codeBlock", attrs={"language": "sql"}, content=[txt("select 1")]),
        ],
    ),
]

#: What a mutation puts in place of a value, or adds.
VALUES: list[Any] = [
    None, True, False, 0, 1, 1.0, 2, 7, -1, 100, 101, 0.5, "", "x", "doc", "paragraph", "text", "heading",
    "strong", "#ff0000", "#FF00", "red", "info", "TODO", [], [{}], {}, txt("a"), node("paragraph"),
    node("hardBreak"), {"type": "strong"}, {"level": 2}, ["x"],
]  # fmt: skip
KEYS = ["type", "content", "text", "attrs", "marks", "version", "level", "foo", "localId", "url", "color"]


def documents(markdown: list[str] = MARKDOWN) -> list[Any]:
    return [markdown_to_adf(m) for m in markdown] + HANDMADE


def paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, sub in value.items():
            found += paths(sub, (*at, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            found += paths(sub, (*at, index))
    return found


def mutate(document: Any, rng: random.Random) -> Any:
    mutated = copy.deepcopy(document)
    for _ in range(rng.choice([1, 1, 2])):
        path = rng.choice(paths(mutated))
        if not path:
            continue
        parent = mutated
        for step in path[:-1]:
            parent = parent[step]
        here, kind = parent[path[-1]], rng.randrange(5)
        if kind == 0:
            parent[path[-1]] = copy.deepcopy(rng.choice(VALUES))
        elif kind == 1 and isinstance(parent, dict):
            del parent[path[-1]]
        elif kind == 1:
            parent.pop(path[-1])
        elif kind == 2 and isinstance(here, dict):
            here[rng.choice(KEYS)] = copy.deepcopy(rng.choice(VALUES))
        elif kind == 3 and isinstance(here, list):
            here.append(copy.deepcopy(rng.choice([*VALUES, *(here[:1])])))
        elif kind == 4 and isinstance(here, dict) and "type" in here:
            here["type"] = rng.choice(["paragraph", "text", "heading", "bulletList", "listItem", "panel", "doc"])
    return mutated


@pytest.fixture(scope="module")
def compiled() -> Check:
    return compile_schema(SCHEMA)


def test_every_valid_document_is_valid(compiled: Check) -> None:
    reference = Draft4Validator(SCHEMA)
    for document in documents():
        reference.validate(document)
        assert compiled(document) and is_adf(document)


def test_broken_documents_get_jsonschemas_answer(compiled: Check) -> None:
    reference = Draft4Validator(SCHEMA)
    rng = random.Random(2026)
    answers = {True: 0, False: 0}
    for document in documents(SMALL_MARKDOWN):
        for _ in range(40):
            broken = mutate(document, rng)
            expected = reference.is_valid(broken)
            assert compiled(broken) is expected, json.dumps(broken)
            answers[expected] += 1
    assert min(answers.values()) > 60, answers  # both answers are well represented


@pytest.mark.parametrize(
    "value",
    [
        {"type": "doc", "version": True, "content": []},  # true is not 1
        {"type": "doc", "version": 1.0, "content": []},  # but 1.0 is
        {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]},
        {"type": "doc", "version": 1, "content": [{"type": "heading", "attrs": {"level": 7}, "content": []}]},
        {"type": "doc", "version": 1, "content": [], "extra": 1},
        {"type": "doc", "content": []},
        [],
        "doc",
    ],
)
def test_edge_values(value: Any, compiled: Check) -> None:
    assert compiled(value) is Draft4Validator(SCHEMA).is_valid(value)


@pytest.mark.parametrize(
    "schema",
    [{"oneOf": [{"type": "string"}]}, {"type": "integer"}, {"$ref": "http://example.com/s.json"}, {"format": "uri"}],
)
def test_unknown_keywords_are_refused(schema: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedSchema):
        compile_schema(schema)
