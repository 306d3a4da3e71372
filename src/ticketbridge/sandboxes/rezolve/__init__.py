"""In-repo emulator of Rezolve.ai's ticketing v2 API (see README.md in this folder)."""

from __future__ import annotations

from ticketbridge.sandboxes.rezolve.app import create_app
from ticketbridge.sandboxes.rezolve.config import RezolveSandboxConfig
from ticketbridge.sandboxes.rezolve.demo import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_READONLY_CLIENT_ID,
    DEMO_READONLY_CLIENT_SECRET,
    DEMO_REALM,
    DEMO_TENANT_ID,
    INCIDENT_FIELDS,
    INCIDENT_TYPE_ID,
    OTHER_CLIENT_ID,
    OTHER_CLIENT_SECRET,
    OTHER_REALM,
    OTHER_TENANT_ID,
    REQUEST_FIELDS,
    SERVICE_REQUEST_TYPE_ID,
)

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_READONLY_CLIENT_ID",
    "DEMO_READONLY_CLIENT_SECRET",
    "DEMO_REALM",
    "DEMO_TENANT_ID",
    "INCIDENT_FIELDS",
    "INCIDENT_TYPE_ID",
    "OTHER_CLIENT_ID",
    "OTHER_CLIENT_SECRET",
    "OTHER_REALM",
    "OTHER_TENANT_ID",
    "REQUEST_FIELDS",
    "SERVICE_REQUEST_TYPE_ID",
    "RezolveSandboxConfig",
    "create_app",
]
