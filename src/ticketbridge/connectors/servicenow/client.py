"""A thin client of ServiceNow's Table API, Batch API and OAuth token endpoint: one method per endpoint.
References: the Table API (`/api/now/table/{tableName}`), the Batch API (`/api/now/v1/batch`) and
`/oauth_token.do` in ServiceNow's REST API reference (ServiceNow/ServiceNowDocs, api-reference/rest-apis).

Reads ask for database values (`sysparm_display_value=false`) without reference links, so a
reference is its sys_id and a choice its value; labels come from sys_choice (`connector.py`).
Every response is classified exactly once, in `classify`, by the rules every vendor shares
(`connectors.responses`) with ServiceNow's error envelope `{"error": {"message", "detail"}, "status":
"failure"}` (`ERRORS`):

    401                           VendorAuthError (OAuth: the token is refreshed and the call sent
                                  once more first; a 401 refused the call, so resending is safe)
    403                           VendorRejected: an ACL refuses the operation
    404                           VendorNotFound
    429                           VendorRetriable with Retry-After (a batch item's 429 comes in its
                                  answer, with its headers: `BatchAnswer.retry_after`)
    5xx                           VendorRetriable on reads; on writes VendorOutcomeUnknown, since a
                                  business rule may fail after the insert committed
    other 4xx                     VendorRejected
    no connection                 VendorRetriable (nothing was sent)
    timeout, dropped connection   VendorOutcomeUnknown on writes, VendorRetriable on reads
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from ticketbridge.connectors import responses
from ticketbridge.connectors.errors import VendorAuthError, VendorOutcomeUnknown, VendorRejected, VendorRetriable
from ticketbridge.connectors.pacing import reset_seconds, retry_after_seconds
from ticketbridge.connectors.paths import KeyKind, segment
from ticketbridge.connectors.responses import ErrorDialect, send
from ticketbridge.connectors.servicenow.tokens import Token, TokenCache

Json = dict[str, Any]
TABLE_API = "/api/now/table"
BATCH_API = "/api/now/v1/batch"
TOKEN_PATH = "/oauth_token.do"
#: Table names are lower-case identifiers (`incident`, `sys_user_group`, `u_custom`).
TABLE = KeyKind("ServiceNow table name", "table", re.compile(r"[a-z][a-z0-9_]*"), max_length=80)
#: A sys_id is 32 hexadecimal digits.
SYS_ID = KeyKind("ServiceNow sys_id", "vendor_id", re.compile(r"[0-9a-f]{32}"))
#: Every read: database values, no reference links (a reference is its sys_id).
READ_PARAMS = {"sysparm_display_value": "false", "sysparm_exclude_reference_link": "true"}


@dataclass(frozen=True, slots=True)
class Records:
    """One page of a table read: the rows and X-Total-Count (None when the instance sent none)."""

    rows: list[Json]
    total: int | None


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One request of a batch: `id` echoes back in `serviced_requests` or `unserviced_requests`."""

    id: str
    method: str
    url: str
    body: Json | None = None


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    """One serviced request: its status and decoded JSON body ({} when it had none or not JSON)."""

    status_code: int
    body: Json
    error_message: str | None = None
    #: A 429's wait in seconds: its Retry-After, else until its X-RateLimit-Reset (None: not said).
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    serviced: dict[str, BatchAnswer]
    #: Requests the instance did not process (a size or time limit): nothing of them was written.
    unserviced: list[str]


