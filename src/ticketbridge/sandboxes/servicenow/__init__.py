"""Emulator of a ServiceNow instance's REST APIs: Table, Batch, Attachment, OAuth (see README.md here)."""

from __future__ import annotations

from ticketbridge.sandboxes.servicenow.app import create_app
from ticketbridge.sandboxes.servicenow.config import RateLimitConfig, RateLimitRule, ServiceNowSandboxConfig
from ticketbridge.sandboxes.servicenow.demo import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    ITIL_PASSWORD,
    ITIL_USERNAME,
    REQUESTER_PASSWORD,
    REQUESTER_USERNAME,
    demo_sys_id,
)

__all__ = [
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_PASSWORD",
    "DEMO_USERNAME",
    "ITIL_PASSWORD",
    "ITIL_USERNAME",
    "REQUESTER_PASSWORD",
    "REQUESTER_USERNAME",
    "RateLimitConfig",
    "RateLimitRule",
    "ServiceNowSandboxConfig",
    "create_app",
    "demo_sys_id",
]
