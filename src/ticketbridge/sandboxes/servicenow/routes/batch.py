"""Batch API: `POST /api/now/v1/batch` runs each item through the instance in turn, as its own REST call
(counted, rate-limited, ACL-checked) under the batch's credentials unless the item carries its own.

Bodies travel base64-encoded both ways. An item is left in `unserviced_requests` once the batch has run
`batch_timeout_seconds` (ServiceNow's 30 s transaction quota) or when its body exceeds
`batch_max_input_bytes` (glide.rest.batch.max.inputSize); a client resends those.
"""

from __future__ import annotations

import base64
import binascii
import time
from http import HTTPStatus
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response

from ticketbridge.sandboxes.servicenow.errors import ServiceNowError, ServiceNowJSONResponse
from ticketbridge.sandboxes.servicenow.routes.body import json_object
from ticketbridge.sandboxes.servicenow.routing import ServiceNowRoute
from ticketbridge.sandboxes.servicenow.runtime import Runtime

router = APIRouter(route_class=ServiceNowRoute)
#: Headers of an item that describe the outer transport, not the item.
HOP_HEADERS = frozenset({"content-length", "host", "connection", "transfer-encoding", "accept-encoding"})


async def batch(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    body = await json_object(request)
    items = body.get("rest_requests")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ServiceNowError(400, "Invalid batch request", "rest_requests is required and must be an array")
    for item in items:
        missing = [k for k in ("id", "method", "url") if not item.get(k)]
        if missing:
            raise ServiceNowError(400, "Invalid batch request", f"rest_requests item is missing {', '.join(missing)}")
    started = time.monotonic()
    serviced: list[dict[str, Any]] = []
    unserviced: list[str] = []
    assert runtime.inner is not None
    transport = httpx.ASGITransport(app=runtime.inner)
    async with httpx.AsyncClient(transport=transport, base_url=runtime.base) as client:
        for item in items:
            content = _decode(item.get("body"))
            if time.monotonic() - started >= runtime.config.batch_timeout_seconds or (
                len(content) > runtime.config.batch_max_input_bytes
            ):
                unserviced.append(str(item["id"]))
                continue
            serviced.append(await _run(client, request, item, content))
    answer = {
        "batch_request_id": str(body.get("batch_request_id", "")),
        "serviced_requests": serviced,
        "unserviced_requests": unserviced,
    }
    return ServiceNowJSONResponse(answer)


async def _run(client: httpx.AsyncClient, outer: Request, item: dict[str, Any], content: bytes) -> dict[str, Any]:
    headers = {
        str(h["name"]): str(h["value"])
        for h in item.get("headers") or []
        if isinstance(h, dict) and "name" in h and str(h["name"]).lower() not in HOP_HEADERS
    }
    if not any(name.lower() == "authorization" for name in headers) and "authorization" in outer.headers:
        headers["Authorization"] = outer.headers["authorization"]
    url = str(item["url"])
    if not url.startswith("/"):
        url = "/" + url
    began = time.monotonic()
    response = await client.request(str(item["method"]).upper(), url, headers=headers, content=content or None)
    answer: dict[str, Any] = {
        "id": str(item["id"]),
        "body": base64.b64encode(response.content).decode(),
        "status_code": response.status_code,
        "status_text": HTTPStatus(response.status_code).phrase,
        "headers": []
        if item.get("exclude_response_headers")
        else [{"name": k, "value": v} for k, v in response.headers.items()],
        "execution_time": round((time.monotonic() - began) * 1000),
    }
    if response.status_code >= 400:
        answer["error_message"] = response.reason_phrase
    return answer


def _decode(raw: Any) -> bytes:
    if not raw:
        return b""
    try:
        return base64.b64decode(str(raw), validate=False)
    except (binascii.Error, ValueError):
        raise ServiceNowError(400, "Invalid batch request", "rest_requests.body is not base64") from None


for path in ("/api/now/batch", "/api/now/v1/batch"):
    router.add_api_route(path, batch, methods=["POST"], name="batch")
