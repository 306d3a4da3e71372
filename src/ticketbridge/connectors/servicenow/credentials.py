"""What a ServiceNow connection logs in with, and the incident settings it is configured with."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from ticketbridge.connectors.credentials import Credentials


class ServiceNowCredentials(Credentials):
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
