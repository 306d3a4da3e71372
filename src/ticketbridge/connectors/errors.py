"""Vendor errors, grouped by what the caller does next (retriable, unknown outcome, fatal).

    VendorError
     ├── VendorRetriable        try again later: 429 (retry_after from the vendor) or 5xx/network
     │    └── VendorOutcomeUnknown   the request was sent and no answer came: a write may have happened
     ├── VendorAuthError        credentials rejected: the connection is unhealthy until fixed
     ├── VendorRejected         the vendor refused this request/item; `field_errors` says why
     │    └── VendorNotFound    the object does not exist (or is not visible)
     └── VersionConflict        the object changed since the version the caller expected

Connectors raise only these; services decide what each means for the job or the HTTP answer.
"""

from __future__ import annotations


class VendorError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class VendorRetriable(VendorError):
    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after

    @property
    def is_rate_limit(self) -> bool:
        return self.status_code == 429


class VendorOutcomeUnknown(VendorRetriable):
    """Sent, no answer: reconcile (e.g. search for the create marker) before retrying a write."""


class VendorAuthError(VendorError):
    pass


class VendorRejected(VendorError):
    def __init__(
        self, message: str, *, status_code: int | None = None, field_errors: dict[str, str] | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.field_errors = field_errors or {}


class VendorNotFound(VendorRejected):
    pass


class VersionConflict(VendorError):
    def __init__(self, message: str, *, fields: list[str] | None = None, current_version: str | None = None) -> None:
        super().__init__(message, status_code=None)
        self.fields = fields or []
        self.current_version = current_version
