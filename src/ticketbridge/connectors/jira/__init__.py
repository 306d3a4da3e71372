"""Jira Cloud (REST API v3) connector."""

from __future__ import annotations

from typing import Any

import httpx

from ticketbridge.connectors.base import ConnectorSpec, MetadataCache
from ticketbridge.connectors.credentials import JiraCredentials
from ticketbridge.connectors.http import DEFAULT_VENDOR_HTTP, VendorHttp, build_client
from ticketbridge.connectors.jira.client import JiraClient
from ticketbridge.connectors.jira.connector import JiraConnector
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import Vendor


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
) -> JiraConnector:
    parsed = JiraCredentials.model_validate(credentials)
    auth: httpx.Auth
    if parsed.oauth_token is not None:
        auth = BearerAuth(parsed.oauth_token.get_secret_value())
    else:
        assert parsed.email is not None and parsed.api_token is not None
        auth = httpx.BasicAuth(parsed.email, parsed.api_token.get_secret_value())
    options = http.for_connection(connection)
    client = build_client(
        connection.base_url,
        auth=auth,
        transport=transport,
        timeout_secs=options.timeout_seconds,
        before_write=options.before_write,
    )
    return JiraConnector(client=JiraClient(client), site_url=connection.base_url, cache=cache, policy=options.retry)


SPEC = ConnectorSpec(vendor=Vendor.JIRA, config_model=JiraCredentials, build=build)
