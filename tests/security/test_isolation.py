"""Tenant isolation, tried exhaustively: two organizations (Acme, Globex), a connection each on every
vendor, and every data endpoint of /openapi.json called with every combination of API key, connection
and object id. Another tenant's connection or object must never show its data, and must answer
exactly what a missing one answers: same status, same body, same headers (but the per-request ones,
PER_REQUEST_HEADERS). The admin API refuses every wrong credential with one and the same 401.

The endpoints come from the OpenAPI document, so a new endpoint is covered as soon as it is routed:
a path parameter (or an id-valued query parameter) of a kind the suite does not know fails the test,
naming it, until PATH_KINDS / QUERY_KINDS learn it.
"""

from __future__ import annotations

import json
import random
import re
import string
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.api.test_bulk import run_jobs
from tests.builders import ADMIN
from tests.security.conftest import VENDOR_SETUPS, ConnectionData, World, build_world
from ticketbridge.connectors import default_registry
from ticketbridge.enums import Vendor
from ticketbridge.state import Runtime

#: Response headers that differ between any two requests, so they are left out of the comparison:
#: X-Request-ID is minted per request; Date (if a server adds one) is the clock; X-RateLimit-Remaining,
#: X-RateLimit-Reset and RateLimit carry the caller's own counters (requests left, seconds until the
#: window admits one more), which every request moves. X-RateLimit-Limit and RateLimit-Policy, which
#: depend only on the key, are compared like every other header.
PER_REQUEST_HEADERS = frozenset({"x-request-id", "date", "x-ratelimit-remaining", "x-ratelimit-reset", "ratelimit"})
#: What each path parameter names, by its name in the OpenAPI document.
PATH_KINDS = {"ticket_id": "ticket", "job_id": "job", "identifier": "identifier", "project_key": "project_key"}
#: Query parameters that carry another object's id (they filter a list), by name.
QUERY_KINDS = {"project_id": "project", "projectId": "project", "assigned_user_id": "user"}
#: Values for the required query parameters that name no object, by name, from the connection's vendor.
REQUIRED_QUERY = {"jql": lambda vendor: VENDOR_SETUPS[vendor].search}
#: Query parameters an operation needs besides object ids, which the OpenAPI document cannot mark
#: required (one of several), by operation id: values valid for the calling connection.
CONTEXT_QUERY = {"get_ticket_create_meta": lambda body: {"type_vendor_id": body["type_vendor_id"]}}
#: Kinds whose ids are UUIDs (a missing one is a fresh UUID); the others are vendor or client strings.
UUID_KINDS = frozenset({"ticket", "job", "project", "user"})
#: Ids of each kind tried per connection (a connection has more after a sync): bounds the matrix.
IDS_PER_CONNECTION = 2
MISSING = "MISSING"
PLACEHOLDER = "{id}"


#: A parameter naming an object: (in, name, kind, required).
Slot = tuple[str, str, str, bool]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    slots: tuple[Slot, ...]
    has_body: bool
    #: Required query parameters that name no object (REQUIRED_QUERY fills them).
    required_query: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @classmethod
    def of(cls, response: httpx.Response, *, normalize: tuple[str, ...] = ()) -> Answer:
        """The response, with each of `normalize` (the object id asked for) replaced by a placeholder."""
        body = response.content
        headers = [(k.lower(), v) for k, v in response.headers.multi_items() if k.lower() not in PER_REQUEST_HEADERS]
        for value in normalize:
            # Whole tokens only: a short key such as "it" must not turn "items" into "{id}ems".
            pattern = re.compile(r"(?<![A-Za-z0-9_-])" + re.escape(value) + r"(?![A-Za-z0-9_-])")
            body = pattern.sub(PLACEHOLDER, body.decode()).encode()
            headers = [(k, pattern.sub(PLACEHOLDER, v)) for k, v in headers]
        return cls(response.status_code, tuple(headers), body)

    def describe(self) -> str:
        return f"{self.status} {dict(self.headers)} {self.body[:300]!r}"


