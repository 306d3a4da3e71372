"""Routing vendor traffic to in-process sandboxes: one httpx transport, one sandbox per host."""

from __future__ import annotations

import httpx

from ticketbridge.sandboxes.faults import SandboxTransport

JIRA_URL = "http://jira.test"
REZOLVE_URL = "http://rezolve.test"
SERVICENOW_URL = "http://servicenow.test"


class SandboxRouter(httpx.AsyncBaseTransport):
    """Sends each request to the sandbox serving its host, as DNS would."""

    def __init__(self, sandboxes: dict[str, SandboxTransport]) -> None:
        self._sandboxes = sandboxes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        sandbox = self._sandboxes.get(request.url.host)
        if sandbox is None:
            raise httpx.ConnectError(f"no sandbox serves {request.url.host}", request=request)
        return await sandbox.handle_async_request(request)
