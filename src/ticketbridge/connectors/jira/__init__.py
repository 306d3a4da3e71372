"""Jira Cloud (REST API v3) connector."""

from __future__ import annotations

from typing import Any

import httpx

from ticketbridge.connectors.base import Capabilities, ConnectorSpec, MetadataCache, SearchConsistency
from ticketbridge.connectors.http import DEFAULT_VENDOR_HTTP, VendorHttp, build_client
from ticketbridge.connectors.jira.client import JiraClient
from ticketbridge.connectors.jira.connector import JiraConnector
from ticketbridge.connectors.jira.credentials import JiraCredentials
from ticketbridge.connectors.jira.mapping import DEFAULT_PRIORITY_MAPPING, DEFAULT_STATUS_MAPPING
from ticketbridge.connectors.jira.oauth import CLOUD_ID, OAUTH
from ticketbridge.connectors.oauth import TokenSourceAuth
from ticketbridge.connectors.pacing import PER_SECOND
from ticketbridge.connectors.paths import segment
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import Vendor

CAPABILITIES = Capabilities(
    # POST /issue/bulk takes at most 50 issues.
    bulk_create_size=50,
    # No conditional edit: If-Match reads, compares `updated`, then writes.
    conditional_writes=False,
    # JQL's index lags writes: see `JiraConnector.marker_settle_seconds`.
    search_consistency=SearchConsistency.EVENTUAL,
    # The burst limits: a token bucket per endpoint, X-RateLimit-Limit a second, refilled continuously.
    rate_limit_window=PER_SECOND,
    bulk_update=True,
)


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request):  # type: ignore[no-untyped-def]
        request.headers["Authorization"] = self._header
        yield request


def build(
    connection: ConnectionRead,
    credentials: dict[str, Any],
    transport: httpx.AsyncBaseTransport | None,
    cache: MetadataCache,
    http: VendorHttp = DEFAULT_VENDOR_HTTP,
    capabilities: Capabilities = CAPABILITIES,
) -> JiraConnector:
    parsed = JiraCredentials.model_validate(credentials)
    auth: httpx.Auth
    api_url = connection.base_url
    if parsed.cloud_id is not None:
        # OAuth 2.0 (3LO): the site answers only through Atlassian's gateway, with the bearer token.
        if http.oauth is None:
            raise LookupError("an OAuth 2.0 (3LO) Jira connection needs a token source (VendorHttp.oauth)")
        auth = TokenSourceAuth(http.oauth.tokens)
        api_url = f"{http.oauth.api_base_url.rstrip('/')}/ex/jira/{segment(parsed.cloud_id, CLOUD_ID)}"
    elif parsed.oauth_token is not None:
        auth = BearerAuth(parsed.oauth_token.get_secret_value())
    else:
        assert parsed.email is not None and parsed.api_token is not None
        auth = httpx.BasicAuth(parsed.email, parsed.api_token.get_secret_value())
    options = http.for_connection(connection)
    client = build_client(
        api_url,
        auth=auth,
        transport=transport,
        timeout_secs=options.timeout_seconds,
        before_write=options.before_write,
    )
    return JiraConnector(
        client=JiraClient(client),
        site_url=connection.base_url,
        cache=cache,
        capabilities=capabilities,
        policy=options.retry,
    )


SPEC = ConnectorSpec(
    vendor=Vendor.JIRA,
    title="Jira Cloud",
    capabilities=CAPABILITIES,
    credentials_model=JiraCredentials,
    base_url_hint="the Jira site URL, https://<site>.atlassian.net",
    default_status_mapping=DEFAULT_STATUS_MAPPING,
    default_priority_mapping=DEFAULT_PRIORITY_MAPPING,
    build=build,
    oauth=OAUTH,
)
