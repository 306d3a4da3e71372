"""Connecting a vendor's site with OAuth 2.0 (3LO), for the vendors whose spec declares an
`OAuthProvider` (Jira Cloud, the way Atlassian requires). No vendor is named here: each is found in
the registry (`oauth_config`) and its provider says the rest.

1. `start_authorization`: the admin asks for the consent URL. Its `state` is signed (HMAC-SHA256
   under a key derived from the secrets key), bound to the organization, the vendor and the site
   asked for (if any), and expires after `STATE_TTL_SECONDS`.
2. `finish_authorization` (the callback the vendor redirects the customer to): the state is checked
   (signature, expiry, vendor) and recorded as used, so a replay is refused; the code is exchanged,
   the scopes checked (`OAuthProvider.required_scopes`), the sites the token reaches listed, and the
   connection created (or, for a site the organization has connected before, given the new tokens)
   and verified like every connection. When several sites are reachable and none was named, nothing
   is chosen: the tokens are held (encrypted) on the state's row and `complete_authorization` picks
   one within the state's lifetime.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.connectors.errors import VendorAuthError, VendorError, VendorRetriable
from ticketbridge.connectors.oauth import AccessibleSite, OAuthClientRejected, OAuthGrantRefused, TokenGrant
from ticketbridge.crypto import CredentialCipher
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import ConnectionState
from ticketbridge.errors import (
    Conflict,
    InvalidRequest,
    NotConfigured,
    NotFound,
    OAuthConsentDenied,
    OAuthFlowFailed,
    ServiceUnavailable,
    VendorUnavailable,
)
from ticketbridge.observability import get_logger
from ticketbridge.services import connections as connections_service
from ticketbridge.services import verification as verification_service
from ticketbridge.services.connections import CLI_ACTOR, Actor, ConnectionCreate
from ticketbridge.services.tokens import OAuthConfig, authorization_server, encrypt_tokens, expiry_of
from ticketbridge.services.vendor_sites import PRODUCTION_SITES, SitePolicy
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.store import connections as connections_store
from ticketbridge.store import oauth as oauth_store
from ticketbridge.store import organizations as organizations_store

log = get_logger("ticketbridge.services.oauth")

#: A connect flow must come back within this long.
STATE_TTL_SECONDS = 600
_STATE_PURPOSE = "oauth-connect-state"


class SiteChoiceRequired(Conflict):
    """Several sites are reachable with this grant: choose one."""

    # The code clients have matched on since Jira, the first vendor with 3LO; kept as it is.
    code = "JIRA_SITE_CHOICE_REQUIRED"


class InvalidOAuthState(OAuthFlowFailed):
    """The state is not one this service issued, was used already, or expired: start again."""

    code = "INVALID_OAUTH_STATE"


class MissingScopes(InvalidRequest):
    """Atlassian granted fewer scopes than a connection needs."""

    code = "OAUTH_SCOPES_MISSING"


@dataclass(frozen=True, slots=True)
class ConnectState:
    nonce: str
    organization_id: uuid.UUID
    #: Epoch seconds.
    expires_at: int
    #: The vendor's `OAuthProvider.slug`.
    vendor: str
    site_url: str | None = None
    #: The site's id at the vendor (Jira's cloudId).
    cloud_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationStart:
    authorize_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectResult:
    connection: ConnectionRead
    cloud_id: str
    site_url: str
    scopes: tuple[str, ...]
    access_token_expires_at: datetime


# -- state ---------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_state(cipher: CredentialCipher, state: ConnectState) -> str:
    payload = {"n": state.nonce, "o": str(state.organization_id), "e": state.expires_at, "v": state.vendor}
    if state.site_url is not None:
        payload["s"] = state.site_url
    if state.cloud_id is not None:
        payload["c"] = state.cloud_id
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    key = cipher.derived_keys(_STATE_PURPOSE)[0]
    return f"{body}.{_b64(hmac.digest(key, body.encode(), 'sha256'))}"


def verify_state(cipher: CredentialCipher, token: str, *, now: float | None = None) -> ConnectState:
    """The state `token` carries; InvalidOAuthState (400) when it is forged, malformed or expired."""
    body, _, signature = token.partition(".")
    try:
        given = _unb64(signature)
        good = any(
            hmac.compare_digest(hmac.digest(key, body.encode(), "sha256"), given)
            for key in cipher.derived_keys(_STATE_PURPOSE)
        )
        if not good:
            raise InvalidOAuthState("The OAuth state is not one this service issued: start the connect flow again.")
        payload = json.loads(_unb64(body))
        state = ConnectState(
            nonce=str(payload["n"]),
            organization_id=uuid.UUID(str(payload["o"])),
            expires_at=int(payload["e"]),
            vendor=str(payload["v"]),
            site_url=payload.get("s"),
            cloud_id=payload.get("c"),
        )
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise InvalidOAuthState("The OAuth state is malformed: start the connect flow again.") from None
    if (time.time() if now is None else now) >= state.expires_at:
        raise InvalidOAuthState("The OAuth state has expired (10 minutes): start the connect flow again.")
    return state


# -- the flow ------------------------------------------------------------------------------------


def oauth_config(access: VendorAccess, vendor: str) -> OAuthConfig:
    """The OAuth app of the vendor whose `OAuthProvider.slug` is `vendor`. NotFound when no vendor of
    the registry connects by OAuth under that name; NotConfigured when the operator has not set up
    its app."""
    for spec in access.factory.registry.values():
        provider = spec.oauth
        if provider is None or provider.slug != vendor:
            continue
        config = access.oauth_apps.get(spec.vendor)
        if config is None:
            prefix = f"TICKETBRIDGE_{provider.slug.upper()}_OAUTH"
            raise NotConfigured(
                f"{spec.title} OAuth is not configured: the operator must set {prefix}_CLIENT_ID, "
                f"{prefix}_CLIENT_SECRET and {prefix}_REDIRECT_URI."
            )
        return config
    offered = sorted(spec.oauth.slug for spec in access.factory.registry.values() if spec.oauth is not None)
    raise NotFound(f"No vendor connects by OAuth as {vendor!r}; these do: {', '.join(offered) or 'none'}.")


async def start_authorization(
    db: AsyncSession,
    cipher: CredentialCipher,
    config: OAuthConfig,
    organization_id: uuid.UUID,
    *,
    site_url: str | None = None,
    cloud_id: str | None = None,
) -> AuthorizationStart:
    """The consent URL and its state. NotFound for an unknown organization; InvalidRequest when both
    a site URL and a cloudId are named."""
    await organizations_store.get_organization(db, organization_id)
    if site_url is not None and cloud_id is not None:
        raise InvalidRequest(
            "Name the site by site_url or by cloud_id, not both.",
            details=[
                {"loc": ["body", "cloud_id"], "msg": "give site_url or cloud_id, not both", "type": "value_error"}
            ],
        )
    expires = int(time.time()) + STATE_TTL_SECONDS
    state = ConnectState(
        nonce=secrets.token_urlsafe(24),
        organization_id=organization_id,
        expires_at=expires,
        vendor=config.provider.slug,
        site_url=_normalized(site_url) if site_url is not None else None,
        cloud_id=cloud_id,
    )
    token = sign_state(cipher, state)
    return AuthorizationStart(
        authorize_url=config.provider.authorize_url(config.auth_base_url, config.app, token),
        state=token,
        expires_at=datetime.fromtimestamp(expires, UTC),
    )


async def finish_authorization(
    access: VendorAccess,
    *,
    state: str,
    code: str | None,
    error: str | None = None,
    error_description: str | None = None,
    sites: SitePolicy = PRODUCTION_SITES,
    actor: Actor = CLI_ACTOR,
    vendor: str | None = None,
) -> ConnectResult:
    """The callback: see the module docstring. 400 (OAuthFlowFailed) for a bad, used or expired state
    (or one issued for another vendor than `vendor`, the callback's), a denied consent or a refused
    code; 422 for missing scopes or a named site that was not granted; 409 (SiteChoiceRequired) when
    a site must be chosen; 503 when the authorization server cannot be reached."""
    if vendor is not None:
        oauth_config(access, vendor)  # 404 for a vendor without OAuth, before the state is looked at
    parsed = verify_state(access.cipher, state)
    config = _config_of(access, parsed, vendor)
    async with access.sessionmaker.begin() as db:
        fresh = await oauth_store.use_state(
            db,
            parsed.nonce,
            organization_id=parsed.organization_id,
            expires_at=datetime.fromtimestamp(parsed.expires_at, UTC),
        )
    if not fresh:
        raise InvalidOAuthState("This OAuth state was used already: start the connect flow again.")
    if error is not None:
        if error == "access_denied":
            raise OAuthConsentDenied(
                "The customer did not grant access to the site (access_denied); nothing was connected. "
                "Start the connect flow again to retry."
            )
        raise OAuthFlowFailed(
            f"{config.provider.authority} ended the connect flow with {error}: {error_description or 'no description'}."
        )
    if not code:
        raise OAuthFlowFailed("The callback carries no authorization code: start the connect flow again.")
    grant, reachable = await _exchange(access, config, code)
    chosen = _choose(reachable, cloud_id=parsed.cloud_id, site_url=parsed.site_url)
    if chosen is None:
        async with access.sessionmaker.begin() as db:
            pending = _encrypt_pending(access, grant, reachable)
            await oauth_store.hold_pending(db, parsed.nonce, pending)
        raise _site_choice(parsed, state, reachable)
    return await _connect(access, config, parsed.organization_id, chosen, grant, sites=sites, actor=actor)


async def complete_authorization(
    access: VendorAccess,
    organization_id: uuid.UUID,
    *,
    state: str,
    cloud_id: str,
    sites: SitePolicy = PRODUCTION_SITES,
    actor: Actor = CLI_ACTOR,
    vendor: str | None = None,
) -> ConnectResult:
    """Finishes a flow that answered 409 with the site `cloud_id`, once, within the state's lifetime.
    400 when no flow waits under this state for this organization (and `vendor`, when given); 422
    for a site not offered."""
    if vendor is not None:
        oauth_config(access, vendor)
    parsed = verify_state(access.cipher, state)
    config = _config_of(access, parsed, vendor)
    if parsed.organization_id != organization_id:
        raise InvalidOAuthState("This OAuth state belongs to another organization.")
    async with access.sessionmaker.begin() as db:
        pending = await oauth_store.take_pending(db, parsed.nonce, organization_id=organization_id)
        if pending is None:
            raise InvalidOAuthState(
                "No connect flow waits for a site choice under this state (completed, expired, or never asked)."
            )
        grant, reachable = _decrypt_pending(access, pending)
        chosen = next((site for site in reachable if site.site_id == cloud_id), None)
        if chosen is None:  # rolled back: the choice can be made again
            raise InvalidRequest(
                f"The site {cloud_id!r} was not granted; choose one of: "
                + ", ".join(f"{site.site_id} ({site.url})" for site in reachable),
                details=[{"loc": ["body", "cloud_id"], "msg": "not a site of this grant", "type": "value_error"}],
            )
    return await _connect(access, config, organization_id, chosen, grant, sites=sites, actor=actor)


def _config_of(access: VendorAccess, parsed: ConnectState, vendor: str | None) -> OAuthConfig:
    if vendor is not None and parsed.vendor != vendor:
        raise InvalidOAuthState("This OAuth state was issued for another vendor: start the connect flow again.")
    return oauth_config(access, parsed.vendor)


async def _exchange(access: VendorAccess, config: OAuthConfig, code: str) -> tuple[TokenGrant, list[AccessibleSite]]:
    authority = config.provider.authority
    try:
        async with authorization_server(config, access.factory.transport) as server:
            grant = await server.exchange_code(code)
            _check_scopes(config, grant)
            reachable = await server.accessible_resources(grant.access_token)
    except OAuthGrantRefused as exc:
        raise OAuthFlowFailed(
            f"{authority} refused the authorization code ({exc.message}): start the connect flow again."
        ) from exc
    except OAuthClientRejected as exc:
        raise ServiceUnavailable(f"Cannot connect sites: {exc.message}.") from exc
    except VendorRetriable as exc:
        raise VendorUnavailable(
            f"{authority} did not answer: {exc.message}", retry_after_seconds=exc.retry_after
        ) from exc
    except (VendorAuthError, VendorError) as exc:
        raise VendorUnavailable(f"{authority} refused the connect flow: {exc.message}") from exc
    if not reachable:
        raise OAuthFlowFailed("The grant reaches no site: consent for a site and start again.")
    return grant, reachable


def _check_scopes(config: OAuthConfig, grant: TokenGrant) -> None:
    provider = config.provider
    granted = set(grant.scopes)
    if grant.refresh_token is None:
        granted.discard(provider.offline_scope)
    missing = [scope for scope in provider.required_scopes if scope not in granted]
    if missing:
        raise MissingScopes(
            f"{provider.authority} granted too few scopes; missing: {', '.join(missing)}. Add them to the "
            "OAuth app and connect again.",
            details=[
                {"loc": ["scope", scope], "msg": "required scope not granted", "type": "missing"} for scope in missing
            ],
        )


def _normalized(url: str) -> str:
    return url.strip().rstrip("/").lower()


def _choose(reachable: list[AccessibleSite], *, cloud_id: str | None, site_url: str | None) -> AccessibleSite | None:
    """The site named at authorize (InvalidRequest when the grant does not reach it), the only one,
    or None when the customer must choose."""
    if cloud_id is None and site_url is None:
        return reachable[0] if len(reachable) == 1 else None
    for site in reachable:
        if site.site_id == cloud_id or (site_url is not None and _normalized(site.url) == site_url):
            return site
    named = cloud_id or site_url
    raise InvalidRequest(
        f"The grant does not reach the site {named!r} named at authorize; it reaches: "
        + ", ".join(f"{site.site_id} ({site.url})" for site in reachable),
        details=[
            {"loc": ["body", "cloud_id" if cloud_id else "site_url"], "msg": "site not granted", "type": "value_error"}
        ],
    )


def _site_choice(parsed: ConnectState, state: str, reachable: list[AccessibleSite]) -> SiteChoiceRequired:
    complete = f"POST /v1/admin/organizations/{parsed.organization_id}/connections/{parsed.vendor}/complete"
    expires = datetime.fromtimestamp(parsed.expires_at, UTC).isoformat()
    return SiteChoiceRequired(
        f"The grant reaches {len(reachable)} sites and none was named: choose one with {complete} "
        f'{{"state", "cloud_id"}} before {expires}.',
        details=[
            {
                "type": "site_choice",
                "state": state,
                "complete": complete,
                "expires_at": expires,
                "sites": [{"cloud_id": site.site_id, "url": site.url, "name": site.name} for site in reachable],
            }
        ],
    )


def _encrypt_pending(access: VendorAccess, grant: TokenGrant, reachable: list[AccessibleSite]) -> str:
    return access.cipher.encrypt(
        {
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "expires_at": expiry_of(grant, access.clock()).isoformat(),
            "scopes": list(grant.scopes),
            "sites": [
                {"site_id": s.site_id, "url": s.url, "name": s.name, "scopes": list(s.scopes)} for s in reachable
            ],
        }
    )


def _decrypt_pending(access: VendorAccess, token: str) -> tuple[TokenGrant, list[AccessibleSite]]:
    data: dict[str, Any] = access.cipher.decrypt(token)
    remaining = (datetime.fromisoformat(data["expires_at"]) - access.clock()).total_seconds()
    grant = TokenGrant(
        access_token=data["access_token"],
        refresh_token=data["refresh_token"],
        expires_in_seconds=remaining,
        scopes=tuple(data["scopes"]),
    )
    reachable = [
        AccessibleSite(site_id=s["site_id"], url=s["url"], name=s["name"], scopes=tuple(s["scopes"]))
        for s in data["sites"]
    ]
    return grant, reachable


async def _connect(
    access: VendorAccess,
    config: OAuthConfig,
    organization_id: uuid.UUID,
    site: AccessibleSite,
    grant: TokenGrant,
    *,
    sites: SitePolicy,
    actor: Actor,
) -> ConnectResult:
    """Creates the connection for `site` (or gives the new tokens to the organization's connection to
    it, a reconnect), stores the tokens, then verifies it."""
    assert grant.refresh_token is not None  # _check_scopes: the offline scope was granted
    now = access.clock()
    expires_at = expiry_of(grant, now)
    async with access.sessionmaker.begin() as db:
        connection = await _connection_for_site(db, access.cipher, config, organization_id, site.site_id)
        if connection is None:
            made = config.provider.site_connection(site)
            data = ConnectionCreate(
                organization_id=organization_id,
                vendor=config.vendor,
                base_url=made.base_url,
                credentials=made.credentials,
            )
            connection = await connections_service.create_connection(db, access.cipher, data, sites=sites, actor=actor)
        await oauth_store.save_tokens(
            db,
            connection_id=connection.id,
            organization_id=organization_id,
            tokens_encrypted=encrypt_tokens(
                access.cipher, access_token=grant.access_token, refresh_token=grant.refresh_token
            ),
            access_token_expires_at=expires_at,
            scopes=list(grant.scopes),
            cloud_id=site.site_id,
            granted_at=now,
        )
    log.info("oauth.connected", connection_id=str(connection.id), site_id=site.site_id)
    verified = await verification_service.verify_connection(access, connection.id, actor=actor)
    return ConnectResult(
        connection=verified,
        cloud_id=site.site_id,
        site_url=site.url,
        scopes=grant.scopes,
        access_token_expires_at=expires_at,
    )


async def _connection_for_site(
    db: AsyncSession, cipher: CredentialCipher, config: OAuthConfig, organization_id: uuid.UUID, site_id: str
) -> ConnectionRead | None:
    """The organization's live 3LO connection to the site, if it has one."""
    for connection in await connections_store.list_connections(db, organization_id=organization_id):
        if connection.vendor is not config.vendor or connection.state is ConnectionState.DELETED:
            continue
        credentials = cipher.decrypt(await connections_store.get_encrypted_credentials(db, connection.id))
        if config.provider.granted_site(credentials) == site_id:
            return connection
    return None
