"""Emulator of the Jira Cloud platform REST API v3 (see README.md in this folder)."""

from __future__ import annotations

from ticketbridge.sandboxes.jira.app import create_app
from ticketbridge.sandboxes.jira.config import (
    DEMO_CLOUD_ID,
    DEMO_OAUTH_CLIENT_ID,
    DEMO_OAUTH_CLIENT_SECRET,
    DEMO_OAUTH_REDIRECT_URI,
    JiraSandboxConfig,
    OAuthApp,
    OAuthConfig,
    RateLimitConfig,
)
from ticketbridge.sandboxes.jira.demo import (
    DEMO_ACCOUNT_ID,
    DEMO_API_TOKEN,
    DEMO_EMAIL,
    DEMO_OAUTH_TOKEN,
    DEMO_PROJECT_KEY,
    OPS_PROJECT_KEY,
    OUTSIDER_ACCOUNT_ID,
    OUTSIDER_API_TOKEN,
    OUTSIDER_EMAIL,
)

__all__ = [
    "DEMO_ACCOUNT_ID",
    "DEMO_API_TOKEN",
    "DEMO_CLOUD_ID",
    "DEMO_EMAIL",
    "DEMO_OAUTH_CLIENT_ID",
    "DEMO_OAUTH_CLIENT_SECRET",
    "DEMO_OAUTH_REDIRECT_URI",
    "DEMO_OAUTH_TOKEN",
    "DEMO_PROJECT_KEY",
    "OPS_PROJECT_KEY",
    "OUTSIDER_ACCOUNT_ID",
    "OUTSIDER_API_TOKEN",
    "OUTSIDER_EMAIL",
    "JiraSandboxConfig",
    "OAuthApp",
    "OAuthConfig",
    "RateLimitConfig",
    "create_app",
]
