"""Request-side helpers shared by the routes: the caller, the JSON body, the list parameters."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from ticketbridge.sandboxes.servicenow.errors import ServiceNowError, bad_payload
from ticketbridge.sandboxes.servicenow.state import Account

DEFAULT_LIMIT = 10000


def caller(request: Request) -> Account:
    account: Account = request.state.account
    return account


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise bad_payload() from None
    if not isinstance(body, dict):
        raise bad_payload()
    return body


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ServiceNowError(400, f"Invalid value for {name}: {raw}") from None
    if value < 0:
        raise ServiceNowError(400, f"Invalid value for {name}: {raw}")
    return value


def link_header(url: str, params: dict[str, str], *, offset: int, limit: int, total: int) -> str:
    """The Link header of a page: first, prev (when not first), next (when more rows), last."""
    last = max(0, (total - 1) // limit * limit) if limit else 0

    def at(position: int) -> str:
        query = dict(params) | {"sysparm_offset": str(position), "sysparm_limit": str(limit)}
        return f"<{url}?{urlencode(query)}>"

    links = [f'{at(0)};rel="first"']
    if offset > 0:
        links.append(f'{at(max(0, offset - limit))};rel="prev"')
    if limit and offset + limit < total:
        links.append(f'{at(offset + limit)};rel="next"')
    links.append(f'{at(last)};rel="last"')
    return ",".join(links)
