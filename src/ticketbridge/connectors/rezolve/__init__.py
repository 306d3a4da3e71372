"""Rezolve.ai (ticketing API v2) connector."""

from __future__ import annotations

from typing import Any

import httpx

from ticketbridge.connectors.base import Capabilities, ConnectorSpec, MetadataCache, SearchConsistency
from ticketbridge.connectors.http import DEFAULT_VENDOR_HTTP, VendorHttp, build_client
from ticketbridge.connectors.pacing import PER_SECOND
from ticketbridge.connectors.rezolve.client import RezolveClient
from ticketbridge.connectors.rezolve.connector import RezolveConnector
from ticketbridge.connectors.rezolve.credentials import RezolveCredentials
from ticketbridge.connectors.rezolve.mapping import DEFAULT_PRIORITY_MAPPING, DEFAULT_STATUS_MAPPING
from ticketbridge.connectors.rezolve.tokens import token_cache_for
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import Vendor

CAPABILITIES = Capabilities(
    # No bulk API: items go one call each, a few at a time (`MAX_CONCURRENT_ITEMS`).
    bulk_create_size=1,
    # The update is guarded by the ticket's etag (400 ETAG_MISMATCH).
    conditional_writes=True,
    search_consistency=SearchConsistency.READ_YOUR_WRITES,
    # The API overview names X-RateLimit-* and 429 but no window; read as a rate a second.
    rate_limit_window=PER_SECOND,
)
#: Keycloak's client-credentials endpoint, under the legacy `/auth` context path Rezolve's realms use.
TOKEN_PATH = "/auth/realms/{realm}/protocol/openid-connect/token"


def build(
    connection: ConnectionRead,
    credentials: dict[str, Any],
    transport: httpx.AsyncBaseTransport | None,
    cache: MetadataCache,
    http: VendorHttp = DEFAULT_VENDOR_HTTP,
    capabilities: Capabilities = CAPABILITIES,
) -> RezolveConnector:
    parsed = RezolveCredentials.model_validate(credentials)
    base_url = connection.base_url.rstrip("/")
    token_url = (parsed.auth_url or base_url).rstrip("/") + TOKEN_PATH.format(realm=parsed.realm)
    secret = parsed.client_secret.get_secret_value()
    options = http.for_connection(connection)
    client = RezolveClient(
        build_client(
            base_url,
            auth=None,
            transport=transport,
            timeout_secs=options.timeout_seconds,
            before_write=options.before_write,
        ),
        tenant_id=parsed.tenant_id,
        realm=parsed.realm,
        token_url=token_url,
        client_id=parsed.client_id,
        client_secret=secret,
        tokens=token_cache_for(cache, token_url=token_url, client_id=parsed.client_id, client_secret=secret),
    )
    return RezolveConnector(client=client, cache=cache, capabilities=capabilities, policy=options.retry)


SPEC = ConnectorSpec(
    vendor=Vendor.REZOLVE,
    title="Rezolve.ai",
    capabilities=CAPABILITIES,
    credentials_model=RezolveCredentials,
    base_url_hint="the Rezolve API URL",
    default_status_mapping=DEFAULT_STATUS_MAPPING,
    default_priority_mapping=DEFAULT_PRIORITY_MAPPING,
    build=build,
)
