"""Schemathesis against the app in process: every operation of /openapi.json, with positive and
negative data, as a provisioned tenant of the Jira sandbox.

Checks on every answer: no 5xx, the status is documented, the body matches the documented schema
(and is an ErrorResponse on every error), the content type and headers are as documented, and data
the schema forbids is refused. Schemathesis only generates the cases and judges the answers; they
are sent with httpx through ASGI on an event loop the test owns (`FuzzEnv`), on SQLite and
PostgreSQL, and every status is recorded for the suite's documented-status check.

`make test` runs a bounded, deterministic pass (FUZZ_EXAMPLES cases per operation); `make fuzz`
sets TICKETBRIDGE_FUZZ_EXAMPLES, which raises the count and draws new cases each run.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import documented_statuses
from tests.api.test_tickets import BUG
from tests.builders import ADMIN, Tenant, make_tenant
from tests.conftest import empty_tables, make_settings
from tests.vendors import SandboxRouter
from ticketbridge.app import create_app
from ticketbridge.config import Settings
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.state import Runtime

FUZZ_EXAMPLES = int(os.environ.get("TICKETBRIDGE_FUZZ_EXAMPLES", "12"))
#: A long run (`make fuzz`) explores anew each time; the bounded one replays the same cases.
LONG_RUN = "TICKETBRIDGE_FUZZ_EXAMPLES" in os.environ


@schemathesis.check
def negative_data_refused(ctx: Any, response: Any, case: Any) -> bool | None:
    """`negative_data_rejection`, where a 413 refuses too: the body limit answers before validation,
    so a schema-violating body that is also too large gets 413 (documented), not 422."""
    if response.status_code == 413:
        return None
    return negative_data_rejection(ctx, response, case)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_refused,
]
ERROR_FIELDS = {"type", "code", "message", "detail"}
#: httpx's own limit on a URL's length.
MAX_URL_CHARS = 65_536
#: Path parameters that name the fixture's real objects in about half of the positive cases, so the
#: operations on one ticket or job get past 404.
KNOWN_OBJECTS = ("ticket_id", "identifier", "job_id", "project_key")
#: The same for creates: the sandbox's project and issue type, so a random ticket reaches Jira.
ANCHORS = {"project_vendor_id": "DEMO", "type_vendor_id": BUG, "project_id": None, "assigned_user_id": None}
CREATES = ("POST /v1/itsm/tickets", "POST /v1/itsm/tickets/bulk", "POST /v1/itsm/tickets/bulk/sync")


@cache
def openapi() -> dict[str, Any]:
    spec: dict[str, Any] = create_app(make_settings("sqlite+aiosqlite://", Path(tempfile.gettempdir()))).openapi()
    return spec


@cache
def api_schema() -> Any:
    schema = schemathesis.openapi.from_dict(openapi())
    # The credentials are the tenant's, set on every request; unknown query parameters are ignored,
    # as HTTP APIs do, so neither is a negative case.
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False)
    return schema


@cache
def strategy(label: str, mode: GenerationMode) -> st.SearchStrategy[Any]:
    method, path = label.split(" ", 1)
    return api_schema()[path][method].as_strategy(mode)


OPERATIONS = [
    pytest.param(f"{method.upper()} {path}", id=operation["operationId"])
    for path, methods in openapi()["paths"].items()
    for method, operation in methods.items()
]


@dataclass
class FuzzEnv:
    """The app and a tenant with one ticket and one job, on an event loop of the test's own: Hypothesis
    runs each example synchronously, so the examples share this loop, and the runtime lives on it."""

    loop: asyncio.Runner
    runtime: Runtime
    client: httpx.AsyncClient
    known: dict[str, Any]


async def start(loop: asyncio.Runner, settings: Settings, vendor_transport: httpx.AsyncBaseTransport) -> FuzzEnv:
    runtime = Runtime.build(settings)
    runtime.connectors = ConnectorFactory(transport=vendor_transport)
    app = create_app(settings, runtime=runtime)
    hooks = {"response": [documented_statuses.recorder(app)]}
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", event_hooks=hooks)
    tenant: Tenant = await make_tenant(client)
    body = {"name": "Fuzz anchor", "project_vendor_id": "DEMO", "type_vendor_id": BUG, "identifier": "fuzz-anchor"}
    created = await client.post("/v1/itsm/tickets", json=body, headers=tenant.headers)
    assert created.status_code == 200, created.text
    bulk = await client.post("/v1/itsm/tickets/bulk", json={"tickets": [body]}, headers=tenant.headers)
    assert bulk.status_code == 202, bulk.text
    known = {
        "headers": {**tenant.headers, **ADMIN},
        "ticket_id": created.json()["id"],
        "identifier": "fuzz-anchor",
        "job_id": bulk.json()["job_id"],
        "project_key": "DEMO",
    }
    return FuzzEnv(loop=loop, runtime=runtime, client=client, known=known)


async def stop(env: FuzzEnv) -> None:
    await env.client.aclose()
    await empty_tables(env.runtime.engine)
    await env.runtime.close()


@pytest.fixture
def env(settings: Settings, vendor_transport: SandboxRouter) -> Iterator[FuzzEnv]:
    with asyncio.Runner() as loop:
        built = loop.run(start(loop, settings, vendor_transport))
        try:
            yield built
        finally:
            loop.run(stop(built))


def anchor(case: Any, label: str, known: dict[str, Any]) -> None:
    """Points a positive case at real objects: path parameters, and a create's project and type."""
    for name in KNOWN_OBJECTS:
        if name in (case.path_parameters or {}):
            case.path_parameters[name] = known[name]
    if label in CREATES and isinstance(case.body, dict):
        for ticket in case.body.get("tickets", [case.body]):
            ticket.update(ANCHORS)


def as_sent(case: Any, headers: dict[str, str]) -> tuple[dict[str, Any], requests.PreparedRequest]:
    """The request exactly as schemathesis would send it (its serializers, requests' encoding)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    allowed = {"method", "url", "headers", "params", "json", "data", "files", "cookies"}
    return kwargs, requests.Request(**{k: v for k, v in kwargs.items() if k in allowed}).prepare()


@pytest.mark.parametrize("label", OPERATIONS)
def test_every_operation_keeps_its_contract(env: FuzzEnv, label: str) -> None:
    @hypothesis.given(data=st.data())
    @hypothesis.settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not LONG_RUN,
        suppress_health_check=list(HealthCheck),
    )
    def example(data: st.DataObject) -> None:
        mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]), label="mode")
        case = data.draw(strategy(label, mode), label="case")
        if mode is GenerationMode.POSITIVE and data.draw(st.booleans(), label="known objects"):
            anchor(case, label, env.known)
        kwargs, prepared = as_sent(case, env.known["headers"])
        # httpx refuses to send a URL over 64 KiB (so does any client and server): not a case to judge.
        hypothesis.assume(len(str(prepared.url)) <= MAX_URL_CHARS)
        response = env.loop.run(
            env.client.request(
                str(prepared.method), str(prepared.url), headers=dict(prepared.headers), content=prepared.body
            )
        )
        case.validate_response(response, checks=CHECKS, headers=env.known["headers"], transport_kwargs=kwargs)
        if response.status_code >= 400:
            assert set(response.json()) == ERROR_FIELDS, response.text

    example()
