"""What auth.atlassian.com and api.atlassian.com serve for OAuth 2.0 (3LO), at Atlassian's paths:
`/authorize` (the consent screen), `/oauth/token` (codes and refresh tokens) and
`/oauth/token/accessible-resources` (the sites a token reaches).

Errors are the authorization server's, never Jira's: `{"error", "error_description"}` from the token
endpoint; from `/authorize`, a redirect to the app's callback with `error`, `error_description` and
`state`, except when the app or its callback cannot be trusted (unknown `client_id`, a `redirect_uri`
that is not registered), which answers a 400 page and redirects nowhere (RFC 6749 section 4.1.2.1).
"""

from __future__ import annotations

import base64
import binascii
import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from ticketbridge.sandboxes.jira.config import OAuthApp
from ticketbridge.sandboxes.jira.gateway import UNAUTHORIZED, bearer_token, gateway_error_body
from ticketbridge.sandboxes.jira.oauth import OAuthError
from ticketbridge.sandboxes.jira.runtime import Runtime, RuntimeDep

router = APIRouter()

AUDIENCE = "api.atlassian.com"
GRANT_TYPES = frozenset({"authorization_code", "refresh_token"})
#: The avatar Atlassian's own accessible-resources example shows.
AVATAR_URL = "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/flag.png"
#: RFC 6749 section 5.1: token answers are never cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class AuthorizeRequest:
    app: OAuthApp
    redirect_uri: str
    scopes: list[str]
    state: str | None


class AuthorizeRefused(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


@router.get("/authorize")
async def authorize(request: Request, runtime: RuntimeDep) -> Response:
    """The consent screen: consents at once (`consent: auto`), shows the page, or denies, as configured."""
    runtime.calls["oauth.authorize"] += 1
    params = dict(request.query_params)
    try:
        asked = _validate(runtime, params)
    except AuthorizeRefused as refused:
        return refused.response
    mode = runtime.oauth.config.consent
    if mode == "deny":
        return _error_redirect(asked, "access_denied", "The user denied access to the app.")
    if mode == "page":
        return HTMLResponse(_consent_page(runtime, asked, params))
    cloud_id = runtime.oauth.config.consent_site or runtime.config.cloud_id
    if cloud_id not in _sites(runtime):
        return _error_page(400, "server_error", f"consent_site {cloud_id!r} is not a site of this sandbox.")
    return _grant(runtime, asked, cloud_id)


@router.post("/authorize")
async def decide(request: Request, runtime: RuntimeDep) -> Response:
    """The consent screen's form: `decision=accept` with the `site` chosen, or `decision=deny`."""
    runtime.calls["oauth.authorize"] += 1
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    try:
        asked = _validate(runtime, form)
    except AuthorizeRefused as refused:
        return refused.response
    if form.get("decision") != "accept":
        return _error_redirect(asked, "access_denied", "The user denied access to the app.")
    cloud_id = form.get("site") or runtime.config.cloud_id
    if cloud_id not in _sites(runtime):
        return _error_redirect(asked, "invalid_request", "Choose a site to grant access to.")
    return _grant(runtime, asked, cloud_id)


@router.post("/oauth/token")
async def token(request: Request, runtime: RuntimeDep) -> Response:
    """Exchanges an authorization code or a refresh token; JSON or form body, credentials in the body or
    as HTTP Basic."""
    try:
        params = await _token_params(request)
    except OAuthError as exc:
        runtime.calls["oauth.token.invalid"] += 1
        return JSONResponse(exc.body(), status_code=exc.status, headers=NO_STORE)
    grant_type = params.get("grant_type")
    runtime.calls[f"oauth.token.{grant_type if grant_type in GRANT_TYPES else 'invalid'}"] += 1
    oauth = runtime.oauth
    try:
        if not grant_type:
            raise OAuthError(400, "invalid_request", "Missing required parameter: grant_type")
        if grant_type not in GRANT_TYPES:
            raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant type: {grant_type}")
        client_id, client_secret = _client_credentials(request, params)
        app = oauth.authenticate_client(client_id, client_secret)
        if grant_type == "authorization_code":
            pair = oauth.exchange_code(app, params.get("code"), params.get("redirect_uri"))
        else:
            pair = oauth.refresh(app, params.get("refresh_token"))
    except OAuthError as exc:
        return JSONResponse(exc.body(), status_code=exc.status, headers=NO_STORE)
    return JSONResponse(pair.body(oauth.clock.now()), headers=NO_STORE)


@router.get("/oauth/token/accessible-resources")
async def accessible_resources(request: Request, runtime: RuntimeDep) -> Response:
    """The sites the token's grant reaches, each with the scopes the token holds there (in no set order)."""
    runtime.calls["oauth.accessibleResources"] += 1
    token = bearer_token(request.scope)
    access = runtime.oauth.access(token) if token else None
    if access is None:
        return JSONResponse(gateway_error_body(UNAUTHORIZED), status_code=401)
    sites = _sites(runtime)
    resources = [
        {"id": cloud_id, "url": sites[cloud_id][1], "name": sites[cloud_id][0], "scopes": sorted(scopes)}
        | {"avatarUrl": AVATAR_URL}
        for cloud_id, scopes in runtime.oauth.sites_of(access).items()
        if cloud_id in sites
    ]
    return JSONResponse(resources)


# -- authorize ---------------------------------------------------------------------------------


def _validate(runtime: Runtime, params: Mapping[str, str]) -> AuthorizeRequest:
    app = runtime.oauth.app(params.get("client_id", ""))
    if app is None:
        raise AuthorizeRefused(_error_page(400, "invalid_request", "Unknown client_id: no app is registered with it."))
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        raise AuthorizeRefused(
            _error_page(400, "invalid_request", "The redirect_uri does not match the app's callback URL.")
        )
    asked = AuthorizeRequest(app, redirect_uri, params.get("scope", "").split(), params.get("state"))
    if params.get("response_type") != "code":
        raise AuthorizeRefused(_error_redirect(asked, "unsupported_response_type", "response_type must be code."))
    if params.get("audience") != AUDIENCE:
        raise AuthorizeRefused(_error_redirect(asked, "invalid_request", f"audience must be {AUDIENCE}."))
    if not asked.scopes:
        raise AuthorizeRefused(_error_redirect(asked, "invalid_scope", "At least one scope is required."))
    unknown = [s for s in asked.scopes if s not in runtime.scopes.known]
    if unknown:
        raise AuthorizeRefused(_error_redirect(asked, "invalid_scope", f"Unknown scope: {' '.join(unknown)}"))
    return asked


def _grant(runtime: Runtime, asked: AuthorizeRequest, cloud_id: str) -> Response:
    account_id = runtime.oauth.config.consent_account_id
    code = runtime.oauth.consent(asked.app, asked.redirect_uri, account_id, cloud_id, asked.scopes)
    return _redirect(asked, {"code": code})


def _error_redirect(asked: AuthorizeRequest, error: str, description: str) -> Response:
    return _redirect(asked, {"error": error, "error_description": description})


def _redirect(asked: AuthorizeRequest, values: dict[str, str]) -> Response:
    if asked.state is not None:
        values = values | {"state": asked.state}
    parts = urlsplit(asked.redirect_uri)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *values.items()])
    return RedirectResponse(urlunsplit(parts._replace(query=query)), status_code=302)


