"""What each vendor needs to log in, validated before it is encrypted and stored.

These models are the `config_model` of each connector spec; they live apart from the connectors so
that provisioning can validate credentials without building an HTTP client.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from ticketbridge.enums import Vendor
from ticketbridge.errors import InvalidRequest


class _Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JiraCredentials(_Credentials):
    """Basic auth with an Atlassian account's email and API token, or an OAuth 2.0 bearer token."""

    email: str | None = None
    api_token: SecretStr | None = None
    oauth_token: SecretStr | None = None

    @model_validator(mode="after")
    def _one_method(self) -> JiraCredentials:
        basic_fields = (self.email, self.api_token)
        if self.oauth_token is not None and any(field is not None for field in basic_fields):
            raise ValueError("give either email and api_token (basic auth) or oauth_token, not both")
        if self.oauth_token is None and any(field is None for field in basic_fields):
            raise ValueError("basic auth needs both email and api_token; or give oauth_token")
        return self


class RezolveCredentials(_Credentials):
    """OAuth 2.0 client credentials against the tenant's Keycloak realm."""

    tenant_id: str = Field(min_length=1)
    realm: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    #: The token endpoint when it is not under the API's base URL.
    auth_url: str | None = None


class ServiceNowCredentials(_Credentials):
    """Basic auth (username and password), or OAuth 2.0's password grant against the instance's
    `/oauth_token.do` when `client_id` and `client_secret` are given too. The rest is configuration:
    the incident field that holds the creation marker, and the values a resolve, close or hold
    needs when the request cannot carry them (the connector refuses those without them)."""

    username: str = Field(min_length=1)
    password: SecretStr
    client_id: str | None = Field(None, min_length=1)
    client_secret: SecretStr | None = None
    #: The incident field holding the creation marker, checked against sys_dictionary before use.
    marker_field: str = Field("correlation_id", pattern=r"^[a-z][a-z0-9_]{0,79}$")
    #: close_code and close_notes sent when a ticket is resolved or closed.
    close_code: str | None = Field(None, min_length=1)
    close_notes: str | None = Field(None, min_length=1)
    #: hold_reason sent when a ticket is put On Hold (a sys_choice value, "1" is Awaiting Caller).
    hold_reason: str | None = Field(None, min_length=1)
    #: Creates go through POST /api/now/v1/batch; false sends one POST per ticket.
    batch_api: bool = True

    @model_validator(mode="after")
    def _oauth_pair(self) -> ServiceNowCredentials:
        if (self.client_id is None) != (self.client_secret is None):
            raise ValueError("OAuth needs both client_id and client_secret; give neither for basic auth")
        return self


VendorCredentials = JiraCredentials | RezolveCredentials | ServiceNowCredentials
CREDENTIAL_MODELS: dict[Vendor, type[VendorCredentials]] = {
    Vendor.JIRA: JiraCredentials,
    Vendor.REZOLVE: RezolveCredentials,
    Vendor.SERVICENOW: ServiceNowCredentials,
}


def parse_credentials(vendor: Vendor, data: dict[str, Any]) -> VendorCredentials:
    """Validates a vendor's credentials; problems name their field but never echo a value."""
    try:
        return CREDENTIAL_MODELS[vendor].model_validate(data)
    except ValidationError as exc:
        details = [
            {"loc": ["body", "credentials", *problem["loc"]], "msg": problem["msg"], "type": problem["type"]}
            for problem in exc.errors()
        ]
        raise InvalidRequest(f"The credentials are invalid for a {vendor} connection.", details=details) from None


def dump_secret(credentials: VendorCredentials) -> dict[str, object]:
    """Plain values for encryption: the only place secrets are revealed, and only to the cipher."""
    data = credentials.model_dump(mode="python")
    return {key: value.get_secret_value() if isinstance(value, SecretStr) else value for key, value in data.items()}
