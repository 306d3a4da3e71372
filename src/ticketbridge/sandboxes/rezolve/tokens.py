"""Keycloak-style access tokens: RS256 JWTs signed with a key generated per app, and the JWKS.

The claims follow the reference's design (§4.1): `tenant_id`, a space-separated `scope`, and
`realm_access.roles`; the realm is read back from `iss` (`{base_url}/auth/realms/{realm}`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from ticketbridge.sandboxes.rezolve.models import Client, Tenant

ALGORITHM = "RS256"
KEY_BITS = 2048


class InvalidToken(Exception):
    """The bearer token is missing, malformed, badly signed, expired or from another issuer."""


@dataclass(frozen=True)
class Claims:
    subject: str
    realm: str
    tenant_id: str | None
    scopes: frozenset[str]
    roles: frozenset[str]


class TokenIssuer:
    def __init__(self, *, base_url: str, ttl_seconds: int) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        self.key_id = uuid4().hex
        self.ttl_seconds = ttl_seconds
        self._realms_prefix = f"{base_url.rstrip('/')}/auth/realms/"

    def issuer(self, realm: str) -> str:
        return self._realms_prefix + realm

    def claims_for(self, tenant: Tenant, client: Client, scopes: list[str]) -> dict[str, Any]:
        """The claims Keycloak puts in a client-credentials token, plus Rezolve's `tenant_id`."""
        now = int(time.time())
        return {
            "iss": self.issuer(tenant.realm),
            "sub": client.subject,
            "azp": client.clientId,
            "typ": "Bearer",
            "jti": str(uuid4()),
            "iat": now,
            "exp": now + self.ttl_seconds,
            "scope": " ".join(scopes),
            "realm_access": {"roles": list(client.roles)},
            "tenant_id": tenant.id,
            "preferred_username": f"service-account-{client.clientId}",
            "teams": [team.key for team in tenant.teams],
        }

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.key_id})

    def verify(self, token: str) -> Claims:
        """Checks signature, expiry and issuer; raises `InvalidToken` without saying which failed."""
        try:
            payload = jwt.decode(
                token,
                self._key.public_key(),
                algorithms=[ALGORITHM],
                options={"require": ["exp", "iat", "iss", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken() from exc
        issuer = str(payload["iss"])
        if not issuer.startswith(self._realms_prefix):
            raise InvalidToken()
        realm_access = payload.get("realm_access") or {}
        return Claims(
            subject=str(payload["sub"]),
            realm=issuer.removeprefix(self._realms_prefix),
            tenant_id=payload.get("tenant_id"),
            scopes=frozenset(str(payload.get("scope", "")).split()),
            roles=frozenset(realm_access.get("roles", [])),
        )

    def jwks(self) -> dict[str, Any]:
        key = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [key | {"kid": self.key_id, "use": "sig", "alg": ALGORITHM}]}
