"""A thin client of Rezolve.ai's ticketing v2 API and its Keycloak token endpoint: one method per
endpoint. Reference: https://docs.rezolve.ai/docs/api-reference/ticketing/ (the update page is our
seed; the shapes it leaves open follow /work/shared/reference/rezolve-api.md §4).

Every ticketing call carries the seed's headers (bearer token, `x-tenantid`, `realmname`) and, where
Rezolve requires it, `type`/`module`. Every response is classified exactly once, in `classify`, by
the rules every vendor shares (`connectors.responses`) with Rezolve's bodies and codes (`ERRORS`):

    400 ETAG_MISMATCH             EtagMismatch (internal: the connector re-reads and decides)
    400 INPUT_VALIDATION_FAILURE  VendorRejected, field_errors keyed by field UUID
    401 USER_PERMISSION_FAILURE   VendorAuthError: the service account lacks the scope or realm role;
                                  a new token carries the same roles, so it is neither refreshed nor
                                  retried, and the connection needs new credentials or roles
    401 other                     the token is refreshed and the call sent once more; a second 401
                                  is VendorAuthError
    404 "Tenant not found"        VendorAuthError: x-tenantid and the token's tenant disagree, a
                                  configuration problem, never a missing ticket
    404 other                     VendorNotFound
    422 INVALID_FILTER, other 4xx VendorRejected
    429, 5xx                      VendorRetriable with Retry-After
    no connection                 VendorRetriable (nothing was sent)
    timeout, dropped connection   VendorOutcomeUnknown on writes, VendorRetriable on reads
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from ticketbridge.connectors import responses
from ticketbridge.connectors.errors import VendorAuthError, VendorRetriable
from ticketbridge.connectors.paths import KeyKind, segment
from ticketbridge.connectors.responses import ErrorDialect, send
from ticketbridge.connectors.rezolve.tokens import Token, TokenCache

Json = dict[str, Any]
API = "/api/v2/ticketing"
#: The seed's required query on ticketing calls; `type=agent` on user/list keeps assignable users.
TEMPLATE = {"type": "template", "module": "ticketing"}
#: Rezolve's cap on `top` for ticket/list and `$top` for ticket-type.
MAX_PAGE_SIZE = 100
PERMISSION_FAILURE = "USER_PERMISSION_FAILURE"
#: Path keys as Rezolve forms them: team slugs (`james`), ticket type ids (`16910`), display IDs
#: (`REQ-0509`, a type prefix and a sequence).
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
TEAM_KEY = KeyKind("Rezolve team key", "project_vendor_id", _SLUG)
TICKET_TYPE_ID = KeyKind("Rezolve ticket type id", "type_vendor_id", _SLUG)
OBJECT_ID = KeyKind(
    "Rezolve display ID (e.g. REQ-0509)", "parent_ticket_vendor_id", re.compile(r"[A-Za-z][A-Za-z0-9_]*-[0-9]+")
)


class EtagMismatch(Exception):
    """400 ETAG_MISMATCH: the ticket changed since the etag sent was read. Nothing was written.
    Never leaves the connector, which re-reads and either re-applies or raises VersionConflict."""


class RezolveClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        tenant_id: str,
        realm: str,
        token_url: str,
        client_id: str,
        client_secret: str,
        tokens: TokenCache,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._tokens = tokens
        self._headers = {"x-tenantid": tenant_id, "realmname": realm, "issupportrequest": "false"}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request_token(self) -> Token:
        """POST {auth}/auth/realms/{realm}/protocol/openid-connect/token (Keycloak client credentials).
        Keycloak answers bad credentials with 401 `invalid_client` and an unknown realm with 404."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        try:
            response = await self._http.post(self._token_url, data=form)
        except httpx.TransportError as exc:
            raise VendorRetriable(f"Rezolve's token endpoint is unreachable: {type(exc).__name__}") from exc
        if response.status_code in (400, 401, 403, 404):
            raise VendorAuthError(
                f"Rezolve refused the client credentials: {error_message(response)}",
                status_code=response.status_code,
            )
        body = responses.body_of(classify(response))
        return Token(value=str(body["access_token"]), expires_in_seconds=float(body.get("expires_in") or 60))

    async def list_ticket_types(self, *, top: int, skip: int) -> Json:
        """GET /ticket-type: OData paging; `data.value[]` with fields and workflow, `@odata.count`."""
        params = {**TEMPLATE, "$top": top, "$skip": skip}
        return await self._json("GET", f"{API}/ticket-type", params=params)

    async def tenant_meta(self) -> Json:
        """GET /tenant/meta: the tenant's teams, statuses and priorities."""
        return await self._json("GET", f"{API}/tenant/meta", params=TEMPLATE)

    async def list_users(self, *, catalog: str, team: str | None = None) -> Json:
        """GET /user/list: `catalog="agent"` lists assignable users, `"user"` every user."""
        params = {"type": catalog, "module": "ticketing", **({"team": team} if team else {})}
        return await self._json("GET", f"{API}/user/list", params=params)

    async def create_ticket(self, team_key: str, ticket_type_id: str, body: Json) -> Json:
        """POST /ticket/create/{teamId}/{itemTypeId}: answers `{id, objectId, etag}`."""
        path = f"{API}/ticket/create/{segment(team_key, TEAM_KEY)}/{segment(ticket_type_id, TICKET_TYPE_ID)}"
        return await self._json("POST", path, params=TEMPLATE, json=body, write=True)

    async def get_ticket(self, object_id: str) -> Json:
        """GET /ticket/{objectId}: by display ID only (an internal UUID is 404); etag at the top level."""
        return await self._json("GET", f"{API}/ticket/{segment(object_id, OBJECT_ID)}", params=TEMPLATE)

    async def list_tickets(self, body: Json) -> Json:
        """POST /ticket/list: `search`, `filter`, `sort`, `searchOrder`, offset paging (`top` ≤ 100).
        A POST, but a read: a lost answer is simply asked again."""
        return await self._json("POST", f"{API}/ticket/list", params=TEMPLATE, json=body)

    async def update_ticket(self, object_id: str, etag: str, ticket_update: Json) -> str:
        """PATCH /ticket/{objectId}/update (the seed): a shallow merge guarded by `etag`; returns the
        new etag. Raises EtagMismatch when the ticket changed since `etag`."""
        body = await self._json(
            "PATCH",
            f"{API}/ticket/{segment(object_id, OBJECT_ID)}/update",
            params=TEMPLATE,
            json={"etag": etag, "ticketUpdate": ticket_update},
            write=True,
        )
        return str(body["etag"])

    async def _json(self, method: str, url: str, *, write: bool = False, **kwargs: Any) -> Json:
        response = await self._send(method, url, write=write, **kwargs)
        body: Json = responses.body_of(response)
        return body

    async def _send(self, method: str, url: str, *, write: bool, **kwargs: Any) -> httpx.Response:
        token = await self._tokens.token(self.request_token)
        response = await self._request(method, url, token, write=write, **kwargs)
        if response.status_code == 401 and error_code(response) != PERMISSION_FAILURE:
            # Revoked, expired early, or signed with a key the server has rotated: one new token.
            # A 401 means the call was refused before anything was written, so resending is safe.
            token = await self._tokens.token(self.request_token, rejected=token)
            response = await self._request(method, url, token, write=write, **kwargs)
        return classify(response)

    async def _request(self, method: str, url: str, token: str, *, write: bool, **kwargs: Any) -> httpx.Response:
        headers = {**self._headers, "authorization": f"Bearer {token}"}
        return await send(self._http, method, url, vendor="Rezolve", write=write, headers=headers, **kwargs)


