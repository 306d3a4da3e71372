"""Settings of one ServiceNow sandbox instance: links, persistence, seeding, OAuth, rate limits, batch, ACLs."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from ticketbridge.sandboxes.faults import FaultConfig

#: sys_id of the default rate-limit rule (sys_rate_limit_rules), answered in X-RateLimit-Rule.
DEFAULT_RULE_ID = "5f0c1b2a3d4e4f5a8b9c0d1e2f3a4b5c"


class RateLimitRule(BaseModel):
    """One row of sys_rate_limit_rules: requests per hour, per user, for one REST API resource."""

    sys_id: str = DEFAULT_RULE_ID
    name: str = "Table API - all users"
    #: "Table API", "Batch API", "Attachment API" or "*" for every REST API.
    api: str = "Table API"
    #: Only this table (Table API rules); None for every table.
    table: str | None = None
    #: Only this HTTP method; None for every method.
    method: str | None = None
    #: Only this user (Single user); None applies to all users.
    user_name: str | None = None
    requests_per_hour: int = Field(gt=0)


class RateLimitConfig(BaseModel):
    """Inbound REST API rate limiting. On by default (standalone, `make demo`), at a limit an integration
    meets in a busy hour; the test fixtures keep it (only tests about the limits change the rules)."""

    enabled: bool = True
    rules: list[RateLimitRule] = Field(default_factory=lambda: [RateLimitRule(requests_per_hour=5000)])


class ServiceNowSandboxConfig(BaseModel):
    base_url: str = "http://127.0.0.1:8300"
    #: JSON file the instance is loaded from at start and saved to after every write.
    persist_path: Path | None = None
    seed_demo: bool = True
    faults: FaultConfig = Field(default_factory=FaultConfig)
    in_process: bool = True
    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)
    #: OAuth access-token lifetime (ServiceNow's default: 1800 s) and refresh-token lifetime (100 days).
    access_token_ttl_seconds: int = Field(1800, gt=0)
    refresh_token_ttl_seconds: int = Field(8_640_000, gt=0)
    #: glide.oauth.inbound.client.credential.grant_type.enabled: off unless an admin turns it on.
    client_credentials_enabled: bool = False
    #: The "REST Batch API request timeout" transaction quota: items not started by then are unserviced.
    batch_timeout_seconds: float = Field(30, ge=0)
    #: glide.rest.batch.max.inputSize: an item whose body is larger is unserviced.
    batch_max_input_bytes: int = Field(5 * 1024 * 1024, gt=0)
    #: The data policy "On hold reason is mandatory when On Hold".
    hold_reason_required: bool = True
    #: sysparm_limit is applied before ACLs (ServiceNow's behaviour): a page can be short while more rows
    #: exist. False filters first, so pages are full.
    limit_before_acl: bool = True