class ServiceNowClient:
    def __init__(self, http: httpx.AsyncClient, *, oauth: OAuthGrant | None, tokens: TokenCache | None) -> None:
        self._http = http
        self._oauth = oauth
        self._tokens = tokens

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request_token(self, refresh_token: str | None = None) -> Token:
        """POST /oauth_token.do: the password grant, or the refresh_token grant when a refresh token
        is given. ServiceNow answers bad credentials (or an expired refresh token) with 401
        `access_denied`, a malformed request with 400."""
        assert self._oauth is not None
        grant = self._oauth
        form = {"client_id": grant.client_id, "client_secret": grant.client_secret}
        if refresh_token is not None:
            form |= {"grant_type": "refresh_token", "refresh_token": refresh_token}
        else:
            form |= {"grant_type": "password", "username": grant.username, "password": grant.password}
        try:
            response = await self._http.post(TOKEN_PATH, data=form)
        except httpx.TransportError as exc:
            raise VendorRetriable(f"ServiceNow's token endpoint did not answer: {type(exc).__name__}") from exc
        if response.status_code in (400, 401, 403):
            raise VendorAuthError(
                f"ServiceNow refused the OAuth credentials: {error_message(response)}", status_code=response.status_code
            )
        body = _body(classify(response))
        return Token(
            value=str(body["access_token"]),
            refresh_token=str(body["refresh_token"]) if body.get("refresh_token") else None,
            expires_in_seconds=float(body.get("expires_in") or 1799),
        )

    async def list_records(
        self,
        table: str,
        *,
        query: str,
        limit: int,
        offset: int = 0,
        fields: Sequence[str] | None = None,
    ) -> Records:
        """GET /api/now/table/{tableName}: an encoded query, offset paging; `result` is a list."""
        params: Json = {**READ_PARAMS, "sysparm_query": query, "sysparm_limit": limit, "sysparm_offset": offset}
        if fields:
            params["sysparm_fields"] = ",".join(fields)
        response = await self._send("GET", f"{TABLE_API}/{segment(table, TABLE)}", params=params)
        rows = _body(response).get("result")
        total = response.headers.get("x-total-count")
        return Records(
            rows=[row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else [],
            total=int(total) if total and total.isdigit() else None,
        )

    async def get_record(self, table: str, sys_id: str) -> Json:
        """GET /api/now/table/{tableName}/{sys_id}: 404 when it does not exist (or an ACL hides it)."""
        path = f"{TABLE_API}/{segment(table, TABLE)}/{segment(sys_id, SYS_ID)}"
        return _result(await self._send("GET", path, params=READ_PARAMS))

    async def create_record(self, table: str, values: Json) -> Json:
        """POST /api/now/table/{tableName}: 201 with the record as inserted (business rules applied)."""
        path = f"{TABLE_API}/{segment(table, TABLE)}"
        return _result(await self._send("POST", path, params=READ_PARAMS, json=values, write=True), write=True)

    async def update_record(self, table: str, sys_id: str, values: Json) -> Json:
        """PATCH /api/now/table/{tableName}/{sys_id}: only the fields given; the record as updated."""
        path = f"{TABLE_API}/{segment(table, TABLE)}/{segment(sys_id, SYS_ID)}"
        return _result(await self._send("PATCH", path, params=READ_PARAMS, json=values, write=True), write=True)

    async def batch(self, batch_id: str, items: Sequence[BatchItem]) -> BatchResult:
        """POST /api/now/v1/batch: the items run one after another on the instance; bodies travel
        Base64-encoded both ways. Items the instance did not get to are `unserviced`."""
        requests = [
            {
                "id": item.id,
                "method": item.method,
                "url": item.url,
                # Kept for the 429s: an item over a rate-limit rule says in its headers when to resend.
                "exclude_response_headers": False,
                "headers": [
                    {"name": "Content-Type", "value": "application/json"},
                    {"name": "Accept", "value": "application/json"},
                ],
                **({"body": base64.b64encode(json.dumps(item.body).encode()).decode()} if item.body else {}),
            }
            for item in items
        ]
        response = await self._send(
            "POST", BATCH_API, json={"batch_request_id": batch_id, "rest_requests": requests}, write=True
        )
        body = _body(response)
        serviced: dict[str, BatchAnswer] = {}
        for answer in body.get("serviced_requests") or []:
            if isinstance(answer, dict) and answer.get("id") is not None:
                status_code = int(answer.get("status_code") or 0)
                serviced[str(answer["id"])] = BatchAnswer(
                    status_code=status_code,
                    body=_decoded(answer.get("body")),
                    error_message=str(answer["error_message"]) if answer.get("error_message") else None,
                    retry_after=_wait_of(answer.get("headers")) if status_code == 429 else None,
                )
        unserviced = [str(item) for item in body.get("unserviced_requests") or []]
        return BatchResult(serviced=serviced, unserviced=unserviced)

    async def _send(self, method: str, url: str, *, write: bool = False, **kwargs: Any) -> httpx.Response:
        if self._tokens is None:
            return classify(await self._request(method, url, None, write=write, **kwargs), write=write)
        token = await self._tokens.token(self.request_token)
        response = await self._request(method, url, token, write=write, **kwargs)
        if response.status_code == 401:
            # Expired early or revoked: one new token, then once more (a 401 wrote nothing).
            token = await self._tokens.token(self.request_token, rejected=token)
            response = await self._request(method, url, token, write=write, **kwargs)
        return classify(response, write=write)

    async def _request(self, method: str, url: str, token: str | None, *, write: bool, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token is not None else None
        return await send(self._http, method, url, vendor="ServiceNow", write=write, headers=headers, **kwargs)


@dataclass(frozen=True, slots=True)
class OAuthGrant:
    """What the password grant sends (the client's and the integration user's credentials)."""

    client_id: str
    client_secret: str
    username: str
    password: str


def classify(response: httpx.Response, *, write: bool = False) -> httpx.Response:
    """Returns a successful response; raises the matching error (see the module docstring)."""
    return responses.classify(response, ERRORS, write=write)


def _special(response: httpx.Response, message: str) -> None:
    if response.status_code == 403:
        raise VendorRejected(f"ServiceNow refused the operation: {message}", status_code=403)


def error_message(response: httpx.Response) -> str:
    """`error.message` and `error.detail` as one line (OAuth's `error_description` too)."""
    return envelope_message(_body(response)) or f"HTTP {response.status_code}"


def envelope_message(body: Json) -> str | None:
    error = body.get("error")
    if isinstance(error, dict):
        parts = [str(error[key]) for key in ("message", "detail") if error.get(key)]
        return ": ".join(parts) or None
    if body.get("error_description"):
        return str(body["error_description"])
    return str(error) if error else None


ERRORS = ErrorDialect(vendor="ServiceNow", message=error_message, special=_special, server_error_may_have_written=True)


def _body(response: httpx.Response) -> Json:
    try:
        body = responses.body_of(response)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _result(response: httpx.Response, *, write: bool = False) -> Json:
    result = _body(response).get("result")
    if not isinstance(result, dict):
        error = VendorOutcomeUnknown if write else VendorRetriable
        raise error("ServiceNow answered without a record in `result`.", status_code=response.status_code)
    return result


def _wait_of(headers: Any) -> float | None:
    """A batch item's Retry-After (seconds), else its X-RateLimit-Reset (a Unix time) as seconds from now."""
    pairs = [(str(h.get("name")), str(h.get("value"))) for h in headers or [] if isinstance(h, dict)]
    answer = httpx.Response(429, headers=pairs)
    wait = retry_after_seconds(answer)
    return wait if wait is not None else reset_seconds(answer)


def _decoded(encoded: Any) -> Json:
    if not encoded:
        return {}
    try:
        body = json.loads(base64.b64decode(str(encoded)))
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
