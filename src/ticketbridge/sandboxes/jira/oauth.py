"""The OAuth 2.0 (3LO) authorization server: grants, authorization codes, rotating refresh tokens.

Atlassian's model, as documented (developer.atlassian.com/cloud/oauth/getting-started/refresh-tokens and
the rotating-refresh-token announcement on community.developer.atlassian.com):

- One grant per app and Atlassian account. Consenting for another site adds the site to the grant, and
  every token of the grant then reaches it ("existing access tokens will give you access to all sites
  and scopes that a user has granted your app access to").
- Each exchanged authorization code starts a token family: the scopes asked for, the absolute expiry
  (365 days after consent, kept across refreshes) and its refresh tokens. A token reaches a site with
  the scopes both its family asked for and the grant holds there.
- Refresh tokens rotate: each use answers a new pair and disables the token used, which still works
  during the leeway (10 minutes). Reusing it after the leeway revokes the whole grant: every token of
  every family stops working, and the user must consent again. An unused refresh token expires after
  90 days (each new one starts its own 90 days).
- Access tokens are opaque here (Atlassian's are JWTs, which no client should read) and expire after an
  hour; a refresh leaves the earlier access tokens valid until they expire.

Nothing here is persisted: a restarted sandbox has no grants (`persist_path` keeps the site only).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from ticketbridge.sandboxes.jira.clock import Clock
from ticketbridge.sandboxes.jira.config import OAuthApp, OAuthConfig
from ticketbridge.sandboxes.jira.scopes import ACCOUNT_SCOPES

INVALID_REFRESH_TOKEN = "Unknown or invalid refresh token."
INVALID_CODE = "Invalid authorization code"


class OAuthError(Exception):
    """A token-endpoint error: `{"error", "error_description"}` with an HTTP status."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(status, error, description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass
class Grant:
    client_id: str
    account_id: str
    #: cloudId -> the scopes consented for that site.
    sites: dict[str, set[str]] = field(default_factory=dict)
    revoked: bool = False


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    grant: Grant
    scopes: tuple[str, ...]
    expires_at: float
    used: bool = False


@dataclass
class Family:
    """The tokens of one exchanged authorization code."""

    grant: Grant
    scopes: tuple[str, ...]
    absolute_expires_at: float


@dataclass
class AccessToken:
    token: str
    family: Family
    expires_at: float


@dataclass
class RefreshToken:
    token: str
    family: Family
    #: Last issued or used: the idle expiry counts from here.
    active_at: float
    #: When it was exchanged for its successor (then it works only during the leeway).
    rotated_at: float | None = None
    #: What its first use answered, for `reuse_within_leeway: same`.
    answered: TokenPair | None = None


@dataclass(frozen=True)
class TokenPair:
    access: AccessToken
    refresh: RefreshToken | None

    def body(self, now: float) -> dict[str, object]:
        """The token endpoint's answer; `expires_in` counts down for a pair answered again."""
        body: dict[str, object] = {
            "access_token": self.access.token,
            "expires_in": max(0, round(self.access.expires_at - now)),
            "scope": " ".join(self.access.family.scopes),
            "token_type": "Bearer",
        }
        if self.refresh is not None:
            body["refresh_token"] = self.refresh.token
        return body


@dataclass(frozen=True)
class Principal:
    """Who a valid 3LO access token acts for on one site, and with which scopes."""

    account_id: str
    client_id: str
    scopes: frozenset[str]


