"""What a Rezolve connection logs in with."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr

from ticketbridge.connectors.credentials import Credentials


class RezolveCredentials(Credentials):
    """OAuth 2.0 client credentials against the tenant's Keycloak realm."""

    #: The client secret goes to `auth_url`, when given: it follows the base URL's rules.
    secret_url_fields: ClassVar[tuple[str, ...]] = ("auth_url",)

    tenant_id: str = Field(min_length=1)
    realm: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    #: The token endpoint when it is not under the API's base URL.
    auth_url: str | None = None
