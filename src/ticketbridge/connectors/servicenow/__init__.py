"""ServiceNow (Table API, incidents) connector."""

from __future__ import annotations

from typing import Any

import httpx

from ticketbridge.connectors.base import Capabilities, ConnectorSpec, MetadataCache, SearchConsistency
from ticketbridge.connectors.http import DEFAULT_VENDOR_HTTP, VendorHttp, build_client
from ticketbridge.connectors.pacing import LimitWindow
from ticketbridge.connectors.servicenow.client import OAuthGrant, ServiceNowClient
from ticketbridge.connectors.servicenow.connector import ServiceNowConnector
from ticketbridge.connectors.servicenow.credentials import ServiceNowCredentials
from ticketbridge.connectors.servicenow.mapping import DEFAULT_PRIORITY_MAPPING, DEFAULT_STATUS_MAPPING, CloseDefaults
from ticketbridge.connectors.servicenow.tokens import token_cache_for
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import Vendor

CAPABILITIES = Capabilities(
    # Inserts per Batch API call: ServiceNow ends a batch transaction after 30 s, so a few dozen. A
    # connection with `batch_api: false` sends one POST per ticket.
    bulk_create_size=25,
    # No conditional write: If-Match reads and compares sys_mod_count, then writes.
    conditional_writes=False,
    search_consistency=SearchConsistency.READ_YOUR_WRITES,
    # Inbound REST API rate limiting (sys_rate_limit_rules): X-RateLimit-Limit is the rule's requests
    # an hour, per user; the count starts again at X-RateLimit-Reset (Unix time), the top of the hour.
    rate_limit_window=LimitWindow(seconds=3600, fixed=True),
)


def build(
    connection: ConnectionRead,
    credentials: dict[str, Any],
    transport: httpx.AsyncBaseTransport | None,
    cache: MetadataCache,
    http: VendorHttp = DEFAULT_VENDOR_HTTP,
    capabilities: Capabilities = CAPABILITIES,
) -> ServiceNowConnector:
    """Basic auth when the credentials name no OAuth client; otherwise bearer tokens from the
    password grant, cached per connection and refreshed on expiry or a 401."""
    parsed = ServiceNowCredentials.model_validate(credentials)
    instance_url = connection.base_url.rstrip("/")
    password = parsed.password.get_secret_value()
    oauth: OAuthGrant | None = None
    auth: httpx.Auth | None = httpx.BasicAuth(parsed.username, password)
    if parsed.client_id is not None and parsed.client_secret is not None:
        oauth = OAuthGrant(
            client_id=parsed.client_id,
            client_secret=parsed.client_secret.get_secret_value(),
            username=parsed.username,
            password=password,
        )
        auth = None
    options = http.for_connection(connection)
    client = ServiceNowClient(
        build_client(
            instance_url,
            auth=auth,
            transport=transport,
            timeout_secs=options.timeout_seconds,
            before_write=options.before_write,
        ),
        oauth=oauth,
        tokens=token_cache_for(
            cache,
            instance_url=instance_url,
            client_id=oauth.client_id,
            username=oauth.username,
            secret=f"{oauth.client_secret}\n{oauth.password}",
        )
        if oauth is not None
        else None,
    )
    return ServiceNowConnector(
        client=client,
        cache=cache,
        capabilities=capabilities,
        instance_url=instance_url,
        marker_field=parsed.marker_field,
        defaults=CloseDefaults(
            close_code=parsed.close_code, close_notes=parsed.close_notes, hold_reason=parsed.hold_reason
        ),
        policy=options.retry,
        use_batch=parsed.batch_api,
    )


SPEC = ConnectorSpec(
    vendor=Vendor.SERVICENOW,
    title="ServiceNow",
    capabilities=CAPABILITIES,
    credentials_model=ServiceNowCredentials,
    base_url_hint="the instance URL, https://<instance>.service-now.com",
    default_status_mapping=DEFAULT_STATUS_MAPPING,
    default_priority_mapping=DEFAULT_PRIORITY_MAPPING,
    build=build,
)
