"""Each request is logged once, as a JSON line carrying the id the response also carries."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from ticketbridge.config import LogFormat, Settings
from ticketbridge.observability import configure_logging


@pytest.fixture
def log_stream(settings: Settings) -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(settings.model_copy(update={"log_format": LogFormat.JSON}), stream)
    yield stream
    root.handlers, root.level = saved_handlers, saved_level


async def test_request_log_line_carries_the_request_id(client: httpx.AsyncClient, log_stream: io.StringIO) -> None:
    response = await client.get("/healthz")
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    request_lines = [line for line in lines if line.get("event") == "http.request"]
    assert len(request_lines) == 1
    assert request_lines[0]["request_id"] == response.headers["x-request-id"]
    assert request_lines[0]["status"] == 200 and request_lines[0]["path"] == "/healthz"
