"""No secret ever leaves where it belongs: recognizable canaries are seeded as every credential the
service holds (Jira API token and OAuth token, Rezolve client secret, a Jira token the vendor refuses,
the admin token, an API key, the Fernet secrets keys before and after a rotation), a representative
session runs (provisioning, writes, bulk jobs, a vendor outage, refused credentials, syncs,
passthrough, `ticketbridge secrets rotate`, errors, /metrics, /openapi.json), and everything the run
produced is searched for them:

- every answer: status line, headers and body (GET /v1/jobs/... answers hold the job results);
- every log line, at DEBUG, rendered both as JSON and as console lines (exception type, message and
  frames included: that is where exception texts end up), and the CLI's output;
- the repr of the runtime and its settings (what a failing test or a debugger prints);
- every row of every table, every column as text.

Exclusions, exactly: the API key may appear in the one answer that creates it (its only delivery),
and the API key and admin token in the request headers this test sends (never searched: requests
are not output). The encrypted credentials column is searched like every other, and must not hold
the plain canaries either; that it really holds them, encrypted, is checked by decrypting it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from tests import documented_statuses
from tests.api.test_bulk import run_jobs
from tests.security.conftest import security_settings
from tests.support.sandboxes import catch_up_search
from tests.vendors import JIRA_URL, REZOLVE_URL, SandboxRouter
from ticketbridge.app import create_app
from ticketbridge.cli import app as cli_app
from ticketbridge.config import LogFormat, Settings
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.http import VendorHttp
from ticketbridge.crypto import CredentialCipher
from ticketbridge.observability import configure_logging
from ticketbridge.sandboxes import rezolve
from ticketbridge.sandboxes.jira.demo import BUG, TASK
from ticketbridge.sandboxes.rezolve.demo import BOTH_SCOPES, IT_TEAM, WRITER_ROLES
from ticketbridge.sandboxes.rezolve.models import Client
from ticketbridge.state import Runtime
from ticketbridge.store.base import Base
from ticketbridge.store.tables import Connection

JIRA_API_TOKEN = "CANARY-jira-api-token-7f3a"
JIRA_OAUTH_TOKEN = "CANARY-jira-oauth-token-91bc"
JIRA_REFUSED_TOKEN = "CANARY-jira-refused-token-55aa"
JIRA_REVOKED_TOKEN = "CANARY-jira-revoked-token-e8d0"
REZOLVE_CLIENT_SECRET = "CANARY-rezolve-client-secret-4d2e"
ADMIN_TOKEN = "CANARY-admin-token-0c1d"
#: Fernet keys are 32 bytes, url-safe base64: these decode to a readable canary, and both forms are
#: searched for.
FERNET_OLD_RAW, FERNET_NEW_RAW = b"CANARY-fernet-old-key-0123456789", b"CANARY-fernet-new-key-0123456789"
FERNET_OLD, FERNET_NEW = (base64.urlsafe_b64encode(raw).decode() for raw in (FERNET_OLD_RAW, FERNET_NEW_RAW))
FIXED_CANARIES = {
    "Jira api_token": JIRA_API_TOKEN,
    "Jira oauth_token": JIRA_OAUTH_TOKEN,
    "refused Jira api_token": JIRA_REFUSED_TOKEN,
    "revoked Jira api_token": JIRA_REVOKED_TOKEN,
    "Rezolve client_secret": REZOLVE_CLIENT_SECRET,
    "admin token": ADMIN_TOKEN,
    "old Fernet key": FERNET_OLD,
    "old Fernet key (raw)": FERNET_OLD_RAW.decode(),
    "new Fernet key": FERNET_NEW,
    "new Fernet key (raw)": FERNET_NEW_RAW.decode(),
}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JIRA_BOT = {"account_id": "canary-bot-basic", "display_name": "Basic Bot", "email": "basic-bot@canary.example"}
JIRA_REVOKED_BOT = {"account_id": "canary-bot-revoked", "display_name": "Revoked", "email": "revoked@canary.example"}
JIRA_OAUTH_BOT = {"account_id": "canary-bot-oauth", "display_name": "OAuth Bot", "email": "oauth-bot@canary.example"}
REZOLVE_CLIENT_ID = "sa-tenant-demo-canary"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return security_settings(
        database_url,
        tmp_path,
        admin_token=ADMIN_TOKEN,
        secrets_key=FERNET_OLD,
        log_level="DEBUG",
        # A vendor outage fails its job at once, without backoff waits.
        job_max_attempts=1,
        job_backoff_seconds=0,
        vendor_retry_attempts=1,
    )


@contextmanager
def logs_in_both_formats(settings: Settings) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """Every log line, as configure_logging renders it, once as JSON and once as a console line."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    json_stream, console_stream = io.StringIO(), io.StringIO()
    configure_logging(settings.model_copy(update={"log_format": LogFormat.CONSOLE}), console_stream)
    [console_handler] = root.handlers
    configure_logging(settings.model_copy(update={"log_format": LogFormat.JSON}), json_stream)
    root.handlers.append(console_handler)
    try:
        yield json_stream, console_stream
    finally:
        root.handlers, root.level = saved_handlers, saved_level