def _error_page(status: int, error: str, description: str) -> Response:
    body = f"<!doctype html><title>Something went wrong</title><h1>{error}</h1><p>{html.escape(description)}</p>"
    return HTMLResponse(body, status_code=status)


def _consent_page(runtime: Runtime, asked: AuthorizeRequest, params: Mapping[str, str]) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k in {"audience", "client_id", "scope", "redirect_uri", "state", "response_type", "prompt"}
    )
    sites = "".join(
        f'<label><input type="radio" name="site" value="{html.escape(cloud_id)}"{" checked" if i == 0 else ""}>'
        f" {html.escape(name)} ({html.escape(url)})</label><br>"
        for i, (cloud_id, (name, url)) in enumerate(_sites(runtime).items())
    )
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in asked.scopes)
    return (
        f"<!doctype html><title>{html.escape(asked.app.name)} is requesting access</title>"
        f"<h1>{html.escape(asked.app.name)} is requesting access to your Atlassian account</h1>"
        f'<form method="post" action="/authorize">{hidden}<fieldset><legend>Use app on</legend>{sites}</fieldset>'
        f"<p>It wants to:</p><ul>{scopes}</ul>"
        '<button name="decision" value="deny">Cancel</button> <button name="decision" value="accept">Accept</button>'
        "</form>"
    )


def _sites(runtime: Runtime) -> dict[str, tuple[str, str]]:
    """cloudId -> (name, url) of every site this process serves: its own first, then the hosted ones."""
    own = {runtime.config.cloud_id: (runtime.oauth.config.site_name, runtime.base)}
    return own | {s.cloud_id: (s.name, s.url) for s in runtime.hosted_sites.values()}


# -- token -------------------------------------------------------------------------------------


async def _token_params(request: Request) -> dict[str, str]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
    try:
        body: Any = json.loads(raw) if raw else {}
    except ValueError:
        raise OAuthError(400, "invalid_request", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise OAuthError(400, "invalid_request", "The request body must be a JSON object.")
    return {k: v for k, v in body.items() if isinstance(v, str)}


def _client_credentials(request: Request, params: Mapping[str, str]) -> tuple[str | None, str | None]:
    """client_secret_post (what Atlassian documents), or client_secret_basic (RFC 6749 section 2.3.1)."""
    if "client_id" in params or "client_secret" in params:
        return params.get("client_id"), params.get("client_secret")
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        client_id, _, secret = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return client_id, secret
