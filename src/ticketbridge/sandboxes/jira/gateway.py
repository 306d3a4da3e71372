"""The API gateway (api.atlassian.com/ex/jira/{cloudId}/...) in front of the sites this process serves.

- `/ex/jira/{cloudId}/rest/...` is served as `/rest/...` by the site with that cloudId: the sandbox's own
  or a hosted one. Any other cloudId, or a path outside `/rest/`, answers 404.
- A 3LO access token (one this sandbox's OAuth server issued) is checked here: expired, revoked, or not
  granted for this cloudId answers the gateway's 401 `{"code": 401, "message": "Unauthorized"}`.
  A valid one travels on as a `Principal` in the ASGI scope; `JiraRoute` then compares its scopes with
  the operation's `x-atlassian-oauth2-scopes` (401 "Unauthorized; scope does not match", the text
  Atlassian's gateway answers) and `current_user` acts as its account.
- Other credentials (API-token Basic, the demo's static Bearer token) pass through to the site, as
  scoped API tokens do on Atlassian's gateway.
- `/__sandbox__/sites/{cloudId}/...` reaches a hosted site's own control API.

The site URL itself never sees a principal: a 3LO token sent there is unknown to the site, hence 401
("Requests that use OAuth 2.0 (3LO) are made via api.atlassian.com").
"""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Receive, Scope, Send

from ticketbridge.sandboxes.jira.errors import JiraJSONResponse
from ticketbridge.sandboxes.jira.runtime import Runtime

GATEWAY = re.compile(r"^/ex/jira/(?P<cloud_id>[^/]+)(?P<rest>/.*)?$")
HOSTED_CONTROL = re.compile(r"^/__sandbox__/sites/(?P<cloud_id>[^/]+)(?P<rest>/.*)?$")
SITE_NOT_FOUND = "The site was not found: no Jira site has this cloudId."
#: The ASGI scope key under which the gateway hands a 3LO token's `oauth.Principal` to the site.
OAUTH_PRINCIPAL = "ticketbridge.jira.oauth_principal"
UNAUTHORIZED = "Unauthorized"
SCOPE_MISMATCH = "Unauthorized; scope does not match"


class Gateway:
    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if control := HOSTED_CONTROL.match(path):
            hosted = self.runtime.hosted_sites.get(control["cloud_id"])
            if hosted is None:
                await send_site_not_found(send)
                return
            inner = "/__sandbox__" + (control["rest"] or "")
            await hosted.app(dict(scope, path=inner, raw_path=inner.encode()), receive, send)
            return
        match = GATEWAY.match(path)
        if match is None:
            await self.app(scope, receive, send)
            return
        cloud_id, rest = match["cloud_id"], match["rest"] or ""
        target = self._site(cloud_id)
        if target is None or not rest.startswith("/rest/"):
            await send_site_not_found(send)
            return
        inner_scope = dict(scope, path=rest, raw_path=rest.encode())
        token = bearer_token(scope)
        oauth = self.runtime.oauth
        if token is not None and oauth.is_issued(token):
            access = oauth.access(token)
            principal = oauth.principal(access, cloud_id) if access is not None else None
            if principal is None:
                await send_gateway_error(send, UNAUTHORIZED)
                return
            inner_scope[OAUTH_PRINCIPAL] = principal
        await target(inner_scope, receive, send)

    def _site(self, cloud_id: str) -> ASGIApp | None:
        if cloud_id == self.runtime.config.cloud_id:
            return self.app
        hosted = self.runtime.hosted_sites.get(cloud_id)
        return hosted.app if hosted is not None else None


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            return credentials.strip() if scheme.lower() == "bearer" else None
    return None


def gateway_error_body(message: str) -> dict[str, object]:
    return {"code": 401, "message": message}


async def send_gateway_error(send: Send, message: str) -> None:
    await send_json(send, 401, gateway_error_body(message), "application/json")


async def send_site_not_found(send: Send) -> None:
    await send_json(send, 404, {"errorMessages": [SITE_NOT_FOUND], "errors": {}}, JiraJSONResponse.media_type)


async def send_json(send: Send, status: int, body: object, media_type: str) -> None:
    raw = json.dumps(body).encode()
    headers = [(b"content-type", media_type.encode()), (b"content-length", str(len(raw)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})