class Tripwire(httpx.AsyncBaseTransport):
    """The vendor transport, which raises an unexpected error while armed: a bug deep in a vendor call,
    with the credentials in the frames' locals, so that tracebacks are rendered and searched."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.armed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.armed:
            raise RuntimeError("the vendor transport broke")
        return await self.inner.handle_async_request(request)


class Recorder:
    """Every answer any client of the test received, in full."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    async def __call__(self, response: httpx.Response) -> None:
        await response.aread()
        self.responses.append(response)


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def _seed_vendors(jira_app: FastAPI, rezolve_app: FastAPI) -> None:
    """A Jira user per canary credential, and a Rezolve client whose secret is the canary."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=jira_app), base_url=JIRA_URL) as http:
        users = [
            {**JIRA_BOT, "api_token": JIRA_API_TOKEN},
            {**JIRA_OAUTH_BOT, "oauth_token": JIRA_OAUTH_TOKEN},
            {**JIRA_REVOKED_BOT, "api_token": JIRA_REVOKED_TOKEN},
        ]
        seeded = await http.post("/__sandbox__/seed", json={"users": users})
        assert seeded.status_code == 200, seeded.text
    # The Rezolve sandbox's control API mints tokens but adds no clients: the one place we reach in.
    state = rezolve_app.state.runtime
    with state.writing() as store:
        store.tenants[rezolve.DEMO_TENANT_ID].clients.append(
            Client(
                clientId=REZOLVE_CLIENT_ID,
                secret=REZOLVE_CLIENT_SECRET,
                subject=REZOLVE_CLIENT_ID,
                roles=WRITER_ROLES,
                scopes=BOTH_SCOPES,
            )
        )


async def _jira_faults(jira_app: FastAPI, **faults: Any) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=jira_app), base_url=JIRA_URL) as http:
        response = await http.put("/__sandbox__/faults", json=faults)
        assert response.status_code == 200, response.text


CONNECTIONS: dict[str, dict[str, Any]] = {
    "jira-basic": {
        "vendor": "JIRA",
        "base_url": JIRA_URL,
        "credentials": {"email": JIRA_BOT["email"], "api_token": JIRA_API_TOKEN},
    },
    "jira-oauth": {"vendor": "JIRA", "base_url": JIRA_URL, "credentials": {"oauth_token": JIRA_OAUTH_TOKEN}},
    "rezolve": {
        "vendor": "REZOLVE",
        "base_url": REZOLVE_URL,
        "credentials": {
            "tenant_id": rezolve.DEMO_TENANT_ID,
            "realm": rezolve.DEMO_REALM,
            "client_id": REZOLVE_CLIENT_ID,
            "client_secret": REZOLVE_CLIENT_SECRET,
        },
    },
    "jira-revoked": {
        "vendor": "JIRA",
        "base_url": JIRA_URL,
        "credentials": {"email": JIRA_REVOKED_BOT["email"], "api_token": JIRA_REVOKED_TOKEN},
    },
    "jira-refused": {
        "vendor": "JIRA",
        "base_url": JIRA_URL,
        "credentials": {"email": JIRA_BOT["email"], "api_token": JIRA_REFUSED_TOKEN},
    },
}
TICKETS = {
    "jira-basic": {"project_vendor_id": "DEMO", "type_vendor_id": BUG},
    "jira-oauth": {"project_vendor_id": "DEMO", "type_vendor_id": TASK},
    "rezolve": {"project_vendor_id": IT_TEAM, "type_vendor_id": rezolve.SERVICE_REQUEST_TYPE_ID},
    "jira-revoked": {"project_vendor_id": "DEMO", "type_vendor_id": BUG},
    "jira-refused": {"project_vendor_id": "DEMO", "type_vendor_id": BUG},
}


async def _session(
    http: httpx.AsyncClient, runtime: Runtime, jira_app: FastAPI, tripwire: Tripwire
) -> tuple[str, httpx.Response, dict[str, dict[str, str]]]:
    """Provisioning and a day of traffic; returns the API key, the answer that created it, and each
    connection's request headers."""
    organization = await _ok(await http.post("/v1/admin/organizations", json={"name": "Canary"}, headers=ADMIN), 201)
    key_answer = await http.post(
        f"/v1/admin/organizations/{organization['id']}/api-keys", json={"name": "canary"}, headers=ADMIN
    )
    api_key = (await _ok(key_answer, 201))["api_key"]
    headers: dict[str, dict[str, str]] = {}
    for name, body in CONNECTIONS.items():
        created = await _ok(
            await http.post(
                "/v1/admin/connections",
                json={"organization_id": organization["id"], **body},
                headers={**ADMIN, "Idempotency-Key": f"create-{name}"},
            ),
            201,
        )
        headers[name] = {"X-API-KEY": api_key, "X-CONNECTION-ID": created["id"]}
    basic = headers["jira-basic"]["X-CONNECTION-ID"]
    # Credentials changed (to the same canary), a paused and resumed connection, the audit log.
    patch = {"credentials": CONNECTIONS["jira-basic"]["credentials"], "timeout_secs": 30}
    await _ok(await http.patch(f"/v1/admin/connections/{basic}", json=patch, headers=ADMIN))
    for state in ("PAUSED", "ACTIVE"):
        await _ok(await http.patch(f"/v1/admin/connections/{basic}", json={"state": state}, headers=ADMIN))
    await _ok(await http.get(f"/v1/admin/connections/{basic}/audit", headers=ADMIN))
    await _ok(await http.get("/v1/admin/connections", headers=ADMIN))
    await _ok(await http.get(f"/v1/admin/connections/{basic}", headers=ADMIN))

    for name in ("jira-basic", "jira-oauth", "rezolve"):
        await _traffic(http, runtime, jira_app, name, headers[name])

    # Refused credentials: inline (an error answer) and in a job (the connection turns unhealthy).
    refused = headers["jira-refused"]
    answer = await http.post("/v1/itsm/tickets", json={**TICKETS["jira-refused"], "name": "x"}, headers=refused)
    assert answer.status_code >= 400, answer.text
    # (A connection whose credentials failed verification may refuse jobs with 409: either answer goes.)
    bulk = {"tickets": [{**TICKETS["jira-refused"], "name": "refused in a job"}]}
    await http.post("/v1/itsm/tickets/bulk", json=bulk, headers=refused)
    refused_id = refused["X-CONNECTION-ID"]
    await http.post(f"/v1/admin/connections/{refused_id}/sync", headers=ADMIN)
    await http.post(f"/v1/admin/connections/{refused_id}/verify", headers=ADMIN)
    await run_jobs(runtime)
    await http.get("/v1/connection", headers=refused)
    await http.get(f"/v1/admin/connections/{refused_id}", headers=ADMIN)

    # Credentials revoked at the vendor after they were verified: a job fails on the vendor's 401.
    revoked = headers["jira-revoked"]
    await _ok(await http.get("/v1/connection", headers=revoked))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=jira_app), base_url=JIRA_URL) as vendor:
        reseeded = await vendor.post("/__sandbox__/seed", json={"users": [{**JIRA_REVOKED_BOT, "api_token": "x"}]})
        assert reseeded.status_code == 200, reseeded.text
    bulk = {"tickets": [{**TICKETS["jira-revoked"], "name": "revoked in a job"}]}
    await _ok(await http.post("/v1/itsm/tickets/bulk", json=bulk, headers=revoked), 202)
    await _ok(await http.post(f"/v1/admin/connections/{revoked['X-CONNECTION-ID']}/sync", headers=ADMIN), 202)
    await run_jobs(runtime)
    await _poll_every_job(http, revoked)
    await http.get("/v1/connection", headers=revoked)
    await http.get(f"/v1/admin/connections/{revoked['X-CONNECTION-ID']}", headers=ADMIN)

    # A vendor outage: a 5xx answer inline, and a job that fails on it (deferred until it gives up).
    await _jira_faults(jira_app, error_rate=1.0, error_statuses=[503], writes_only=True)
    outage = await http.post(
        "/v1/itsm/tickets", json={**TICKETS["jira-basic"], "name": "outage"}, headers=basic_h(headers)
    )
    assert outage.status_code >= 500, outage.text
    bulk = {"tickets": [{**TICKETS["jira-basic"], "name": "outage in a job"}]}
    await _ok(await http.post("/v1/itsm/tickets/bulk", json=bulk, headers=basic_h(headers)), 202)
    await run_jobs(runtime)
    await _jira_faults(jira_app)

    # A bug in a vendor call: a 500 inline, and a job whose attempt fails (both log a traceback).
    tripwire.armed = True
    crashed = await http.post(
        "/v1/itsm/tickets", json={**TICKETS["jira-basic"], "name": "bug"}, headers=basic_h(headers)
    )
    assert crashed.status_code == 500, crashed.text
    bulk = {"tickets": [{**TICKETS["jira-basic"], "name": "bug in a job"}]}
    await _ok(await http.post("/v1/itsm/tickets/bulk", json=bulk, headers=basic_h(headers)), 202)
    await run_jobs(runtime)
    tripwire.armed = False
    await _poll_every_job(http, basic_h(headers))

    # Errors of every kind.
    await http.get("/v1/itsm/tickets", headers={"X-CONNECTION-ID": basic})
    await http.get("/v1/itsm/tickets", headers={"X-API-KEY": api_key[:-4] + "0000", "X-CONNECTION-ID": basic})
    await http.get("/v1/itsm/tickets", headers={"X-API-KEY": ADMIN_TOKEN, "X-CONNECTION-ID": basic})
    await http.get("/v1/admin/connections", headers={"Authorization": f"Bearer {ADMIN_TOKEN}x"})
    await http.get("/v1/admin/connections", headers={"Authorization": f"Bearer {api_key}"})
    await http.get("/v1/itsm/tickets/00000000-0000-4000-8000-000000000000", headers=basic_h(headers))
    await http.post("/v1/itsm/tickets", json={"name": 1}, headers=basic_h(headers))
    await http.post("/v1/admin/connections", json={**CONNECTIONS["jira-basic"], "organization_id": "x"}, headers=ADMIN)
    bad_url = {**CONNECTIONS["jira-basic"], "organization_id": organization["id"], "base_url": "ftp://x"}
    await http.post("/v1/admin/connections", json=bad_url, headers=ADMIN)
    await http.get("/metrics")
    await http.get("/openapi.json")
    await http.get("/healthz")
    await http.get("/readyz")
    return api_key, key_answer, headers


