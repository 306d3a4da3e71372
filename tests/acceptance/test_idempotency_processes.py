"""Idempotency-Key across processes: two `ticketbridge serve --no-worker` processes on one PostgreSQL,
the Jira sandbox on a real socket answering in 500 ms. The same keyed create sent to both at once
writes Jira once; the other process answers 409 IDEMPOTENCY_IN_PROGRESS until the first finishes,
then the first answer, byte for byte."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.acceptance.test_create_claims_processes import provision, sandbox
from tests.api.test_idempotency import PER_REQUEST, TICKET
from tests.jobs.processes import DEADLINE_SECONDS
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from tests.support.processes import api_server, process_env
from ticketbridge.sandboxes.jira import JiraSandboxConfig, create_app

#: Each answer's own: uvicorn's Date, and the rate-limit budget of the process that answered.
FRESH_HEADERS = {name.encode() for name in PER_REQUEST} | {b"date", b"idempotent-replayed"}


@pytest.fixture(scope="module")
def jira_url() -> Iterator[str]:
    yield from serve_in_thread(lambda url: create_app(JiraSandboxConfig(base_url=url, in_process=False)))


@pytest.fixture
def postgres_url(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("distributed mode runs on PostgreSQL")
    return database_url


def kept(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    return [(name, value) for name, value in response.headers.raw if name.lower() not in FRESH_HEADERS]


async def test_the_same_key_on_two_processes_writes_once_and_replays_the_answer(
    postgres_url: str, jira_url: str, tmp_path: Path
) -> None:
    sandbox(jira_url, "POST", "/reset")
    env = process_env(postgres_url, tmp_path)
    async with (
        api_server(env, tmp_path / "api-0.log") as first_api,
        api_server(env, tmp_path / "api-1.log") as second_api,
    ):
        tenant = await provision(first_api, jira_url)
        headers = {**tenant.headers, "Idempotency-Key": "finding-7f3a"}
        sandbox(jira_url, "PUT", "/faults", json={"latency_ms": 500})
        sandbox(jira_url, "DELETE", "/calls")

        apis = (first_api, second_api)
        tasks = [asyncio.create_task(api.post("/v1/itsm/tickets", json=TICKET, headers=headers)) for api in apis]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        busy = done.pop().result()
        assert busy.status_code == 409, busy.text
        assert busy.json()["code"] == "IDEMPOTENCY_IN_PROGRESS" and busy.headers["retry-after"] == "1"
        other_api = apis[0] if tasks[0].done() else apis[1]
        running = tasks[1] if tasks[0].done() else tasks[0]

        # The other process keeps answering 409 while the first request runs, then its answer (which
        # it may already replay in the moment between storing the answer and sending its last byte).
        repeats: list[httpx.Response] = []
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not running.done():
            repeats.append(await other_api.post("/v1/itsm/tickets", json=TICKET, headers=headers))
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        winner = running.result()
        replay = await other_api.post("/v1/itsm/tickets", json=TICKET, headers=headers)
        sandbox(jira_url, "PUT", "/faults", json={})

    assert winner.status_code == 200, winner.text
    assert any(r.status_code == 409 for r in repeats), [r.text for r in repeats]
    for repeat in repeats:
        if repeat.status_code == 409:
            assert repeat.json()["code"] == "IDEMPOTENCY_IN_PROGRESS", repeat.text
        else:
            assert repeat.content == winner.content and repeat.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in winner.headers
    assert replay.headers["idempotent-replayed"] == "true"
    assert (replay.status_code, replay.content, kept(replay)) == (winner.status_code, winner.content, kept(winner))
    assert sandbox(jira_url, "GET", "/calls")["createIssues"] == 1