def data_operations(spec: dict[str, Any]) -> tuple[list[Operation], list[str]]:
    """Every operation the API key guards, and the problems (unclassified parameters) found."""
    operations, problems = [], []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            schemes = {name for requirement in op.get("security", []) for name in requirement}
            if "API-Key" not in schemes:
                continue
            slots: list[Slot] = []
            required: list[str] = []
            for parameter in op.get("parameters", []):
                where, name, schema = parameter["in"], parameter["name"], parameter.get("schema", {})
                if where == "path":
                    if name not in PATH_KINDS:
                        problems.append(f"{method.upper()} {path}: path parameter {name!r} has no kind in PATH_KINDS")
                        continue
                    slots.append((where, name, PATH_KINDS[name], True))
                elif where == "query" and _is_uuid(schema):
                    if name not in QUERY_KINDS:
                        problems.append(f"{method.upper()} {path}: id query parameter {name!r} not in QUERY_KINDS")
                        continue
                    slots.append((where, name, QUERY_KINDS[name], bool(parameter.get("required"))))
                elif where == "query" and parameter.get("required"):
                    if name not in REQUIRED_QUERY:
                        problems.append(f"{method.upper()} {path}: required query {name!r} not in REQUIRED_QUERY")
                        continue
                    required.append(name)
            operations.append(
                Operation(method.upper(), path, op["operationId"], tuple(slots), "requestBody" in op, tuple(required))
            )
    return operations, problems


def _is_uuid(schema: dict[str, Any]) -> bool:
    options = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    return any(option.get("format") == "uuid" for option in options)


CONSONANTS = "bcdfghjklmnpqrstvwxz"


def missing_like(kind: str, value: str | None) -> str:
    """An id of `kind` that names nothing, of the same length and character classes as `value`: a
    message that echoes the id then differs from the foreign one only in the id itself."""
    if kind in UUID_KINDS or value is None:
        return str(uuid.uuid4()) if kind in UUID_KINDS else "missing-" + uuid.uuid4().hex[:8]
    pick = random.SystemRandom().choice
    # Consonants only: a short random id must not spell a word of the message that echoes it ("id"
    # for "hr" once turned "key or id" into "key or {id}").
    return "".join(
        pick(CONSONANTS.upper())
        if c.isupper()
        else pick(CONSONANTS)
        if c.islower()
        else pick(string.digits)
        if c.isdigit()
        else c
        for c in value
    )


def request_body(op: Operation, organization: str, connection: ConnectionData | None) -> Any:
    """A body valid for the connection's vendor (the same for a request and its baseline), or {}."""
    ticket = {
        **(connection.ticket_body if connection else {"project_vendor_id": "DEMO", "type_vendor_id": "10001"}),
        "name": f"{organization} matrix ticket",
    }
    bodies: dict[str, Any] = {
        "create_ticket": ticket,
        "bulk_create_tickets": {"tickets": [ticket]},
        "bulk_create_tickets_sync": {"tickets": [ticket]},
        "bulk_update_tickets": {"ticket_ids": [str(uuid.UUID(int=1))], "updates": {"name": "renamed"}},
        "update_ticket": {"name": f"{organization} renamed"},
    }
    return bodies.get(op.operation_id, {}) if op.has_body else None