def basic_h(headers: dict[str, dict[str, str]]) -> dict[str, str]:
    return headers["jira-basic"]


async def _traffic(
    http: httpx.AsyncClient, runtime: Runtime, jira_app: FastAPI, name: str, headers: dict[str, str]
) -> None:
    ticket = TICKETS[name]
    created = await _ok(
        await http.post(
            "/v1/itsm/tickets",
            json={**ticket, "name": f"{name} finding", "identifier": f"{name}-1"},
            headers={**headers, "Idempotency-Key": f"ticket-{name}"},
        )
    )
    await _ok(await http.patch(f"/v1/itsm/tickets/{created['id']}", json={"name": "renamed"}, headers=headers))
    await _ok(await http.get(f"/v1/itsm/tickets/by-identifier/{name}-1", headers=headers))
    synced = {"tickets": [{**ticket, "name": "sync bulk"}, {**ticket, "name": "refused", "type_vendor_id": "99999"}]}
    await _ok(await http.post("/v1/itsm/tickets/bulk/sync", json=synced, headers=headers))
    await _ok(await http.post("/v1/itsm/tickets/bulk", json=synced, headers=headers), 202)
    update = {"ticket_ids": [created["id"]], "updates": {"priority": "HIGH"}}
    await _ok(await http.post("/v1/itsm/tickets/bulk/update", json=update, headers=headers), 202)
    await run_jobs(runtime)
    await catch_up_search(jira_app)  # the sync and the search come later than Jira's search lag
    connection_id = headers["X-CONNECTION-ID"]
    await _ok(await http.post(f"/v1/admin/connections/{connection_id}/sync", headers=ADMIN), 202)
    await run_jobs(runtime)
    for path in ("/v1/connection", "/v1/itsm/tickets", "/v1/itsm/projects", "/v1/itsm/users"):
        await _ok(await http.get(path, headers=headers))
    project = ticket["project_vendor_id"]
    for path in ("/v1/itsm/passthrough/projects", f"/v1/itsm/passthrough/projects/{project}/issue-types"):
        await _ok(await http.get(path, headers=headers))
    await _ok(await http.get(f"/v1/itsm/passthrough/projects/{project}/assignable-users", headers=headers))
    query = "project = DEMO" if name.startswith("jira") else "status!=closed"
    await _ok(await http.get("/v1/itsm/passthrough/tickets/search", params={"jql": query}, headers=headers))
    await _poll_every_job(http, headers)


