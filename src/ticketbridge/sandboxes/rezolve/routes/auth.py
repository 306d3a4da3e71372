"""Keycloak's client-credentials token endpoint and JWKS for each tenant's realm.

Keycloak takes the client credentials from the form or from HTTP Basic, and answers failures with
`{"error", "error_description"}`; so does this endpoint.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Header, Request

from ticketbridge.sandboxes.rezolve.deps import IssuerDep, RuntimeDep, counted
from ticketbridge.sandboxes.rezolve.errors import TokenError
from ticketbridge.sandboxes.rezolve.models import Client, Tenant

router = APIRouter(prefix="/auth/realms/{realm}/protocol/openid-connect")


@router.post("/token", dependencies=[Depends(counted("token"))])
async def issue_token(
    realm: str,
    request: Request,
    state: RuntimeDep,
    issuer: IssuerDep,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    tenant = _tenant_of(state.store.tenant_of_realm(realm))
    form = {key: values[0] for key, values in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != "client_credentials":
        raise TokenError(400, "unsupported_grant_type", "Unsupported grant_type")
    client = _authenticate_client(tenant, form, authorization)
    requested = form.get("scope", "").split()
    unknown = [scope for scope in requested if scope not in client.scopes]
    if unknown:
        raise TokenError(400, "invalid_scope", f"Invalid scopes: {' '.join(unknown)}")
    scopes = requested or list(client.scopes)
    return {
        "access_token": issuer.sign(issuer.claims_for(tenant, client, scopes)),
        "expires_in": issuer.ttl_seconds,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "scope": " ".join(scopes),
    }


@router.get("/certs", dependencies=[Depends(counted("certs"))])
async def get_certs(realm: str, state: RuntimeDep, issuer: IssuerDep) -> dict[str, Any]:
    _tenant_of(state.store.tenant_of_realm(realm))
    return issuer.jwks()


def _tenant_of(tenant: Tenant | None) -> Tenant:
    if tenant is None:
        raise TokenError(404, "Realm does not exist", "Realm does not exist")
    return tenant


def _authenticate_client(tenant: Tenant, form: dict[str, str], authorization: str | None) -> Client:
    client_id, secret = form.get("client_id"), form.get("client_secret")
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id = None
    client = tenant.client(client_id) if client_id else None
    if client is None or secret is None or not hmac.compare_digest(client.secret.encode(), secret.encode()):
        raise TokenError(401, "invalid_client", "Invalid client or Invalid client credentials")
    return client