class Matrix:
    """Sends requests, keeps baselines, and collects every violation instead of stopping at the first."""

    def __init__(self, client: httpx.AsyncClient, world: World) -> None:
        self.client = client
        self.world = world
        self.failures: list[str] = []
        self.requests = 0
        self.compared = 0
        self.answered_own = 0
        self._baselines: dict[tuple[Any, ...], Answer] = {}
        self._missing_connection = str(uuid.uuid4())

    async def send(
        self, op: Operation, api_key: str, connection_id: str, fill: dict[tuple[str, str], str], body: Any
    ) -> httpx.Response:
        path, params = op.path, {}
        for (where, name), value in fill.items():
            if where == "path":
                path = path.replace("{" + name + "}", value)
            else:
                params[name] = value
        self.requests += 1
        return await self.client.request(
            op.method,
            path,
            params=params,
            json=body,
            headers={"X-API-KEY": api_key, "X-CONNECTION-ID": connection_id},
        )

    def check(self, label: str, response: httpx.Response, forbidden: set[str]) -> None:
        if response.status_code >= 500:
            self.failures.append(f"{label}: answered {response.status_code}: {response.text[:300]}")
        text = response.text + json.dumps(dict(response.headers))
        leaked = sorted(marker for marker in forbidden if marker in text)
        if leaked:
            self.failures.append(f"{label}: answer carries another tenant's data {leaked}: {response.text[:300]}")

    async def baseline(
        self,
        op: Operation,
        organization: str,
        connection_id: str,
        fill: dict[tuple[str, str], str],
        body: Any,
        normalize: tuple[str, ...],
    ) -> Answer:
        key = (op.operation_id, organization, connection_id, tuple(sorted(fill.items())), json.dumps(body))
        if key not in self._baselines:
            response = await self.send(op, self.world.api_keys[organization], connection_id, fill, body)
            self.check(f"baseline {op.method} {response.request.url.path}", response, set())
            self._baselines[key] = Answer.of(response, normalize=normalize)
        return self._baselines[key]

    async def run(
        self, op: Operation, organization: str, connection: ConnectionData | None, slot: Slot | None, value: str | None
    ) -> None:
        """One combination: `organization`'s API key, `connection` (None: a missing one), and `value`
        (None: a missing id) in `slot`; the other required object parameters name nothing."""
        connection_id = connection.connection_id if connection else self._missing_connection
        body = request_body(op, organization, connection)
        fill = {(where, name): missing_like(kind, None) for where, name, kind, required in op.slots if required}
        vendor = connection.vendor if connection else Vendor.JIRA
        fill |= {("query", name): REQUIRED_QUERY[name](vendor) for name in op.required_query}
        if op.operation_id in CONTEXT_QUERY:
            ticket = connection.ticket_body if connection else VENDOR_SETUPS[vendor].ticket(0)
            fill |= {("query", name): value for name, value in CONTEXT_QUERY[op.operation_id](ticket).items()}
        if slot is not None:
            value = value if value is not None else missing_like(slot[2], None)
            fill[(slot[0], slot[1])] = value
        response = await self.send(op, self.world.api_keys[organization], connection_id, fill, body)
        url = response.request.url
        where = f"{connection.organization}/{connection.vendor}" if connection else MISSING
        label = f"{op.method} {url.path}?{url.query.decode()} as {organization} on {where}"
        # What the caller sent (the object id, the connection id) may be echoed; nothing else may.
        echoed = {value or "", connection_id}
        self.check(label, response, other_markers(self.world, connection, organization) - echoed)
        if connection is None:
            return  # it is the baseline of the foreign connections
        if connection.organization != organization:
            # Another tenant's connection: exactly the answer for a missing connection.
            expected = await self.baseline(op, organization, self._missing_connection, fill, body, ())
            self.compare(label, Answer.of(response), expected)
            return
        if slot is None or value in connection.objects[slot[2]]:
            # Its own object (a vendor project key may exist on several sites: it is the
            # connection's own if its site has it): checked for foreign data above, and a read
            # must find it (else a lookup that finds nothing at all would pass).
            self.own(label, op, response)
            return
        assert value is not None
        # Another connection's object, or none: exactly the answer for a missing object.
        missing = missing_like(slot[2], value)
        expected = await self.baseline(
            op, organization, connection_id, {**fill, (slot[0], slot[1]): missing}, body, (missing,)
        )
        self.compare(label, Answer.of(response, normalize=(value,)), expected)

    def own(self, label: str, op: Operation, response: httpx.Response) -> None:
        self.answered_own += 1
        if op.method == "GET" and response.status_code != 200:
            self.failures.append(f"{label}: its own object answered {response.status_code}: {response.text[:300]}")

    def compare(self, label: str, got: Answer, expected: Answer) -> None:
        self.compared += 1
        if got != expected:
            self.failures.append(f"{label}:\n      got      {got.describe()}\n      missing  {expected.describe()}")


def candidates(world: World, kind: str) -> list[str | None]:
    """Every connection's first ids of `kind`, and one that names nothing (None)."""
    ids: list[str | None] = [value for c in world.connections for value in c.objects.get(kind, [])[:IDS_PER_CONNECTION]]
    return [*ids, None]


def other_markers(world: World, connection: ConnectionData | None, organization: str) -> set[str]:
    """What a request made as `organization` on `connection` must never see: the data of every
    connection but that one, and all of it when the connection is another organization's."""
    forbidden = set()
    for other in world.connections:
        if other is connection and other.organization == organization:
            continue
        forbidden |= other.markers
        if other.organization != organization:
            forbidden.add(other.organization_id)
    return forbidden


@pytest.mark.parametrize("vendor", list(default_registry()), ids=str)
def test_every_registered_vendor_is_provisioned_by_the_suite(vendor: Vendor) -> None:
    if vendor not in VENDOR_SETUPS:
        pytest.skip(
            f"{vendor}: no VendorSetup in tests/security/conftest.py yet "
            "(for two tenants: a connection, a ticket and a search query)"
        )
    assert VENDOR_SETUPS[vendor].connection(0)["vendor"] == str(vendor)


