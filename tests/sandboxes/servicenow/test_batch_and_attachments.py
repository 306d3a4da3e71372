"""The Batch API and the Attachment API."""

from __future__ import annotations

import base64
import json

import httpx

from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.sandboxes.servicenow import DEMO_PASSWORD, DEMO_USERNAME, ServiceNowSandboxConfig, create_app

from .conftest import BASE_URL


def _b64(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


async def test_batch_runs_each_item(client: httpx.AsyncClient) -> None:
    body = {
        "batch_request_id": "7",
        "rest_requests": [
            {
                "id": "a",
                "method": "POST",
                "url": "/api/now/table/incident",
                "headers": [{"name": "Content-Type", "value": "application/json"}],
                "body": _b64({"short_description": "from a batch"}),
            },
            {
                "id": "b",
                "method": "GET",
                "url": "/api/now/table/incident?sysparm_limit=1",
                "exclude_response_headers": True,
            },
            {"id": "c", "method": "GET", "url": "/api/now/table/incident/0123456789abcdef0123456789abcdef"},
        ],
    }

    response = await client.post("/api/now/v1/batch", json=body)
    answer = response.json()
    by_id = {item["id"]: item for item in answer["serviced_requests"]}
    calls = (await client.get("/__sandbox__/calls")).json()

    assert response.status_code == 200
    assert answer["batch_request_id"] == "7" and answer["unserviced_requests"] == []
    assert by_id["a"]["status_code"] == 201 and by_id["a"]["status_text"] == "Created"
    created = json.loads(base64.b64decode(by_id["a"]["body"]))["result"]
    assert created["short_description"] == "from a batch"
    assert {"name": "location", "value": f"{BASE_URL}/api/now/table/incident/{created['sys_id']}"} in by_id["a"][
        "headers"
    ]
    assert by_id["b"]["headers"] == [] and by_id["b"]["status_code"] == 200
    assert by_id["c"]["status_code"] == 404
    assert calls["batch.POST"] == 1 and calls["table.incident.POST"] == 1 and calls["table.incident.GET"] == 2


async def test_items_beyond_the_transaction_quota_are_unserviced(sandbox_config: ServiceNowSandboxConfig) -> None:
    app = create_app(sandbox_config.model_copy(update={"batch_timeout_seconds": 0}))
    body = {"batch_request_id": "1", "rest_requests": [{"id": "x", "method": "GET", "url": "/api/now/table/incident"}]}

    async with httpx.AsyncClient(
        transport=SandboxTransport(app), base_url=BASE_URL, auth=(DEMO_USERNAME, DEMO_PASSWORD)
    ) as client:
        answer = (await client.post("/api/now/v1/batch", json=body)).json()

    assert answer["serviced_requests"] == [] and answer["unserviced_requests"] == ["x"]


async def test_a_batch_without_requests_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/now/v1/batch", json={"batch_request_id": "1"})

    assert response.status_code == 400 and response.json()["status"] == "failure"


async def test_attachment_round_trip(client: httpx.AsyncClient) -> None:
    incident = (await client.get("/api/now/table/incident", params={"sysparm_limit": 1})).json()["result"][0]

    uploaded = await client.post(
        "/api/now/attachment/file",
        params={"table_name": "incident", "table_sys_id": incident["sys_id"], "file_name": "log.txt"},
        content=b"hello world",
        headers={"Content-Type": "text/plain"},
    )
    meta = uploaded.json()["result"]
    listed = await client.get("/api/now/attachment", params={"sysparm_query": f"table_sys_id={incident['sys_id']}"})
    downloaded = await client.get(f"/api/now/attachment/{meta['sys_id']}/file")
    deleted = await client.delete(f"/api/now/attachment/{meta['sys_id']}")
    gone = await client.get(f"/api/now/attachment/{meta['sys_id']}")

    assert uploaded.status_code == 201
    assert uploaded.headers["location"] == f"{BASE_URL}/api/now/attachment/{meta['sys_id']}"
    assert meta["size_bytes"] == "11" and meta["content_type"] == "text/plain"
    assert meta["download_link"] == f"{BASE_URL}/api/now/attachment/{meta['sys_id']}/file"
    assert [a["file_name"] for a in listed.json()["result"]] == ["log.txt"]
    assert listed.headers["x-total-count"] == "1"
    assert downloaded.content == b"hello world" and downloaded.headers["content-type"].startswith("text/plain")
    assert json.loads(downloaded.headers["x-attachment-metadata"])["file_name"] == "log.txt"
    assert deleted.status_code == 204 and gone.status_code == 404


async def test_attachment_upload_errors(client: httpx.AsyncClient) -> None:
    missing = await client.post("/api/now/attachment/file", params={"table_name": "incident"}, content=b"x")
    no_record = await client.post(
        "/api/now/v1/attachment/file",
        params={"table_name": "incident", "table_sys_id": "0" * 32, "file_name": "a.txt"},
        content=b"x",
    )

    assert missing.status_code == 400
    assert no_record.status_code == 404
