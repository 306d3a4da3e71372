"""The `/__sandbox__/` control API (JSON, no auth, never faulted nor throttled), apart from the vendor
surface like moto's `/moto-api/`. Its answers match the Jira sandbox's where the routes are shared
(reset, seed, faults, faults/injected, calls, rate-limits, consistency)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.sandboxes.faults import FaultConfig, FaultMiddleware
from ticketbridge.sandboxes.servicenow import records
from ticketbridge.sandboxes.servicenow.config import RateLimitConfig
from ticketbridge.sandboxes.servicenow.demo import DEMO_USERNAME, build_demo_instance
from ticketbridge.sandboxes.servicenow.errors import ServiceNowError, invalid_table, record_not_found
from ticketbridge.sandboxes.servicenow.query import parse, run
from ticketbridge.sandboxes.servicenow.runtime import Runtime, RuntimeDep
from ticketbridge.sandboxes.servicenow.schema import TABLES
from ticketbridge.sandboxes.servicenow.state import Account, Row

PREFIX = "/__sandbox__"
router = APIRouter(prefix=PREFIX)
NO_LAG = "ServiceNow reads its own writes: the Table API has no search lag, so only 0 is accepted."


class ResetRequest(BaseModel):
    seed_demo: bool | None = None


class SeedUser(BaseModel):
    user_name: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    #: Without a password the user exists but cannot log in.
    password: str | None = None
    roles: list[str] = Field(default_factory=list)


class SeedGroup(BaseModel):
    name: str
    description: str = ""
    #: user_names of the members
    members: list[str] = Field(default_factory=list)


class SeedRequest(BaseModel):
    #: A number of generated incidents, or incident bodies as the Table API takes them.
    incidents: int | list[dict[str, Any]] = 0
    users: list[SeedUser] = Field(default_factory=list)
    groups: list[SeedGroup] = Field(default_factory=list)


class Consistency(BaseModel):
    model_config = ConfigDict(extra="forbid")

    search_lag_ms: float = Field(ge=0, strict=True, allow_inf_nan=False)


class Acls(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: table -> encoded query of the rows a read ACL hides from users without the admin role
    hidden: dict[str, str] = Field(default_factory=dict)
    limit_before_acl: bool = True


class ExpireRequest(BaseModel):
    refresh: bool = False


class UiEdit(BaseModel):
    fields: dict[str, Any] = Field(default_factory=dict)
    user_name: str = DEMO_USERNAME


@router.post("/reset")
async def reset(runtime: RuntimeDep, request: ResetRequest | None = None) -> dict[str, int]:
    """Fresh instance (the demo unless told otherwise), no tokens, no call counts; faults, limits,
    properties set through here and ACL rules stay."""
    seed_demo = runtime.config.seed_demo if request is None or request.seed_demo is None else request.seed_demo
    properties = runtime.instance.properties
    runtime.instance = build_demo_instance(with_incidents=seed_demo)
    runtime.instance.properties = properties
    runtime.tokens.access.clear()
    runtime.tokens.refresh.clear()
    runtime.calls.clear()
    runtime.limiter.configure(runtime.limiter.config)
    runtime.save()
    return {"issues": len(runtime.instance.rows("incident"))}


@router.post("/seed")
async def seed(request: SeedRequest, runtime: RuntimeDep) -> dict[str, Any]:
    instance = runtime.instance
    admin = _account(runtime, DEMO_USERNAME)
    for user in request.users:
        body = user.model_dump(include={"user_name", "first_name", "last_name", "email"})
        row = records.insert(instance, "sys_user", body, admin)
        instance.accounts[user.user_name] = Account(row["sys_id"], user.user_name, user.password or "", user.roles)
    for group in request.groups:
        row = records.insert(instance, "sys_user_group", {"name": group.name, "description": group.description}, admin)
        for member in group.members:
            user_row = _account(runtime, member)
            records.insert(instance, "sys_user_grmember", {"user": user_row.sys_id, "group": row["sys_id"]}, admin)
    bodies = request.incidents
    if isinstance(bodies, int):
        bodies = [
            {"short_description": f"Generated incident {i + 1}", "impact": "3", "urgency": "3"} for i in range(bodies)
        ]
    created: list[Row] = []
    for body in bodies:
        try:
            created.append(records.insert(instance, "incident", body, admin, hold_reason_required=False))
        except ServiceNowError as exc:
            raise ServiceNowError(400, exc.message, exc.detail) from None
    runtime.save()
    numbers = [r["number"] for r in created]
    return {
        "created": len(created),
        "first_key": numbers[0] if numbers else None,
        "last_key": numbers[-1] if numbers else None,
        "keys": numbers if len(numbers) <= 100 else None,
        "sys_ids": [r["sys_id"] for r in created] if len(created) <= 100 else None,
    }


@router.get("/faults")
async def get_faults(runtime: RuntimeDep) -> FaultConfig:
    return _faults(runtime).config


@router.put("/faults")
async def put_faults(config: FaultConfig, runtime: RuntimeDep) -> FaultConfig:
    _faults(runtime).configure(config)
    return config


@router.get("/faults/injected")
async def injected_faults(runtime: RuntimeDep) -> dict[str, int]:
    return dict(_faults(runtime).counts)


@router.get("/rate-limits")
async def get_rate_limits(runtime: RuntimeDep) -> RateLimitConfig:
    return runtime.limiter.config


@router.put("/rate-limits")
async def put_rate_limits(config: RateLimitConfig, runtime: RuntimeDep) -> RateLimitConfig:
    runtime.limiter.configure(config)
    return config


@router.get("/consistency")
async def get_consistency() -> Consistency:
    return Consistency(search_lag_ms=0)


@router.put("/consistency")
async def put_consistency(consistency: Consistency) -> Consistency:
    if consistency.search_lag_ms != 0:
        raise ServiceNowError(400, "Unsupported consistency", NO_LAG)
    return consistency


@router.get("/calls")
async def calls(runtime: RuntimeDep) -> dict[str, int]:
    """Requests that reached each operation: `table.<table>.<METHOD>`, `batch.POST`, `attachment.<METHOD>`,
    `oauth.token` (batch items count under their own names too)."""
    return dict(runtime.calls)


@router.delete("/calls", status_code=204)
async def clear_calls(runtime: RuntimeDep) -> Response:
    runtime.calls.clear()
    return Response(status_code=204)


@router.get("/properties")
async def get_properties(runtime: RuntimeDep) -> dict[str, str]:
    return dict(runtime.instance.properties)


@router.put("/properties")
async def put_properties(properties: dict[str, str], runtime: RuntimeDep) -> dict[str, str]:
    """Sets instance properties, e.g. {"glide.invalid_query.returns_no_rows": "true"}."""
    runtime.instance.properties.update(properties)
    runtime.save()
    return dict(runtime.instance.properties)


@router.get("/acls")
async def get_acls(runtime: RuntimeDep) -> Acls:
    return Acls(hidden=runtime.hidden, limit_before_acl=runtime.limit_before_acl)


@router.put("/acls")
async def put_acls(acls: Acls, runtime: RuntimeDep) -> Acls:
    for table in acls.hidden:
        if table not in TABLES:
            raise invalid_table(table)
    runtime.hidden = dict(acls.hidden)
    runtime.limit_before_acl = acls.limit_before_acl
    return acls


@router.post("/tokens/expire")
async def expire_tokens(runtime: RuntimeDep, request: ExpireRequest | None = None) -> dict[str, int]:
    """Expires every OAuth access token now (and the refresh tokens with `{"refresh": true}`)."""
    return {"expired": runtime.tokens.expire(refresh=request.refresh if request else False)}


@router.get("/tables/{table}/count")
async def count(table: str, runtime: RuntimeDep, query: str = "") -> dict[str, int]:
    _table(table)
    rows = run(runtime.instance, table, parse(table, query), runtime.instance.rows(table).values())
    return {"count": len(rows)}


@router.get("/tables/{table}/{sys_id}")
async def raw_record(table: str, sys_id: str, runtime: RuntimeDep) -> dict[str, str]:
    """The stored row, every value as stored, without auth."""
    _table(table)
    row = runtime.instance.row(table, sys_id)
    if row is None:
        raise record_not_found()
    return row


@router.post("/tables/{table}/{sys_id}/ui-edit", status_code=204)
async def ui_edit(table: str, sys_id: str, edit: UiEdit, runtime: RuntimeDep) -> Response:
    """A person's change in the ServiceNow UI: the same rules as an API write, by `user_name`."""
    _table(table)
    row = runtime.instance.row(table, sys_id)
    if row is None:
        raise record_not_found()
    records.update(runtime.instance, table, row, edit.fields, _account(runtime, edit.user_name))
    runtime.save()
    return Response(status_code=204)


def _table(table: str) -> None:
    if table not in TABLES:
        raise invalid_table(table)


def _account(runtime: Runtime, user_name: str) -> Account:
    account = runtime.instance.account_by_name(user_name)
    if account is None:
        row = next((r for r in runtime.instance.rows("sys_user").values() if r["user_name"] == user_name), None)
        if row is None:
            raise ServiceNowError(400, f"unknown user {user_name!r}")
        return Account(row["sys_id"], user_name, "")
    return account


def _faults(runtime: Runtime) -> FaultMiddleware:
    assert runtime.faults is not None, "the middleware stack is built before any request is served"
    return runtime.faults
