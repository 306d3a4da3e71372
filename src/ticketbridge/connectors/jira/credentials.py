"""What a Jira Cloud connection logs in with."""

from __future__ import annotations

from pydantic import SecretStr, model_validator

from ticketbridge.connectors.credentials import Credentials


class JiraCredentials(Credentials):
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