async def test_no_data_endpoint_tells_another_tenants_objects_from_missing_ones(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, FastAPI]
) -> None:
    world = await build_world(client, runtime, sandboxes)
    spec = (await client.get("/openapi.json")).json()
    operations, problems = data_operations(spec)
    assert not problems, "\n".join(problems)
    assert len(operations) >= 15, [op.operation_id for op in operations]
    matrix = Matrix(client, world)
    connections: list[ConnectionData | None] = [*world.connections, None]
    for op in operations:
        # One object parameter varies at a time (over every connection's ids and a missing one).
        variations: list[tuple[Slot | None, str | None]] = [
            (slot, value) for slot in op.slots for value in candidates(world, slot[2])
        ] or [(None, None)]
        for organization in world.api_keys:
            for connection in connections:
                for slot, value in variations:
                    await matrix.run(op, organization, connection, slot, value)
    print(
        f"\n{len(operations)} data operations, {matrix.requests} requests: {matrix.compared} compared with "
        f"the missing answer, {matrix.answered_own} on the caller's own objects"
    )
    assert not matrix.failures, f"{len(matrix.failures)} violations:\n  " + "\n  ".join(matrix.failures[:40])


def admin_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if any("Admin-Token" in requirement for requirement in op.get("security", []))
    ]


async def test_admin_endpoints_refuse_every_wrong_credential_with_one_401(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, FastAPI]
) -> None:
    world = await build_world(client, runtime, sandboxes)
    acme = world.of("Acme")[0]
    real_ids = {
        "org_id": acme.organization_id,
        "connection_id": acme.connection_id,
        "key_id": await _an_api_key_id(client, acme.organization_id),
    }
    credentials = {
        "no Authorization": {},
        "a wrong token": {"Authorization": "Bearer " + "f" * 43},
        "an empty bearer": {"Authorization": "Bearer "},
        "the admin token in another scheme": {"Authorization": ADMIN["Authorization"].replace("Bearer", "Basic")},
        "an API key as the bearer": {"Authorization": f"Bearer {acme.api_key}"},
        "an API key in X-API-KEY": {"X-API-KEY": acme.api_key, "X-CONNECTION-ID": acme.connection_id},
    }
    before = await _admin_state(client, world)
    answers: dict[tuple[int, bytes, str | None], list[str]] = {}
    operations = admin_operations((await client.get("/openapi.json")).json())
    assert len(operations) >= 9, operations
    for method, template, op in operations:
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
        for ids in ("real", "missing"):
            path = template
            for name in names:
                value = real_ids.get(name, str(uuid.uuid4())) if ids == "real" else str(uuid.uuid4())
                path = path.replace("{" + name + "}", value)
            body = _admin_body(op["operationId"], acme.organization_id) if "requestBody" in op else None
            for label, headers in credentials.items():
                response = await client.request(method, path, json=body, headers=headers)
                answers.setdefault(
                    (response.status_code, response.content, response.headers.get("www-authenticate")), []
                ).append(f"{method} {path} with {label}")
    assert len(answers) == 1, "\n".join(f"{key}: {where[:3]}" for key, where in answers.items())
    [(status, body, challenge)] = answers
    assert status == 401 and challenge == 'Bearer realm="ticketbridge-admin"'
    assert json.loads(body)["code"] == "UNAUTHENTICATED"
    assert await _admin_state(client, world) == before  # and nothing was done


