"""Attachment API: upload (`POST /api/now/attachment/file?table_name&table_sys_id&file_name`, the raw
bytes as body), list (`GET /api/now/attachment`, an encoded query over sys_attachment), metadata,
download (`/{sys_id}/file`) and delete; each with its `/api/now/v1/...` form."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from ticketbridge.sandboxes.servicenow import acl
from ticketbridge.sandboxes.servicenow.errors import ServiceNowError, ServiceNowJSONResponse, record_not_found
from ticketbridge.sandboxes.servicenow.query import parse, run
from ticketbridge.sandboxes.servicenow.render import Renderer
from ticketbridge.sandboxes.servicenow.routes.body import DEFAULT_LIMIT, caller, int_param
from ticketbridge.sandboxes.servicenow.routing import ServiceNowRoute
from ticketbridge.sandboxes.servicenow.runtime import Runtime
from ticketbridge.sandboxes.servicenow.schema import TABLES
from ticketbridge.sandboxes.servicenow.state import Row, new_sys_id, now_text

router = APIRouter(route_class=ServiceNowRoute)


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def metadata(runtime: Runtime, row: Row) -> dict[str, Any]:
    result = Renderer(runtime.instance, runtime.base).row("sys_attachment", row)
    users = {u["user_name"]: u["name"] for u in runtime.instance.rows("sys_user").values()}
    return result | {
        "download_link": f"{runtime.base}/api/now/attachment/{row['sys_id']}/file",
        "average_image_color": "",
        "image_height": "",
        "image_width": "",
        "sys_tags": "",
        "created_by_name": users.get(row["sys_created_by"], row["sys_created_by"]),
        "updated_by_name": users.get(row["sys_updated_by"], row["sys_updated_by"]),
    }


def _attachment(request: Request, sys_id: str) -> Row:
    runtime = _runtime(request)
    row = runtime.instance.row("sys_attachment", sys_id)
    if row is None or not acl.can_read(runtime, caller(request), "sys_attachment", row):
        raise record_not_found()
    return row


async def upload(request: Request) -> Response:
    runtime, account = _runtime(request), caller(request)
    params = request.query_params
    missing = [n for n in ("table_name", "table_sys_id", "file_name") if not params.get(n)]
    if missing:
        raise ServiceNowError(400, "Failed to create the attachment", f"Missing parameter(s): {', '.join(missing)}")
    table, parent_id = params["table_name"], params["table_sys_id"]
    parent = runtime.instance.row(table, parent_id) if table in TABLES else None
    if parent is None or not acl.can_read(runtime, account, table, parent):
        raise record_not_found()
    content = await request.body()
    now, sys_id = now_text(), new_sys_id()
    row = {
        "sys_id": sys_id,
        "file_name": params["file_name"],
        "table_name": table,
        "table_sys_id": parent_id,
        "content_type": request.headers.get("content-type", "application/octet-stream"),
        "size_bytes": str(len(content)),
        "size_compressed": str(len(content)),
        "compressed": "true",
        "sys_created_on": now,
        "sys_created_by": account.user_name,
        "sys_updated_on": now,
        "sys_updated_by": account.user_name,
        "sys_mod_count": "0",
    }
    runtime.instance.rows("sys_attachment")[sys_id] = row
    runtime.instance.files[sys_id] = content
    headers = {"Location": f"{runtime.base}/api/now/attachment/{sys_id}"}
    return ServiceNowJSONResponse({"result": metadata(runtime, row)}, status_code=201, headers=headers)


async def list_attachments(request: Request) -> Response:
    runtime, account = _runtime(request), caller(request)
    limit = int_param(request, "sysparm_limit", DEFAULT_LIMIT)
    offset = int_param(request, "sysparm_offset", 0)
    query = parse("sys_attachment", request.query_params.get("sysparm_query", ""))
    rows = run(runtime.instance, "sys_attachment", query, runtime.instance.rows("sys_attachment").values())
    rows = [r for r in rows if acl.can_read(runtime, account, "sys_attachment", r)]
    page = [metadata(runtime, r) for r in rows[offset : offset + limit]]
    return ServiceNowJSONResponse({"result": page}, headers={"X-Total-Count": str(len(rows))})


async def get_attachment(request: Request, sys_id: str) -> Response:
    return ServiceNowJSONResponse({"result": metadata(_runtime(request), _attachment(request, sys_id))})


async def download(request: Request, sys_id: str) -> Response:
    runtime = _runtime(request)
    row = _attachment(request, sys_id)
    headers = {"X-Attachment-Metadata": json.dumps(metadata(runtime, row))}
    content = runtime.instance.files.get(sys_id, b"")
    return Response(content, media_type=row["content_type"] or "application/octet-stream", headers=headers)


async def delete_attachment(request: Request, sys_id: str) -> Response:
    runtime = _runtime(request)
    row = _attachment(request, sys_id)
    parent = runtime.instance.row(row["table_name"], row["table_sys_id"])
    if parent is not None:
        acl.check_write(caller(request), row["table_name"], "PATCH")
    runtime.instance.rows("sys_attachment").pop(sys_id, None)
    runtime.instance.files.pop(sys_id, None)
    return Response(status_code=204)


for prefix in ("/api/now/attachment", "/api/now/v1/attachment"):
    router.add_api_route(prefix + "/file", upload, methods=["POST"], name="attachment")
    router.add_api_route(prefix, list_attachments, methods=["GET"], name="attachment")
    router.add_api_route(prefix + "/{sys_id}", get_attachment, methods=["GET"], name="attachment")
    router.add_api_route(prefix + "/{sys_id}/file", download, methods=["GET"], name="attachment")
    router.add_api_route(prefix + "/{sys_id}", delete_attachment, methods=["DELETE"], name="attachment")