@dataclass
class OAuthServer:
    config: OAuthConfig
    clock: Clock = field(default_factory=Clock)
    grants: dict[tuple[str, str], Grant] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access_tokens: dict[str, AccessToken] = field(default_factory=dict)
    refresh_tokens: dict[str, RefreshToken] = field(default_factory=dict)

    def clear(self) -> None:
        """No grants, codes or tokens; the config (apps, lifetimes, switches) and the clock stay."""
        self.grants.clear()
        self.codes.clear()
        self.access_tokens.clear()
        self.refresh_tokens.clear()

    # -- apps and consent ----------------------------------------------------------------------

    def app(self, client_id: str) -> OAuthApp | None:
        return next((a for a in self.config.apps if a.client_id == client_id), None)

    def consent(self, app: OAuthApp, redirect_uri: str, account_id: str, cloud_id: str, scopes: list[str]) -> str:
        """The user agreed: the site joins the app's grant for this account; answers a fresh code."""
        key = (app.client_id, account_id)
        grant = self.grants.get(key)
        if grant is None or grant.revoked:
            grant = self.grants[key] = Grant(app.client_id, account_id)
        grant.sites.setdefault(cloud_id, set()).update(scopes)
        code = _token()
        self.codes[code] = AuthCode(
            code, app.client_id, redirect_uri, grant, tuple(scopes), self.clock.now() + self.config.code_seconds
        )
        return code

    def revoke_client(self, client_id: str) -> int:
        """The app is uninstalled: every grant of it revoked. Answers how many grants were live."""
        live = [g for g in self.grants.values() if g.client_id == client_id and not g.revoked]
        for grant in live:
            grant.revoked = True
        return len(live)

    # -- token endpoint ------------------------------------------------------------------------

    def authenticate_client(self, client_id: str | None, client_secret: str | None) -> OAuthApp:
        app = self.app(client_id or "")
        if app is None or not client_secret or not secrets.compare_digest(app.client_secret, client_secret):
            raise OAuthError(401, "access_denied", "Unauthorized")
        return app

    def exchange_code(self, app: OAuthApp, code: str | None, redirect_uri: str | None) -> TokenPair:
        """Single use: a code exchanged once, expired, or issued to another app is refused (403)."""
        if not code:
            raise OAuthError(400, "invalid_request", "Missing required parameter: code")
        found = self.codes.get(code)
        now = self.clock.now()
        if found is None or found.used or found.client_id != app.client_id or now >= found.expires_at:
            raise OAuthError(403, "invalid_grant", INVALID_CODE)
        if found.grant.revoked:
            raise OAuthError(403, "invalid_grant", INVALID_CODE)
        if redirect_uri != found.redirect_uri:
            raise OAuthError(403, "invalid_grant", "Invalid redirect URI.")
        found.used = True
        family = Family(found.grant, found.scopes, now + self.config.absolute_expiry_seconds)
        return self._issue(family, now)

    def refresh(self, app: OAuthApp, token: str | None) -> TokenPair:
        """Rotation, the leeway, and reuse detection (which revokes the grant), as documented."""
        if not token:
            raise OAuthError(400, "invalid_request", "Missing required parameter: refresh_token")
        found = self.refresh_tokens.get(token)
        now = self.clock.now()
        if found is None or found.family.grant.client_id != app.client_id or not self._is_live(found, now):
            raise OAuthError(403, "invalid_grant", INVALID_REFRESH_TOKEN)
        if found.rotated_at is not None:
            if now >= found.rotated_at + self.config.leeway_seconds:
                found.family.grant.revoked = True
                raise OAuthError(403, "invalid_grant", INVALID_REFRESH_TOKEN)
            if self.config.reuse_within_leeway == "same" and found.answered is not None:
                return found.answered
        if self.config.omit_refresh_token:
            found.active_at = now
            return TokenPair(self._access(found.family, now), None)
        pair = self._issue(found.family, now)
        if found.rotated_at is None:
            found.rotated_at = now
            found.answered = pair
        return pair

    # -- resource side -------------------------------------------------------------------------

    def is_issued(self, token: str) -> bool:
        return token in self.access_tokens

    def access(self, token: str) -> AccessToken | None:
        """The access token if it is live: issued, unexpired, its grant not revoked."""
        found = self.access_tokens.get(token)
        if found is None or found.family.grant.revoked or self.clock.now() >= found.expires_at:
            return None
        return found

    def sites_of(self, access: AccessToken) -> dict[str, frozenset[str]]:
        """cloudId -> the scopes this token holds there: its family's, within what the grant holds, without
        the account scopes (`offline_access`), which reach no site."""
        asked = set(access.family.scopes) - ACCOUNT_SCOPES
        reach = {cloud_id: frozenset(asked & held) for cloud_id, held in access.family.grant.sites.items()}
        return {cloud_id: scopes for cloud_id, scopes in reach.items() if scopes}

    def principal(self, access: AccessToken, cloud_id: str) -> Principal | None:
        scopes = self.sites_of(access).get(cloud_id)
        if scopes is None:
            return None
        grant = access.family.grant
        return Principal(grant.account_id, grant.client_id, scopes)

    def expire_access_tokens(self) -> int:
        """Every access token issued so far expires now; answers how many were still live."""
        now = self.clock.now()
        live = [t for t in self.access_tokens.values() if t.expires_at > now]
        for access in live:
            access.expires_at = now
        return len(live)

    # -- internals -----------------------------------------------------------------------------

    def _is_live(self, refresh: RefreshToken, now: float) -> bool:
        return (
            not refresh.family.grant.revoked
            and now < refresh.family.absolute_expires_at
            and now < refresh.active_at + self.config.idle_expiry_seconds
        )

    def _access(self, family: Family, now: float) -> AccessToken:
        access = AccessToken(_token(), family, now + self.config.access_token_seconds)
        self.access_tokens[access.token] = access
        return access

    def _issue(self, family: Family, now: float) -> TokenPair:
        refresh = None
        if "offline_access" in family.scopes:
            refresh = RefreshToken(_token(), family, active_at=now)
            self.refresh_tokens[refresh.token] = refresh
        return TokenPair(self._access(family, now), refresh)


def _token() -> str:
    return secrets.token_urlsafe(32)
