"""The ServiceNow sandbox's part of the `/__sandbox__/` control plane: `ServiceNowControls` (the reset
and seed format the shared router of sandboxes/control.py serves; ServiceNow has no search lag) and the
ServiceNow-only control routes: instance properties, ACL rules, token expiry, raw rows and UI edits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.sandboxes.control import PREFIX, Controls, seed_result
from ticketbridge.sandboxes.servicenow import records
from ticketbridge.sandboxes.servicenow.config import RateLimitConfig
from ticketbridge.sandboxes.servicenow.demo import DEMO_USERNAME, build_demo_instance
from ticketbridge.sandboxes.servicenow.errors import invalid_table, record_not_found
from ticketbridge.sandboxes.servicenow.query import parse, run
from ticketbridge.sandboxes.servicenow.runtime import Runtime, RuntimeDep
from ticketbridge.sandboxes.servicenow.schema import TABLES
from ticketbridge.sandboxes.servicenow.seeding import SeedRequest, account, seed

router = APIRouter(prefix=PREFIX)


class ServiceNowControls(Controls[SeedRequest, RateLimitConfig]):
    """The instance's reset and seed format (seeding.py); the shared plane serves the rest."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, seed_model=SeedRequest, rate_limit_model=RateLimitConfig)
        self.runtime = runtime

    def reset(self, seed_demo: bool) -> int:
        """Fresh instance, no tokens; the properties set through here and the ACL rules stay."""
        runtime = self.runtime
        properties = runtime.instance.properties
        runtime.instance = build_demo_instance(with_incidents=seed_demo)
        runtime.instance.properties = properties
        runtime.tokens.access.clear()
        runtime.tokens.refresh.clear()
        runtime.save()
        return len(runtime.instance.rows("incident"))

    def seed(self, request: SeedRequest) -> dict[str, Any]:
        runtime = self.runtime
        created = seed(runtime.instance, request, account(runtime.instance, DEMO_USERNAME))
        runtime.save()
        return seed_result([r["number"] for r in created], {"sys_ids": [r["sys_id"] for r in created]})


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
    records.update(runtime.instance, table, row, edit.fields, account(runtime.instance, edit.user_name))
    runtime.save()
    return Response(status_code=204)


def _table(table: str) -> None:
    if table not in TABLES:
        raise invalid_table(table)
