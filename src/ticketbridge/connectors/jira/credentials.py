"""What a Jira Cloud connection logs in with."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from ticketbridge.connectors.credentials import Credentials


class JiraCredentials(Credentials):
    """Basic auth with an Atlassian account's email and API token, a static OAuth 2.0 bearer token,
    or an OAuth 2.0 (3LO) grant for the site `cloud_id`: its tokens are not credentials but live in
    the token store (services/tokens.py), and only the connect flow (POST
    /v1/admin/organizations/{org_id}/connections/jira/authorize) makes them."""

    email: str | None = None
    api_token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    cloud_id: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")

    @property
    def is_oauth_3lo(self) -> bool:
        return self.cloud_id is not None

    @model_validator(mode="after")
    def _one_method(self) -> JiraCredentials:
        basic_fields = (self.email, self.api_token)
        if self.cloud_id is not None:
            if self.oauth_token is not None or any(field is not None for field in basic_fields):
                raise ValueError("cloud_id (OAuth 2.0 3LO) takes no email, api_token or oauth_token")
            return self
        if self.oauth_token is not None and any(field is not None for field in basic_fields):
            raise ValueError("give either email and api_token (basic auth) or oauth_token, not both")
        if self.oauth_token is None and any(field is None for field in basic_fields):
            raise ValueError("basic auth needs both email and api_token; or give oauth_token")
        return self
