"""Builders shared by the Jira sandbox tests."""

from __future__ import annotations

from typing import Any

import httpx

API = "/rest/api/3"


def adf(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


def issue_fields(summary: str = "Printer on fire", project: str = "DEMO", **overrides: Any) -> dict[str, Any]:
    return {"project": {"key": project}, "issuetype": {"id": "10001"}, "summary": summary} | overrides


async def create_issue(client: httpx.AsyncClient, **fields: Any) -> str:
    response = await client.post(f"{API}/issue", json={"fields": issue_fields(**fields)})
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def status_of(client: httpx.AsyncClient, key: str) -> str:
    response = await client.get(f"{API}/issue/{key}", params={"fields": "status"})
    assert response.status_code == 200, response.text
    name: str = response.json()["fields"]["status"]["name"]
    return name
