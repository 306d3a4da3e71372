"""Wire vocabularies shared by every layer (the values are what clients and the database see)."""

from __future__ import annotations

from enum import StrEnum


class Vendor(StrEnum):
    """The vendors, by the names Leen's API gives them. A member is named only in its own folders
    (`connectors/<vendor>/`, `sandboxes/<vendor>/`) and where the demo composes them; everything
    else reads what it needs from the vendor's spec (`connectors.spec_for`)."""

    JIRA = "JIRA"  #: Jira Cloud, REST API v3
    REZOLVE = "REZOLVE"  #: Rezolve.ai ticketing API v2
    SERVICENOW = "SERVICENOW"  #: ServiceNow Table API (incidents)


class ConnectionState(StrEnum):
    PENDING = "PENDING"  #: created, not yet verified against the vendor
    ACTIVE = "ACTIVE"  #: serves requests and syncs
    PAUSED = "PAUSED"  #: refuses data requests (409) until resumed
    DELETED = "DELETED"  #: refuses data requests (409) for good


class ResolutionOwner(StrEnum):
    TICKETBRIDGE = "TICKETBRIDGE"  #: our side must act
    VENDOR = "VENDOR"  #: the vendor is failing
    CUSTOMER = "CUSTOMER"  #: the customer must fix credentials or permissions


class HealthName(StrEnum):
    HEALTHY = "HEALTHY"
    EXECUTION_TIMEOUT = "EXECUTION_TIMEOUT"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    VENDOR_CLIENT_ERROR = "VENDOR_CLIENT_ERROR"
    VENDOR_SERVER_ERROR = "VENDOR_SERVER_ERROR"
    UNAUTHORIZED = "UNAUTHORIZED"
    INTERNAL_ERROR = "INTERNAL_ERROR"

    @property
    def resolution_owner(self) -> ResolutionOwner | None:
        return _OWNERS[self]

    @property
    def status(self) -> str:
        return "HEALTHY" if self is HealthName.HEALTHY else "UNHEALTHY"


_OWNERS: dict[HealthName, ResolutionOwner | None] = {
    HealthName.HEALTHY: None,
    HealthName.EXECUTION_TIMEOUT: ResolutionOwner.VENDOR,
    HealthName.RATE_LIMIT_EXCEEDED: ResolutionOwner.VENDOR,
    HealthName.VENDOR_CLIENT_ERROR: ResolutionOwner.CUSTOMER,
    HealthName.VENDOR_SERVER_ERROR: ResolutionOwner.VENDOR,
    HealthName.UNAUTHORIZED: ResolutionOwner.CUSTOMER,
    HealthName.INTERNAL_ERROR: ResolutionOwner.TICKETBRIDGE,
}
