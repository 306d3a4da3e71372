"""The ground of the client conformance suites: the sandbox served by uvicorn, every answer recorded.

`Recorder` is an ASGI middleware around the whole sandbox: it keeps each answer of the Jira API (not of
the control API) as it went on the wire. The `conformant` fixture of a suite validates every answer
recorded during a test against Atlassian's OpenAPI document. Nothing is allow-listed: the document's own
contradictions are all inside bodies (change items' nulls, offsets without a colon, epoch-ms bulk
progress) and normalized by `openapi_support.as_documented`, each with its reason. v2 answers are
validated against the v3 document: they differ only in rich text (strings for ADF), which the v3 schemas
leave untyped (`fields` is a free map, Comment.body and Worklog.comment have no type).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from openapi_core import OpenAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.sandboxes.jira.openapi_support import Answer, spec_path_of, validate_answer
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from ticketbridge.sandboxes.jira import JiraSandboxConfig, create_app


class Recorder:
    """Keeps every answer under `/rest/api/` with its status, content type and body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.answers: list[Answer] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith("/rest/api/"):
            await self.app(scope, receive, send)
            return
        start: dict[str, object] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    headers = dict(start.get("headers") or [])  # type: ignore[call-overload]
                    content_type = headers.get(b"content-type", b"").decode()
                    status = int(start["status"])  # type: ignore[call-overload]
                    self.answers.append(Answer(scope["method"], path, status, content_type, b"".join(chunks)))
            await send(message)

        await self.app(scope, receive, capture)


@dataclass
class Served:
    url: str
    recorder: Recorder

    def reset(self) -> None:
        httpx.post(f"{self.url}/__sandbox__/reset").raise_for_status()
        self.recorder.answers.clear()


def serve_recorded() -> Iterator[Served]:
    """The sandbox with its defaults (Jira's rate limits on) except the search lag, recorded."""
    recorders: list[Recorder] = []

    def build(url: str) -> ASGIApp:
        recorders.append(Recorder(create_app(JiraSandboxConfig(base_url=url, in_process=False, search_lag_ms=0))))
        return recorders[0]

    for url in serve_in_thread(build):
        yield Served(url, recorders[0])


def validate_recorded(openapi: OpenAPI, served: Served) -> None:
    """Every answer recorded since the last reset, validated, none skipped."""
    assert served.recorder.answers, "the test sent nothing to the Jira API"
    for answer in served.recorder.answers:
        spec_path = spec_path_of(answer.path)
        assert spec_path is not None, f"{answer.method} {answer.path}: not an operation of the document"
        validate_answer(openapi, answer, spec_path)


def task(summary: str, **fields: object) -> dict[str, object]:
    """The `fields` of a DEMO Task, as both clients send them."""
    return {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": summary, **fields}
