"""Each request is logged once, as a JSON line carrying the id the response also carries; an error's
type, message and traceback are logged in both formats, with no local variables."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders import ADMIN, make_tenant
from tests.conftest import make_settings
from ticketbridge.config import LogFormat, Settings
from ticketbridge.observability import configure_logging, get_logger


@contextmanager
def captured_logs(settings: Settings, log_format: LogFormat = LogFormat.JSON) -> Iterator[io.StringIO]:
    """Routes every log line, as `configure_logging` renders it in `log_format`, to the stream yielded."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(settings.model_copy(update={"log_format": log_format}), stream)
    try:
        yield stream
    finally:
        root.handlers, root.level = saved_handlers, saved_level


def json_lines(stream: io.StringIO, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line.get("event") == event]


@pytest.fixture
def log_stream(settings: Settings) -> Iterator[io.StringIO]:
    with captured_logs(settings) as stream:
        yield stream


@pytest.fixture
def no_db_settings(tmp_path: Path) -> Settings:
    """For tests of logging alone, which need no database (and so run once, not per backend)."""
    return make_settings("sqlite+aiosqlite:///:memory:", tmp_path)


async def test_request_log_line_carries_the_request_id(client: httpx.AsyncClient, log_stream: io.StringIO) -> None:
    response = await client.get("/healthz")
    request_lines = json_lines(log_stream, "http.request")
    assert len(request_lines) == 1
    assert request_lines[0]["request_id"] == response.headers["x-request-id"]
    assert request_lines[0]["status"] == 200 and request_lines[0]["path"] == "/healthz"


def _fail(password: str) -> None:
    raise ValueError("the message of the error")


def test_json_lines_carry_the_exception_type_message_and_frames(no_db_settings: Settings) -> None:
    with captured_logs(no_db_settings) as stream:
        try:
            _fail("-".join(["local", "secret", "value"]))  # the value appears in no source line
        except ValueError:
            get_logger("test").exception("test.failed")
        logging.getLogger("uvicorn.error").error("foreign.failed", exc_info=RuntimeError("from the stdlib"))
    [line] = json_lines(stream, "test.failed")
    assert "exc_info" not in line
    [exception] = line["exception"]
    assert (exception["exc_type"], exception["exc_value"]) == ("ValueError", "the message of the error")
    assert [frame["name"] for frame in exception["frames"]][-1] == "_fail"
    [foreign] = json_lines(stream, "foreign.failed")
    assert foreign["exception"][0]["exc_type"] == "RuntimeError"
    assert "local-secret-value" not in stream.getvalue()


def test_console_lines_carry_a_plain_traceback(no_db_settings: Settings) -> None:
    with captured_logs(no_db_settings, LogFormat.CONSOLE) as stream:
        try:
            _fail("-".join(["local", "secret", "value"]))  # the value appears in no source line
        except ValueError:
            get_logger("test").exception("test.failed")
    text = stream.getvalue()
    assert "test.failed" in text and "Traceback (most recent call last)" in text
    assert "ValueError: the message of the error" in text and "in _fail" in text
    assert "local-secret-value" not in text


async def test_an_enqueue_ties_the_job_id_to_the_request_id(client: httpx.AsyncClient, log_stream: io.StringIO) -> None:
    tenant = await make_tenant(client)
    accepted = await client.post(f"/v1/admin/connections/{tenant.connection_id}/sync", headers=ADMIN)
    assert accepted.status_code == 202, accepted.text
    [enqueued] = json_lines(log_stream, "jobs.enqueued")
    assert enqueued["job_id"] == accepted.json()["job_id"]
    assert enqueued["request_id"] == accepted.headers["x-request-id"]
