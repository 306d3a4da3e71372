"""Domain errors, grouped by what the caller does next. Nothing HTTP lives here.

    TicketbridgeError
     ├── NotFound            the object does not exist, or belongs to another tenant
     │    └── NotConfigured        the deployment does not offer the feature (not set up)
     ├── Unauthenticated     missing, unknown or revoked credentials
     │    └── AdminUnauthenticated  the same for the admin token
     ├── Conflict            the request clashes with the current state (paused connection, duplicate)
     │    ├── ReauthorizationNeeded  the connection's OAuth grant is gone: the customer must connect again
     │    ├── CreateInProgress     another request or job is creating a ticket with this identifier
     │    └── IdempotencyInProgress  the first request with this Idempotency-Key still runs
     ├── PreconditionFailed  If-Match did not match the current version
     ├── InvalidRequest      the input is wrong; `details` lists each problem
     │    ├── InvalidFields        fields the vendor's configuration refuses (preflight, or the vendor)
     │    ├── VendorRefused        the vendor refused the input (its message is kept)
     │    └── IdempotencyKeyReused  the Idempotency-Key was used with another request
     ├── BadVendorQuery      a vendor-native query (JQL) the vendor cannot parse
 ├── OAuthFlowFailed     an OAuth connect flow cannot go on (bad, used or expired state; refused code)
 │    └── OAuthConsentDenied   the customer did not consent
     ├── VendorAuthFailed    the vendor rejected the connection's credentials
     ├── RateLimited         the vendor throttles us; retry after `retry_after_seconds`
     └── ServiceUnavailable  try again later
          ├── VendorUnavailable    the vendor failed in a way the caller may retry
          ├── DatabaseUnavailable  the database does not answer
          ├── TicketNotStored      the vendor has the ticket, storing it failed; a retry stores it
          └── NotMigrated          the database schema is not at head

Each class's docstring is its default message; `code` is stable and machine-readable.
"""

from __future__ import annotations

from typing import Any, ClassVar


class TicketbridgeError(Exception):
    """Something went wrong."""

    code: ClassVar[str] = "ERROR"
    #: When set, the caller may retry after this many seconds (the answer's Retry-After).
    retry_after_seconds: float | None = None

    def __init__(self, message: str | None = None, *, details: list[dict[str, Any]] | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.details = details or []
        super().__init__(self.message)


class NotFound(TicketbridgeError):
    """The requested object was not found."""

    code = "NOT_FOUND"


class NotConfigured(NotFound):
    """This deployment does not offer the feature: its operator has not configured it."""

    code = "NOT_CONFIGURED"


class Unauthenticated(TicketbridgeError):
    """A valid X-API-KEY header is required."""

    code = "UNAUTHENTICATED"


class AdminUnauthenticated(Unauthenticated):
    """A valid admin token is required (Authorization: Bearer <admin_token>)."""


class Conflict(TicketbridgeError):
    """The request conflicts with the current state of the object."""

    code = "CONFLICT"


class ReauthorizationNeeded(Conflict):
    """The connection needs to be re-authorized: the vendor no longer honours its OAuth grant."""

    code = "CONNECTION_NEEDS_REAUTHORIZATION"


class CreateInProgress(Conflict):
    """A create with this identifier is in progress; retry."""

    code = "CREATE_IN_PROGRESS"

    def __init__(self, message: str | None = None, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class IdempotencyInProgress(Conflict):
    """A request with this Idempotency-Key is still running; retry once it has finished."""

    code = "IDEMPOTENCY_IN_PROGRESS"
    retry_after_seconds: float | None = 1.0


class PreconditionFailed(TicketbridgeError):
    """The object changed since the version named in If-Match."""

    code = "PRECONDITION_FAILED"


class InvalidRequest(TicketbridgeError):
    """The request is invalid."""

    code = "INVALID_REQUEST"


class InvalidFields(InvalidRequest):
    """Some fields do not pass the vendor's field configuration; `details` names each with its code."""

    code = "INVALID_FIELDS"


class VendorRefused(InvalidRequest):
    """The vendor refused the request."""

    code = "VENDOR_REJECTED"


class IdempotencyKeyReused(InvalidRequest):
    """This Idempotency-Key was already used with another request (method, path or body)."""

    code = "IDEMPOTENCY_KEY_REUSED"


class BadVendorQuery(TicketbridgeError):
    """The vendor could not parse the query."""

    code = "INVALID_QUERY"


class OAuthFlowFailed(TicketbridgeError):
    """The OAuth connect flow cannot go on: start it again (POST .../connections/jira/authorize)."""

    code = "OAUTH_FLOW_FAILED"


class OAuthConsentDenied(OAuthFlowFailed):
    """The customer did not grant access to the site; nothing was connected."""

    code = "OAUTH_ACCESS_DENIED"


class VendorAuthFailed(TicketbridgeError):
    """The vendor rejected this connection's credentials; the connection's health is UNAUTHORIZED."""

    code = "VENDOR_UNAUTHORIZED"


class RateLimited(TicketbridgeError):
    """The vendor is rate limiting this connection; retry later."""

    code = "RATE_LIMITED"

    def __init__(self, message: str | None = None, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailable(TicketbridgeError):
    """The service cannot answer right now; try again later."""

    code = "SERVICE_UNAVAILABLE"


class VendorUnavailable(ServiceUnavailable):
    """The vendor did not answer in time; try again later."""

    code = "VENDOR_UNAVAILABLE"

    def __init__(self, message: str | None = None, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class DatabaseUnavailable(ServiceUnavailable):
    """The database is unreachable."""

    code = "DATABASE_UNAVAILABLE"


class TicketNotStored(ServiceUnavailable):
    """The vendor has the ticket, but storing it failed; retrying the same request stores it."""

    code = "TICKET_NOT_STORED"
    retry_after_seconds: float | None = 1.0


class NotMigrated(ServiceUnavailable):
    """The database is not migrated to the current schema: run `ticketbridge db upgrade`."""

    code = "NOT_MIGRATED"
