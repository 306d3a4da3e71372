"""What a vendor needs to log in: the base of every vendor's credentials model, and their parsing.

Each vendor's model lives in its folder (`connectors/<vendor>/credentials.py`) and is named by its
spec's `credentials_model`: the registry of specs is the one registry of credentials models, and
provisioning validates credentials through it without building an HTTP client.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from ticketbridge.enums import Vendor
from ticketbridge.errors import InvalidRequest


class Credentials(BaseModel):
    """A vendor's credentials as validated before they are encrypted; secrets are `SecretStr`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Fields holding a URL the secrets are sent to (besides the connection's base URL, e.g. a token
    #: endpoint elsewhere): provisioning holds them to the same rules as the base URL.
    secret_url_fields: ClassVar[tuple[str, ...]] = ()

    def secret_urls(self) -> dict[str, str]:
        """Field name -> URL, for the `secret_url_fields` that are set."""
        return {name: value for name in self.secret_url_fields if isinstance(value := getattr(self, name), str)}


def parse_credentials(vendor: Vendor, data: dict[str, Any]) -> Credentials:
    """Validates credentials with the model of `vendor`'s spec in the default registry; InvalidRequest
    (naming fields, never echoing a value) when they do not fit, LookupError for a vendor with no spec."""
    # Imported here: the vendor packages the registry loads import this module for `Credentials`.
    from ticketbridge.connectors import spec_for

    return validate_credentials(spec_for(vendor).credentials_model, data, vendor=vendor)


def validate_credentials(model: type[Credentials], data: dict[str, Any], *, vendor: str) -> Credentials:
    """`data` as a `model`; problems name their field but never echo a value."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            {"loc": ["body", "credentials", *problem["loc"]], "msg": problem["msg"], "type": problem["type"]}
            for problem in exc.errors()
        ]
        raise InvalidRequest(f"The credentials are invalid for a {vendor} connection.", details=details) from None


def dump_secret(credentials: Credentials) -> dict[str, object]:
    """Plain values for encryption: the only place secrets are revealed, and only to the cipher."""
    data = credentials.model_dump(mode="python")
    return {key: value.get_secret_value() if isinstance(value, SecretStr) else value for key, value in data.items()}
