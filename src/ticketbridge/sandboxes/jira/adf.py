"""Atlassian Document Format: validation against the official JSON schema and plain-text extraction."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator  # type: ignore[import-untyped]

#: A copy of @atlaskit/adf-schema 57.7.22 `json-schema/v1/full.json` (Apache-2.0), vendored beside us.
ADF_SCHEMA_PATH = Path(__file__).with_name("adf-schema-v1-full.json")
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"


@cache
def _validator() -> Draft4Validator:
    # Loaded on first use only: importing the sandbox must stay cheap.
    return Draft4Validator(json.loads(ADF_SCHEMA_PATH.read_text()))


def is_adf(value: object) -> bool:
    return isinstance(value, dict) and _validator().is_valid(value)


def plain_text(doc: dict[str, Any] | None) -> str:
    """The text of every text node, blocks separated by newlines (what JQL `text ~` searches)."""
    if not doc:
        return ""
    parts: list[str] = []
    _collect(doc, parts)
    return "".join(parts).strip()


def _collect(node: dict[str, Any], parts: list[str]) -> None:
    if node.get("type") == "text":
        parts.append(str(node.get("text", "")))
        return
    for child in node.get("content", []) or []:
        if isinstance(child, dict):
            _collect(child, parts)
    if node.get("type") in {"paragraph", "heading", "codeBlock", "listItem"}:
        parts.append("\n")


def paragraph(text: str) -> dict[str, Any]:
    """A one-paragraph document, as the Jira UI produces for a line of text."""
    content = [{"type": "text", "text": text}] if text else []
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": content}]}
