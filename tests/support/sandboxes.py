"""The tests' one way to drive any sandbox's `/__sandbox__/` control plane (sandboxes/control.py):
the same routes and answers for Jira, ServiceNow and Rezolve, so no helper asks which one it talks to."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp

from ticketbridge.sandboxes.control import PREFIX
from ticketbridge.sandboxes.faults import SandboxTransport

#: The control plane answers whatever host it is asked under; the vendor surface is not involved.
BASE_URL = "http://sandbox.test"


async def control(app: ASGIApp, method: str, path: str, **kwargs: Any) -> Any:
    """`method` `/__sandbox__{path}` on the sandbox app, which must answer 2xx; its JSON, or None for a
    204. `kwargs` go to httpx (`json=`, `params=`)."""
    async with httpx.AsyncClient(transport=SandboxTransport(app), base_url=BASE_URL) as http:
        response = await http.request(method, f"{PREFIX}{path}", **kwargs)
    assert response.is_success, f"{method} {PREFIX}{path}: {response.status_code} {response.text}"
    return response.json() if response.content else None


async def reset(app: ASGIApp, *, seed_demo: bool | None = None) -> int:
    """Fresh vendor state, no call or fault counts; answers the number of work items."""
    body = {} if seed_demo is None else {"seed_demo": seed_demo}
    answer: dict[str, int] = await control(app, "POST", "/reset", json=body)
    return answer["issues"]


async def set_faults(app: ASGIApp, **config: Any) -> dict[str, int]:
    """Replaces the faults in force (none: all off); answers how many of each were injected until now."""
    injected: dict[str, int] = await control(app, "GET", "/faults/injected")
    await control(app, "PUT", "/faults", json=config)
    return injected


async def calls(app: ASGIApp) -> dict[str, int]:
    """Requests that reached each vendor operation, by the vendor's operation names."""
    counted: dict[str, int] = await control(app, "GET", "/calls")
    return counted


async def injected_faults(app: ASGIApp) -> dict[str, int]:
    found: dict[str, int] = await control(app, "GET", "/faults/injected")
    return found


async def catch_up_search(app: ASGIApp) -> None:
    """Lets a lagging search index catch up with every write made so far, as waiting out the lag
    would (instantly): the lag drops to 0, which makes earlier writes searchable, and is restored, so
    later writes lag as before. Never a substitute for a lag of 0 set before the test."""
    lag = await control(app, "GET", "/consistency")
    await control(app, "PUT", "/consistency", json={"search_lag_ms": 0})
    await control(app, "PUT", "/consistency", json=lag)