def classify(response: httpx.Response) -> httpx.Response:
    """Returns a successful response; raises the matching error (see the module docstring)."""
    return responses.classify(response, ERRORS)


def _special(response: httpx.Response, message: str) -> None:
    """The answers whose meaning is Rezolve's own (the module docstring's table)."""
    status, code = response.status_code, error_code(response)
    if status == 400 and code == "ETAG_MISMATCH":
        raise EtagMismatch(message)
    if status == 401:
        raise VendorAuthError(f"Rezolve refused the call ({code or 'UNAUTHORIZED'}): {message}", status_code=status)
    if status == 404 and message.startswith("Tenant not found"):
        raise VendorAuthError(f"Rezolve does not know this tenant for these credentials: {message}", status_code=status)


def _body(response: httpx.Response) -> Json:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _nested_error(body: Json) -> Json:
    """The generic envelope of Rezolve's other reference pages puts the error under `error`."""
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def error_code(response: httpx.Response) -> str | None:
    body = _body(response)
    code = body.get("code") or _nested_error(body).get("code")
    return str(code) if code else None


def error_message(response: httpx.Response) -> str:
    body = _body(response)
    message = (
        body.get("message")
        or _nested_error(body).get("message")
        or body.get("error_description")
        or (body.get("error") if isinstance(body.get("error"), str) else None)
    )
    return str(message) if message else f"HTTP {response.status_code}"


def validation_reasons(response: httpx.Response) -> dict[str, str]:
    """`validationResult.reason`, wherever the envelope puts it: {field UUID or key: message}."""
    body = _body(response)
    nested = _nested_error(body)
    details: Json = nested["details"] if isinstance(nested.get("details"), dict) else {}
    for holder in (body, nested, details):
        result = holder.get("validationResult")
        if isinstance(result, dict) and isinstance(result.get("reason"), dict):
            return {str(key): str(value) for key, value in result["reason"].items()}
    return {}


ERRORS = ErrorDialect(vendor="Rezolve", message=error_message, field_errors=validation_reasons, special=_special)


ERRORS = ErrorDialect(vendor="Rezolve", message=error_message, field_errors=validation_reasons, special=_special)
