"""Atlassian Document Format: validation against the official JSON schema and plain-text extraction."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

#: A copy of @atlaskit/adf-schema 57.7.22 `json-schema/v1/full.json` (Apache-2.0), vendored beside us.
ADF_SCHEMA_PATH = Path(__file__).with_name("adf-schema-v1-full.json")
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"


@cache
def _validator() -> jsonschema_rs.Draft4Validator:
    # Built once per process, on first use (importing the sandbox stays cheap). jsonschema-rs
    # checks a description in microseconds where the pure-Python jsonschema took ~20 ms, so the
    # sandbox is no longer the slow side of the benchmarks it serves as a baseline.
    return jsonschema_rs.Draft4Validator(json.loads(ADF_SCHEMA_PATH.read_text()))


def is_adf(value: object) -> bool:
    """Whether `value` is a document the official schema (Draft 4) admits."""
    return isinstance(value, dict) and bool(_validator().is_valid(value))


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
