"""`POST /oauth_token.do`: OAuth 2.0 tokens for the demo application registry entry.

Grants: `password` (client_id, client_secret, username, password), `refresh_token` (client_id,
client_secret, refresh_token) and, when `client_credentials_enabled`, `client_credentials` (acts as the
admin, answers no refresh token). The client may authenticate in the form or with HTTP Basic. Failures
answer 401 `{"error_description": "access_denied", "error": "server_error"}`, as the instance does.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ticketbridge.sandboxes.servicenow.acl import is_active
from ticketbridge.sandboxes.servicenow.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_USERNAME
from ticketbridge.sandboxes.servicenow.errors import OAuthError
from ticketbridge.sandboxes.servicenow.runtime import Runtime

router = APIRouter()


def _denied() -> OAuthError:
    return OAuthError(401, "server_error", "access_denied")


@router.post("/oauth_token.do")
async def token(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    runtime.calls.record("oauth.token")
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
    client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and not client_secret:
        try:
            client_id, _, client_secret = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise _denied() from None
    if client_id != DEMO_CLIENT_ID or client_secret != DEMO_CLIENT_SECRET:
        raise _denied()
    grant = form.get("grant_type", "")
    if grant == "password":
        account = runtime.instance.account_by_name(form.get("username", ""))
        if account is None or not account.password or account.password != form.get("password"):
            raise _denied()
        if not is_active(runtime, account):
            raise _denied()
        return JSONResponse(runtime.tokens.issue(account.user_name, client_id))
    if grant == "refresh_token":
        found = runtime.tokens.redeem_refresh(form.get("refresh_token", ""), client_id)
        if found is None:
            raise _denied()
        return JSONResponse(runtime.tokens.issue(found.user_name, client_id))
    if grant == "client_credentials" and runtime.config.client_credentials_enabled:
        return JSONResponse(runtime.tokens.issue(DEMO_USERNAME, client_id, with_refresh=False))
    raise OAuthError(400, "unsupported_grant_type", "access_denied")