async def _an_api_key_id(client: httpx.AsyncClient, organization_id: str) -> str:
    response = await client.post(
        f"/v1/admin/organizations/{organization_id}/api-keys", json={"name": "to-keep"}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _admin_body(operation_id: str, organization_id: str) -> dict[str, Any]:
    setup = VENDOR_SETUPS[Vendor.JIRA]
    bodies: dict[str, dict[str, Any]] = {
        "create_organization": {"name": "Intruder"},
        "create_api_key": {"name": "intruder"},
        "create_connection": {"organization_id": organization_id, **setup.connection(0)},
        "update_connection": {"state": "PAUSED"},
    }
    return bodies.get(operation_id, {})


async def _admin_state(client: httpx.AsyncClient, world: World) -> Any:
    organizations = (await client.get("/v1/admin/organizations", headers=ADMIN)).json()
    connections = (await client.get("/v1/admin/connections", headers=ADMIN)).json()
    keys_work = [(await client.get("/v1/connection", headers=c.headers)).status_code for c in world.connections]
    return organizations, connections, keys_work


async def test_bulk_update_of_another_tenants_tickets_reads_as_missing_ones(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, FastAPI]
) -> None:
    """Ticket ids in a body are object ids too: refused (or failed, if a job takes them) exactly as
    missing ones, and the tickets stay untouched."""
    world = await build_world(client, runtime, sandboxes)
    for connection in world.connections:
        foreign = [t for other in world.connections if other is not connection for t in other.objects["ticket"][:1]]
        missing = [str(uuid.uuid4()) for _ in foreign]
        views = []
        for ids in (foreign, missing):
            body = {"ticket_ids": ids, "updates": {"name": f"{connection.organization} takeover"}}
            answer = await client.post("/v1/itsm/tickets/bulk/update", json=body, headers=connection.headers)
            assert answer.status_code < 500, answer.text
            if answer.status_code == 202:  # accepted: what the job reports must not tell them apart either
                await run_jobs(runtime)
                answer = await client.get(f"/v1/jobs/{answer.json()['job_id']}", headers=connection.headers)
                assert answer.status_code == 200, answer.text
            views.append((answer.status_code, _normalized(answer.json(), ids)))
        assert views[0] == views[1], (connection.organization, connection.vendor, views)
        leaked = {
            m for m in other_markers(world, connection, connection.organization) - set(foreign) if m in views[0][1]
        }
        assert not leaked, leaked
    for owner in world.connections:
        for ticket_id in owner.objects["ticket"][:1]:
            ticket = await client.get(f"/v1/itsm/tickets/{ticket_id}", headers=owner.headers)
            assert "takeover" not in ticket.json()["name"], ticket.json()


def _normalized(answer: dict[str, Any], ids: list[str]) -> str:
    """An answer with what differs between any two jobs (id, times) and the ids asked for masked."""
    for volatile in ("id", "created_at", "started_at", "finished_at"):
        answer.pop(volatile, None)
    text = json.dumps(answer, sort_keys=True)
    for n, value in enumerate(ids):
        text = text.replace(value, f"{{id{n}}}")
    return text


async def test_identifiers_are_per_connection_and_another_tenants_is_free(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, FastAPI]
) -> None:
    world = await build_world(client, runtime, sandboxes)
    for connection in world.connections:
        for other in world.connections:
            if other is connection:
                continue
            identifier = other.objects["identifier"][0]
            body = {**connection.ticket_body, "name": "same identifier", "identifier": identifier}
            created = await client.post("/v1/itsm/tickets", json=body, headers=connection.headers)
            assert created.status_code == 200, (connection.vendor, other.vendor, created.text)
            mine = await client.get(f"/v1/itsm/tickets/by-identifier/{identifier}", headers=connection.headers)
            assert mine.status_code == 200 and mine.json()["id"] == created.json()["id"], mine.text
            theirs = await client.get(f"/v1/itsm/tickets/by-identifier/{identifier}", headers=other.headers)
            assert theirs.status_code == 200 and theirs.json()["id"] != created.json()["id"]
            assert theirs.json()["id"] in other.objects["ticket"]


async def test_idempotency_keys_are_never_replayed_across_tenants(
    client: httpx.AsyncClient, runtime: Runtime, sandboxes: dict[str, FastAPI]
) -> None:
    world = await build_world(client, runtime, sandboxes)
    acme, globex = (next(c for c in world.of(org) if c.vendor is Vendor.JIRA) for org in ("Acme", "Globex"))
    # DEMO exists on both Jira sites, so the very same request is valid for both tenants.
    body = {"tickets": [{"name": "shared request", "project_vendor_id": "DEMO", "type_vendor_id": "10001"}]}
    key = {"Idempotency-Key": "the-same-key"}
    first = await client.post("/v1/itsm/tickets/bulk", json=body, headers={**acme.headers, **key})
    replay = await client.post("/v1/itsm/tickets/bulk", json=body, headers={**acme.headers, **key})
    assert first.status_code == replay.status_code == 202 and replay.headers.get("idempotent-replayed") == "true"
    for other in (globex, *[c for c in world.of("Acme") if c is not acme]):
        if other.vendor is not Vendor.JIRA:
            continue
        theirs = await client.post("/v1/itsm/tickets/bulk", json=body, headers={**other.headers, **key})
        assert theirs.status_code == 202, theirs.text
        assert "idempotent-replayed" not in theirs.headers
        assert theirs.json()["job_id"] != first.json()["job_id"]
        job = await client.get(f"/v1/jobs/{theirs.json()['job_id']}", headers=other.headers)
        assert job.status_code == 200
    missing_acme_job = await client.get(f"/v1/jobs/{first.json()['job_id']}", headers=globex.headers)
    assert missing_acme_job.status_code == 404