async def _poll_every_job(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    listing = await http.get("/v1/jobs", params={"limit": 100}, headers=headers)
    if listing.status_code == 409:  # an unverified connection (refused credentials) serves no data
        return
    for job in (await _ok(listing))["items"]:
        await _ok(await http.get(f"/v1/jobs/{job['id']}", headers=headers))
        if job["status"] == "FAILED":
            await http.post(f"/v1/jobs/{job['id']}/retry-failed", headers=headers)


def _rotate(database_url: str, data_dir: Path) -> str:
    """`ticketbridge secrets rotate` with the new key first; its output (stdout and stderr)."""
    env = {
        "TICKETBRIDGE_DATABASE_URL": database_url,
        "TICKETBRIDGE_DATA_DIR": str(data_dir),
        "TICKETBRIDGE_SECRETS_KEY": f"{FERNET_NEW},{FERNET_OLD}",
        "TICKETBRIDGE_ADMIN_TOKEN": ADMIN_TOKEN,
        "TICKETBRIDGE_LOG_LEVEL": "DEBUG",
        "TICKETBRIDGE_LOG_FORMAT": "json",
        "TICKETBRIDGE_AUTO_MIGRATE": "false",
    }
    result = CliRunner().invoke(cli_app, ["secrets", "rotate"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rotated"] == len(CONNECTIONS) and report["failed"] == [], report
    return result.output + result.stderr


async def _database_text(runtime: Runtime) -> tuple[list[str], list[str]]:
    """Every column of every row as text ("table.column=value"), and the encrypted credentials."""
    cells, encrypted = [], []
    async with runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in (await connection.execute(select(table))).mappings():
                for column, value in row.items():
                    if isinstance(value, bytes):
                        value = value.decode("latin-1")
                    elif not isinstance(value, str):
                        value = json.dumps(value, default=str)
                    cells.append(f"{table.name}.{column}={value}")
        encrypted = list((await connection.execute(select(Connection.credentials_encrypted))).scalars())
    return cells, encrypted


async def test_no_secret_appears_in_any_answer_log_job_metric_or_row(
    client: httpx.AsyncClient,
    runtime: Runtime,
    settings: Settings,
    jira_sandbox: FastAPI,
    rezolve_sandbox: FastAPI,
    vendor_transport: SandboxRouter,
    tmp_path: Path,
) -> None:
    await _seed_vendors(jira_sandbox, rezolve_sandbox)
    # The vendor retry policy of the settings (one attempt), as `serve` builds it.
    tripwire = Tripwire(vendor_transport)
    runtime.connectors = ConnectorFactory(transport=tripwire, http=VendorHttp.from_settings(settings))
    recorder = Recorder()
    client.event_hooks["response"].append(recorder)
    with logs_in_both_formats(settings) as (json_logs, console_logs):
        logging.getLogger("tests.security").debug("security.debug_probe")  # DEBUG reaches both streams
        api_key, key_answer, headers = await _session(client, runtime, jira_sandbox, tripwire)
        saved_handlers = logging.getLogger().handlers[:]
        cli_output = await asyncio.to_thread(_rotate, settings.database_url, tmp_path)
        logging.getLogger().handlers = saved_handlers  # the CLI configured its own
        # The service restarted with the new key first: it reads the rotated credentials and works.
        rotated_settings = settings.model_copy(update={"secrets_key": SecretStr(f"{FERNET_NEW},{FERNET_OLD}")})
        rotated = Runtime.build(rotated_settings)
        rotated.connectors = ConnectorFactory(transport=vendor_transport, http=VendorHttp.from_settings(settings))
        restarted = create_app(rotated_settings, runtime=rotated)
        hooks = {"response": [documented_statuses.recorder(restarted), recorder]}
        try:
            transport = httpx.ASGITransport(app=restarted)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver", event_hooks=hooks) as after:
                for name in ("jira-basic", "jira-oauth", "rezolve"):
                    ticket = {**TICKETS[name], "name": "after rotation"}
                    await _ok(await after.post("/v1/itsm/tickets", json=ticket, headers=headers[name]))
                    await _ok(
                        await after.post(
                            f"/v1/admin/connections/{headers[name]['X-CONNECTION-ID']}/sync", headers=ADMIN
                        ),
                        202,
                    )
                await run_jobs(rotated)
                for name in CONNECTIONS:
                    await _poll_every_job(after, headers[name])
                await after.get("/metrics")
            cells, encrypted = await _database_text(rotated)
            reprs = [repr(runtime), repr(rotated), repr(settings), str(settings), repr(rotated_settings)]
        finally:
            await rotated.close()

    canaries = {**FIXED_CANARIES, "API key": api_key}
    haystacks: dict[str, list[str]] = {
        "JSON log": json_logs.getvalue().splitlines(),
        "console log": console_logs.getvalue().splitlines(),
        "CLI output": cli_output.splitlines(),
        "repr": reprs,
        "database": cells,
    }
    answers = haystacks.setdefault("answer", [])
    for response in recorder.responses:
        where = f"{response.request.method} {response.request.url} -> {response.status_code}"
        text = f"{where} {list(response.headers.multi_items())} {response.text}"
        if response is key_answer:  # the API key's one delivery: the key may be in its body, once
            assert response.text.count(api_key) == 1
            text = text.replace(api_key, "<the new API key>", 1)
        answers.append(text)
    assert len(recorder.responses) > 100, len(recorder.responses)
    assert "security.debug_probe" in json_logs.getvalue() and "security.debug_probe" in console_logs.getvalue()
    assert '"exc_type": "RuntimeError"' in json_logs.getvalue(), "no traceback was rendered as JSON"
    assert "RuntimeError: the vendor transport broke" in console_logs.getvalue(), "no console traceback"

    found = [
        f"{canary_name} in {haystack_name}: {line[:400]}"
        for haystack_name, lines in haystacks.items()
        for line in lines
        for canary_name, canary in canaries.items()
        if canary in line
    ]
    assert not found, f"{len(found)} leaks:\n  " + "\n  ".join(found[:30])

    # The credentials are really stored, encrypted (under the new key only, after the rotation).
    decrypted = [CredentialCipher([FERNET_NEW]).decrypt(token) for token in encrypted]
    secrets = {value for credentials in decrypted for value in credentials.values()}
    assert {JIRA_API_TOKEN, JIRA_OAUTH_TOKEN, JIRA_REFUSED_TOKEN, JIRA_REVOKED_TOKEN, REZOLVE_CLIENT_SECRET} <= secrets


async def test_an_api_key_created_with_an_idempotency_key_is_not_stored_in_plain(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Clients that retry safely send an Idempotency-Key on every POST, the key creation included."""
    organization = await _ok(await client.post("/v1/admin/organizations", json={"name": "Canary"}, headers=ADMIN), 201)
    path = f"/v1/admin/organizations/{organization['id']}/api-keys"
    headers = {**ADMIN, "Idempotency-Key": "create-the-key"}
    created = await _ok(await client.post(path, json={"name": "retried"}, headers=headers), 201)
    api_key = created["api_key"]
    cells, _ = await _database_text(runtime)
    stored = [cell[:120] for cell in cells if api_key in cell]
    assert not stored, f"the plain API key is stored in: {stored}"
    # The answer is still replayed to a retry with the same key: the same API key, not a second one.
    replayed = await _ok(await client.post(path, json={"name": "retried"}, headers=headers), 201)
    assert replayed["api_key"] == api_key
