"""The raw JSON body of a request, with Jira's 400 when it does not parse (never FastAPI's 422)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request

from ticketbridge.sandboxes.jira.errors import JiraError


async def json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise JiraError(400, ["Unexpected character in the request body: it is not valid JSON."]) from None


BodyDep = Annotated[Any, Depends(json_body)]
