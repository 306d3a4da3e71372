"""Atlassian's OAuth 2.0 (3LO) authorization server and the sites a token reaches: one method per
endpoint, every answer classified once.

https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/ (authorize, token exchange,
accessible-resources) and .../oauth/getting-started/refresh-tokens/ (rotating refresh tokens).

    token endpoint answer           raised
    200                             (a TokenGrant)
    401 (unknown client, bad secret) OAuthClientRejected: the operator's configuration
    400/403 invalid_grant           OAuthGrantRefused: the code or refresh token is no good
    429, 5xx, no answer             VendorRetriable: tokens kept, try later
    other 4xx                       VendorRejected
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from ticketbridge.connectors.errors import VendorAuthError, VendorRejected, VendorRetriable
from ticketbridge.connectors.http import retry_after_seconds
from ticketbridge.connectors.oauth import (
    AccessibleSite,
    OAuthApp,
    OAuthClientRejected,
    OAuthGrantRefused,
    OAuthProvider,
    SiteConnection,
    TokenGrant,
)
from ticketbridge.connectors.paths import KeyKind

AUDIENCE = "api.atlassian.com"
#: What a ticketbridge connection needs: read and write issues, find users, and a refresh token.
REQUIRED_SCOPES = ("read:jira-work", "write:jira-work", "read:jira-user", "offline_access")
#: A site's cloudId, as accessible-resources answers it (a UUID on Atlassian).
CLOUD_ID = KeyKind("Atlassian cloudId", "cloud_id", re.compile(r"[A-Za-z0-9-]+"), max_length=100)
_DAY_SECONDS = 86_400


def authorize_url(auth_base_url: str, app: OAuthApp, state: str, scopes: tuple[str, ...] = REQUIRED_SCOPES) -> str:
    """The consent screen's URL (GET /authorize), `prompt=consent` as Atlassian requires."""
    query = urlencode(
        {
            "audience": AUDIENCE,
            "client_id": app.client_id,
            "scope": " ".join(scopes),
            "redirect_uri": app.redirect_uri,
            "state": state,
            "response_type": "code",
            "prompt": "consent",
        }
    )
    return f"{auth_base_url.rstrip('/')}/authorize?{query}"


class AtlassianOAuthClient:
    """`auth` is a client on the authorization server (https://auth.atlassian.com), `api` one on the
    gateway (https://api.atlassian.com); the caller owns and closes both."""

    def __init__(self, *, auth: httpx.AsyncClient, api: httpx.AsyncClient, app: OAuthApp) -> None:
        self._auth = auth
        self._api = api
        self._app = app

    async def exchange_code(self, code: str) -> TokenGrant:
        """POST /oauth/token, grant_type authorization_code."""
        return await self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self._app.redirect_uri}
        )

    async def refresh(self, refresh_token: str) -> TokenGrant:
        """POST /oauth/token, grant_type refresh_token: a new access token and, rotating, a new refresh token."""
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def accessible_resources(self, access_token: str) -> list[AccessibleSite]:
        """GET /oauth/token/accessible-resources: the sites the token reaches, in no set order."""
        response = await _send(
            self._api,
            "GET",
            "/oauth/token/accessible-resources",
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
        if response.status_code == 401:
            raise VendorAuthError("Atlassian refused the new access token", status_code=401)
        _raise_for_status(response)
        body = response.json()
        if not isinstance(body, list):
            raise VendorRejected("accessible-resources did not answer a list", status_code=response.status_code)
        return [
            AccessibleSite(
                site_id=str(site["id"]),
                url=str(site["url"]).rstrip("/"),
                name=str(site.get("name") or ""),
                scopes=tuple(str(scope) for scope in site.get("scopes") or []),
            )
            for site in body
            if isinstance(site, dict) and "id" in site and "url" in site
        ]

    async def _token(self, body: dict[str, str]) -> TokenGrant:
        credentials = {"client_id": self._app.client_id, "client_secret": self._app.client_secret}
        response = await _send(self._auth, "POST", "/oauth/token", json=credentials | body)
        if response.status_code == 401:
            raise OAuthClientRejected(
                "Atlassian refused the OAuth app's client credentials (TICKETBRIDGE_JIRA_OAUTH_CLIENT_ID / "
                "_CLIENT_SECRET): the operator must fix them; the customer need not reconnect",
                status_code=401,
            )
        error = _oauth_error(response)
        if response.status_code in (400, 403) and error[0] == "invalid_grant":
            raise OAuthGrantRefused(f"Atlassian refused the grant: {error[1]}", status_code=response.status_code)
        _raise_for_status(response)
        data = response.json()
        return TokenGrant(
            access_token=str(data["access_token"]),
            refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
            expires_in_seconds=float(data.get("expires_in") or 3600),
            scopes=tuple(str(data.get("scope") or "").split()),
        )


async def _send(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return await http.request(method, url, **kwargs)
    except httpx.InvalidURL as exc:
        raise VendorRejected(f"Cannot build the Atlassian URL: {exc}") from exc
    except (httpx.TimeoutException, httpx.TransportError) as exc:
        # A token call repeated after a lost answer is harmless: an unused rotated refresh token still
        # works for the leeway, and a code is refused (the connect flow is started again).
        raise VendorRetriable(f"Atlassian's authorization server did not answer ({type(exc).__name__})") from exc


def _raise_for_status(response: httpx.Response) -> None:
    status = response.status_code
    if status < 300:
        return
    error, description = _oauth_error(response)
    message = f"{error}: {description}" if description else error
    if status == 429 or status >= 500:
        raise VendorRetriable(
            f"Atlassian's authorization server answered {status}: {message}",
            status_code=status,
            retry_after=retry_after_seconds(response),
        )
    raise VendorRejected(f"Atlassian refused the request ({status}): {message}", status_code=status)


def _oauth_error(response: httpx.Response) -> tuple[str, str]:
    """RFC 6749 section 5.2's `error` and `error_description`, or the gateway's `message`."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}", ""
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}", ""
    error = str(body.get("error") or body.get("code") or f"HTTP {response.status_code}")
    return error, str(body.get("error_description") or body.get("message") or "")


def site_connection(site: AccessibleSite) -> SiteConnection:
    """A 3LO connection keeps the site URL as its base URL (ticket links point there) and reaches the
    site through the gateway by its cloudId (`build` in this package)."""
    return SiteConnection(base_url=site.url, credentials={"cloud_id": site.site_id})


def granted_site(credentials: Mapping[str, Any]) -> str | None:
    cloud_id = credentials.get("cloud_id")
    return str(cloud_id) if cloud_id else None


OAUTH = OAuthProvider(
    slug="jira",
    authority="Atlassian",
    auth_base_url="https://auth.atlassian.com",
    api_base_url="https://api.atlassian.com",
    required_scopes=REQUIRED_SCOPES,
    offline_scope="offline_access",
    # developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens: "90 days of inactivity",
    # and every refresh token of an authorization expires 365 days after consent.
    idle_lifetime_seconds=90 * _DAY_SECONDS,
    grant_lifetime_seconds=365 * _DAY_SECONDS,
    authorize_url=authorize_url,
    authorization_server=lambda auth, api, app: AtlassianOAuthClient(auth=auth, api=api, app=app),
    site_connection=site_connection,
    granted_site=granted_site,
)
