"""Settings of one Jira sandbox site: links, persistence, seeding, rate limits, faults, search lag, bulk pace,
and the OAuth 2.0 (3LO) authorization server it also plays (auth.atlassian.com, api.atlassian.com)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.sandboxes.faults import FaultConfig

DEFAULT_SEARCH_LAG_MS = 2000
#: The demo site's cloudId: the only one its `/ex/jira/{cloudId}/...` gateway paths accept.
DEMO_CLOUD_ID = "4b5a0a0e-5c1f-4d7e-9a39-3f0c6b1d2e7a"
#: "This token will expire in 7 days" (SearchAndReconcileResults.nextPageToken).
PAGE_TOKEN_TTL_SECONDS = 7 * 24 * 3600

#: The OAuth 2.0 (3LO) app every fresh sandbox has registered, as in Atlassian's developer console.
DEMO_OAUTH_CLIENT_ID = "demo-oauth-client-id"
DEMO_OAUTH_CLIENT_SECRET = "demo-oauth-client-secret"
DEMO_OAUTH_REDIRECT_URI = "http://127.0.0.1:8000/v1/oauth/jira/callback"
#: The demo admin (demo.DEMO_ACCOUNT_ID): whom the automatic consent signs in.
DEMO_CONSENT_ACCOUNT_ID = "5b10a2844c20165700ede21g"
DAY_SECONDS = 24 * 3600


class OAuthApp(BaseModel):
    """An OAuth 2.0 integration registered in the developer console: its credentials and callback URLs."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    name: str = "Demo integration"
    #: `redirect_uri` must equal one of these exactly, as Atlassian compares them.
    redirect_uris: list[str] = Field(default_factory=lambda: [DEMO_OAUTH_REDIRECT_URI])


class OAuthConfig(BaseModel):
    """The authorization server's lifetimes (Atlassian's documented values), consent and the switches for
    what Atlassian leaves undocumented. `GET`/`PUT /__sandbox__/oauth` read and replace it."""

    model_config = ConfigDict(extra="forbid")

    apps: list[OAuthApp] = Field(
        default_factory=lambda: [OAuthApp(client_id=DEMO_OAUTH_CLIENT_ID, client_secret=DEMO_OAUTH_CLIENT_SECRET)]
    )
    #: `expires_in` of every access token (Atlassian: 1 hour).
    access_token_seconds: int = Field(3600, gt=0)
    #: How long an authorization code can be exchanged. Atlassian publishes no value; RFC 6749 section
    #: 4.1.2 recommends at most 10 minutes, which is what Atlassian's staff answer in its forum.
    code_seconds: int = Field(600, gt=0)
    #: A rotated refresh token still works this long ("The leeway interval is 10 minutes").
    leeway_seconds: int = Field(600, ge=0)
    #: A refresh token unused this long expires ("90 days of user inactivity").
    idle_expiry_seconds: int = Field(90 * DAY_SECONDS, gt=0)
    #: Every refresh token of an authorization expires this long after consent ("365 days").
    absolute_expiry_seconds: int = Field(365 * DAY_SECONDS, gt=0)
    #: What `/authorize` does: `auto` consents at once for `consent_account_id` and redirects; `page`
    #: answers the consent screen (HTML, the sites to choose, Accept/Deny); `deny` redirects with
    #: `error=access_denied`, as when the user cancels.
    consent: Literal["auto", "page", "deny"] = "auto"
    consent_account_id: str = DEMO_CONSENT_ACCOUNT_ID
    #: The cloudId automatic consent picks (a hosted site); none: the sandbox's own site.
    consent_site: str | None = None
    #: Undocumented: a rotated refresh token used again within the leeway answers a `new` pair (the
    #: default, what Auth0's reuse interval does, on which Atlassian's tokens are built) or the `same`
    #: pair its first use answered.
    reuse_within_leeway: Literal["new", "same"] = "new"
    #: Undocumented: a refresh answers without `refresh_token` (the token sent is then not rotated and
    #: stays valid). Off by default: Atlassian documents a new refresh token on every refresh.
    omit_refresh_token: bool = False
    #: `name` of the sandbox's own site in `accessible-resources` (the site's subdomain on Jira Cloud).
    site_name: str = "demo"


class RateLimitConfig(BaseModel):
    """Jira Cloud's three limits, at the values Atlassian documents: burst buckets per endpoint and
    method, per-issue write windows, and the points-based hourly quota.

    On by default (standalone, `make demo`); the test suite's fixtures turn them off explicitly.
    """

    enabled: bool = True
    #: Steady-state requests per second per endpoint, by method class (Jira's defaults).
    get_per_second: float = Field(100, gt=0)
    post_per_second: float = Field(100, gt=0)
    put_per_second: float = Field(50, gt=0)
    delete_per_second: float = Field(50, gt=0)
    #: Per-issue write windows: (writes, seconds) pairs, as Jira documents them.
    issue_writes_short: int = Field(20, gt=0)
    issue_window_short_seconds: float = Field(2, gt=0)
    issue_writes_long: int = Field(100, gt=0)
    issue_window_long_seconds: float = Field(30, gt=0)
    #: Points per UTC hour: Tier 1, the "Global Pool" every app starts in (and the Free tenant pool).
    quota_points_per_hour: int = Field(65_000, gt=0)
    #: Which pool answers: `global` (jira-quota-global-based) or `tenant` (jira-quota-tenant-based).
    quota_pool: Literal["global", "tenant"] = "global"
    #: Whose traffic the quota governs: `oauth` (Bearer: OAuth 2.0, Forge and Connect apps; "API
    #: token-based traffic is not affected", as documented) or `all`.
    quota_applies_to: Literal["oauth", "all"] = "oauth"


class JiraSandboxConfig(BaseModel):
    base_url: str = "http://127.0.0.1:8100"
    #: The site's cloudId; `/ex/jira/{cloudId}/...` with any other id answers 404, as the gateway does.
    cloud_id: str = DEMO_CLOUD_ID
    persist_path: Path | None = None
    seed_demo: bool = True
    rate_limits: RateLimitConfig = Field(default_factory=RateLimitConfig)
    faults: FaultConfig = Field(default_factory=FaultConfig)
    in_process: bool = True
    #: Jira's search index lags behind writes: for this long a created issue stays out of `/search/jql`
    #: and an edited one is found and returned as it was, unless its id is in `reconcileIssues`. Live Jira
    #: shows most writes "within seconds"; 0 makes search read-after-write consistent (tests ask for it).
    search_lag_ms: float = Field(DEFAULT_SEARCH_LAG_MS, ge=0, allow_inf_nan=False)
    #: How long a `/search/jql` nextPageToken stays valid.
    page_token_ttl_seconds: float = Field(PAGE_TOKEN_TTL_SECONDS, gt=0, allow_inf_nan=False)
    #: Issues a bulk task processes per step.
    bulk_step_issues: int = Field(10, gt=0)
    #: Wall-clock milliseconds per bulk step; 0 means one step per request the site receives, which
    #: keeps progress deterministic in tests without any sleeping.
    bulk_step_ms: float = Field(0, ge=0)
    #: Jira allows this many bulk-operation tasks to run at once across all users.
    bulk_max_concurrent_tasks: int = Field(5, gt=0)
    #: The OAuth 2.0 (3LO) authorization server and gateway rules (see oauth.py).
    oauth: OAuthConfig = Field(default_factory=OAuthConfig)
