"""Table API: `/api/now/table/{table}` and its versioned forms `/api/now/v1/...` and `/api/now/v2/...`.

The unversioned path is the latest version (v2). The one documented difference: a valid list query
that returns nothing is 200 `{"result": []}` in v2 and 404 "No Record found" in v1.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ticketbridge.sandboxes.servicenow import acl, records
from ticketbridge.sandboxes.servicenow.errors import (
    ServiceNowJSONResponse,
    invalid_table,
    query_not_found,
    record_not_found,
)
from ticketbridge.sandboxes.servicenow.query import column_at, parse, run
from ticketbridge.sandboxes.servicenow.render import Renderer, display_mode, field_list, is_true
from ticketbridge.sandboxes.servicenow.routes.body import DEFAULT_LIMIT, caller, int_param, json_object, link_header
from ticketbridge.sandboxes.servicenow.routing import ServiceNowRoute
from ticketbridge.sandboxes.servicenow.runtime import Runtime
from ticketbridge.sandboxes.servicenow.schema import TABLES
from ticketbridge.sandboxes.servicenow.state import Row

PREFIXES = ("/api/now/table", "/api/now/v1/table", "/api/now/v2/table")
router = APIRouter(route_class=ServiceNowRoute)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _table(table: str) -> str:
    if table not in TABLES:
        raise invalid_table(table)
    return table


def _renderer(request: Request) -> Renderer:
    params = request.query_params
    return Renderer(
        _runtime(request).instance,
        _runtime(request).base,
        display=display_mode(params.get("sysparm_display_value")),
        exclude_links=is_true(params.get("sysparm_exclude_reference_link")),
    )


def _readable_row(request: Request, table: str, sys_id: str) -> Row:
    runtime = _runtime(request)
    row = runtime.instance.row(table, sys_id)
    if row is None or not acl.can_read(runtime, caller(request), table, row):
        raise record_not_found()
    return row


def _query_text(request: Request, table: str) -> str:
    """sysparm_query, or the `name=value` pairs that may stand in for it (display values allowed)."""
    params = request.query_params
    if "sysparm_query" in params:
        return params["sysparm_query"]
    terms = []
    instance = _runtime(request).instance
    for name, value in params.items():
        column = column_at(table, name) if not name.startswith("sysparm_") else None
        if column is None:
            continue
        if column.choice:
            value = records.choice_value(instance, table, name, value) or value
        elif column.internal_type == "reference" and column.reference:
            value = records.reference_value(instance, column.reference, value) or value
        terms.append(f"{name}={value}")
    return "^".join(terms)


async def list_records(request: Request, table: str) -> Response:
    runtime, account = _runtime(request), caller(request)
    _table(table)
    params = request.query_params
    limit = int_param(request, "sysparm_limit", DEFAULT_LIMIT)
    offset = int_param(request, "sysparm_offset", 0)
    text = _query_text(request, table)
    business_rule = acl.query_filter(account, table)
    query = parse(table, text)
    rule = parse(table, business_rule)
    rows = run(runtime.instance, table, query, runtime.instance.rows(table).values())
    if rule.groups:
        rows = run(runtime.instance, table, rule, rows)
    if table == "sys_attachment":
        rows = [r for r in rows if acl.can_read(runtime, account, table, r)]
    if runtime.limit_before_acl:
        total = len(rows)
        page = [r for r in rows[offset : offset + limit] if acl.passes_acl(runtime, account, table, r)]
    else:
        rows = [r for r in rows if acl.passes_acl(runtime, account, table, r)]
        total = len(rows)
        page = rows[offset : offset + limit]
    if not page and "/v1/" in request.url.path:
        raise query_not_found()
    renderer, fields = _renderer(request), field_list(params.get("sysparm_fields"))
    headers = {"X-Total-Count": str(total)}
    if not is_true(params.get("sysparm_suppress_pagination_header")):
        url = runtime.base + request.url.path
        headers["Link"] = link_header(url, dict(params), offset=offset, limit=limit, total=total)
    result = [renderer.row(table, r, fields) for r in page]
    return ServiceNowJSONResponse({"result": result}, headers=headers)


async def get_record(request: Request, table: str, sys_id: str) -> Response:
    _table(table)
    row = _readable_row(request, table, sys_id)
    result = _renderer(request).row(table, row, field_list(request.query_params.get("sysparm_fields")))
    return ServiceNowJSONResponse({"result": result})


async def create_record(request: Request, table: str) -> Response:
    runtime, account = _runtime(request), caller(request)
    _table(table)
    body = await json_object(request)
    acl.check_write(account, table, "POST")
    row = records.insert(
        runtime.instance,
        table,
        body,
        account,
        display_input=is_true(request.query_params.get("sysparm_input_display_value")),
        hold_reason_required=runtime.config.hold_reason_required,
    )
    headers = {"Location": f"{runtime.base}/api/now/table/{table}/{row['sys_id']}"}
    return _written(request, table, row, 201, headers)


async def update_record(request: Request, table: str, sys_id: str) -> Response:
    runtime, account = _runtime(request), caller(request)
    _table(table)
    body = await json_object(request)
    row = _readable_row(request, table, sys_id)
    acl.check_write(account, table, request.method)
    updated = records.update(
        runtime.instance,
        table,
        row,
        body,
        account,
        display_input=is_true(request.query_params.get("sysparm_input_display_value")),
        hold_reason_required=runtime.config.hold_reason_required,
    )
    return _written(request, table, updated, 200, {})


async def delete_record(request: Request, table: str, sys_id: str) -> Response:
    runtime, account = _runtime(request), caller(request)
    _table(table)
    _readable_row(request, table, sys_id)
    acl.check_write(account, table, "DELETE")
    records.delete(runtime.instance, table, sys_id)
    return Response(status_code=204)


def _written(request: Request, table: str, row: Row, status: int, headers: dict[str, str]) -> Response:
    if is_true(request.headers.get("x-no-response-body")):
        return Response(status_code=status, headers=headers)
    result: dict[str, Any] = _renderer(request).row(table, row, field_list(request.query_params.get("sysparm_fields")))
    return ServiceNowJSONResponse({"result": result}, status_code=status, headers=headers)


for prefix in PREFIXES:
    router.add_api_route(prefix + "/{table}", list_records, methods=["GET"], name="table")
    router.add_api_route(prefix + "/{table}", create_record, methods=["POST"], name="table")
    router.add_api_route(prefix + "/{table}/{sys_id}", get_record, methods=["GET"], name="table")
    router.add_api_route(prefix + "/{table}/{sys_id}", update_record, methods=["PUT", "PATCH"], name="table")
    router.add_api_route(prefix + "/{table}/{sys_id}", delete_record, methods=["DELETE"], name="table")
