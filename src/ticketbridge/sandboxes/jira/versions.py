"""REST v2 and `latest` as Jira Cloud serves them: the v3 operations, with text where v2 has strings.

On Cloud, `/rest/api/latest` is version 2, and v2 differs from v3 in one respect the sandbox serves:
rich-text values (`description`, `environment`, comment bodies) are strings (wiki markup) instead of
Atlassian Document Format. So `/rest/api/2/...` and `/rest/api/latest/...` are served by the v3 routes:

- the path is rewritten to `/rest/api/3/...` (call counts, rate-limit buckets and errors are the same);
- in the request body, a string given for one of those values becomes a document of paragraphs (one per
  blank-line-separated block, line breaks kept as hard breaks); an empty string clears the value;
- in the answer, every ADF document becomes its text (blocks separated by blank lines, list items as
  wiki `*` / `#` lines), and `self` links name the version the caller used.

Wiki markup itself (`*bold*`, `h1.`, tables, ...) is carried as plain text both ways, not interpreted.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

VERSIONED = re.compile(r"^/rest/api/(2|latest)(?=/|$)")
RICH_TEXT = ("description", "environment")
#: Block nodes whose children are blocks: their texts are joined by line breaks.
BLOCK_CONTAINERS = frozenset(
    {
        "listItem",
        "blockquote",
        "panel",
        "expand",
        "nestedExpand",
        "table",
        "tableRow",
        "tableCell",
        "tableHeader",
        "layoutSection",
        "layoutColumn",
        "decisionList",
        "taskList",
    }
)
LIST_MARKERS = {"bulletList": "* ", "orderedList": "# "}


def text_to_adf(text: str) -> dict[str, Any] | None:
    """A v2 string as the document v3 stores: paragraphs with hard breaks; None for an empty string."""
    blocks = [b for b in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")) if b.strip()]
    if not blocks:
        return None
    paragraphs = []
    for block in blocks:
        content: list[dict[str, Any]] = []
        for number, line in enumerate(block.split("\n")):
            if number:
                content.append({"type": "hardBreak"})
            if line:
                content.append({"type": "text", "text": line})
        paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1, "content": paragraphs}


def adf_to_text(node: dict[str, Any]) -> str:
    """The text of a document as v2 answers it."""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    attrs = node.get("attrs") or {}
    if kind in {"mention", "emoji", "status", "date", "inlineCard"}:
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or "")
    children = [adf_to_text(c) for c in node.get("content") or () if isinstance(c, dict)]
    if kind == "doc":
        return "\n\n".join(c for c in children if c)
    if kind in LIST_MARKERS:
        return "\n".join(LIST_MARKERS[kind] + c for c in children)
    if kind in BLOCK_CONTAINERS:
        return "\n".join(children)
    return "".join(children)


def is_document(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and "content" in value


def request_to_v3(body: Any) -> Any:
    """A v2 request body with its rich-text strings as documents (other values untouched)."""
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if isinstance(body.get("body"), str):
        body["body"] = text_to_adf(body["body"])
    if isinstance(body.get("comment"), str):  # a worklog's comment
        body["comment"] = text_to_adf(body["comment"])
    if isinstance(body.get("issueUpdates"), list):
        body["issueUpdates"] = [request_to_v3(element) for element in body["issueUpdates"]]
    fields = body.get("fields")
    if isinstance(fields, dict):
        body["fields"] = {
            name: text_to_adf(value) if name in RICH_TEXT and isinstance(value, str) else value
            for name, value in fields.items()
        }
    update = body.get("update")
    if isinstance(update, dict):
        body["update"] = {name: _operations_to_v3(name, ops) for name, ops in update.items()}
    return body


def _operations_to_v3(name: str, operations: Any) -> Any:
    if not isinstance(operations, list):
        return operations
    converted = []
    for operation in operations:
        if isinstance(operation, dict) and name in RICH_TEXT and isinstance(operation.get("set"), str):
            operation = operation | {"set": text_to_adf(operation["set"])}
        elif isinstance(operation, dict) and name == "comment":
            for verb in ("add", "edit"):
                value = operation.get(verb)
                if isinstance(value, dict) and isinstance(value.get("body"), str):
                    operation = operation | {verb: value | {"body": text_to_adf(value["body"])}}
        converted.append(operation)
    return converted


def answer_to_v2(node: Any, links: Callable[[str], str]) -> Any:
    """A v3 answer as v2 gives it: documents as text, links through `links`."""
    if isinstance(node, dict):
        if is_document(node):
            return adf_to_text(node)
        return {k: answer_to_v2(v, links) for k, v in node.items()}
    if isinstance(node, list):
        return [answer_to_v2(v, links) for v in node]
    if isinstance(node, str):
        return links(node)
    return node


class ApiVersions:
    """Serves `/rest/api/2` and `/rest/api/latest` with the v3 routes, translating bodies both ways."""

    def __init__(self, app: ASGIApp, base_url: Callable[[], str]) -> None:
        self.app = app
        self.base_url = base_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = VERSIONED.match(scope["path"]) if scope["type"] == "http" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        version = match.group(1)
        path = "/rest/api/3" + scope["path"][match.end() :]
        raw = await _read_body(receive)
        if raw and _is_json(scope.get("headers", [])):
            # A body that is not JSON goes through as it is: the v3 route answers Jira's 400 for it.
            with contextlib.suppress(ValueError):
                raw = json.dumps(request_to_v3(json.loads(raw)), ensure_ascii=False).encode()
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
        headers.append((b"content-length", str(len(raw)).encode()))
        scope = dict(scope, path=path, raw_path=path.encode(), headers=headers)
        v3_links = f"{self.base_url()}/rest/api/3/"
        caller_links = f"{self.base_url()}/rest/api/{version}/"

        def links(value: str) -> str:
            return value.replace(v3_links, caller_links) if v3_links in value else value

        await self.app(scope, _replay(raw), _TranslatedAnswer(send, links))


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(raw: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return receive


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    content_type = dict(headers).get(b"content-type", b"application/json")
    return b"json" in content_type


class _TranslatedAnswer:
    """Holds the answer until its body is complete, then sends it as v2 gives it."""

    def __init__(self, send: Send, links: Callable[[str], str]) -> None:
        self.send = send
        self.links = links
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        raw = b"".join(self.chunks)
        headers = list(self.start.get("headers", []))
        if raw and _is_json(headers):
            with contextlib.suppress(ValueError):
                raw = json.dumps(
                    answer_to_v2(json.loads(raw), self.links), ensure_ascii=False, separators=(",", ":")
                ).encode()
        headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(raw)).encode()))
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": raw, "more_body": False})
