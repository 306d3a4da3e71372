"""Connectors: one per vendor, behind the protocol in `base.py`. The registry is a plain mapping.

A vendor is one folder, `connectors/<vendor>/`, whose `SPEC` (`base.ConnectorSpec`) says all the
rest of the code knows about it; adding one is a line in `default_registry` (CONTRIBUTING.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from ticketbridge.connectors.base import Connector, ConnectorSpec, MetadataCache
from ticketbridge.connectors.http import DEFAULT_VENDOR_HTTP, ConnectionTransports, VendorHttp
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import Vendor


def default_registry() -> dict[Vendor, ConnectorSpec]:
    """Every vendor's spec, keyed by its `vendor` (a new dict each call: callers may trim theirs)."""
    # Imported on call: each vendor package imports this package's modules.
    from ticketbridge.connectors import jira, rezolve, servicenow

    return {spec.vendor: spec for spec in (jira.SPEC, rezolve.SPEC, servicenow.SPEC)}


def spec_for(vendor: Vendor) -> ConnectorSpec:
    """`vendor`'s spec in the default registry; LookupError when no connector serves it."""
    spec = default_registry().get(vendor)
    if spec is None:
        raise LookupError(f"no connector for vendor {vendor}")
    return spec


@dataclass
class ConnectorFactory:
    """Builds a connector for a connection from its decrypted credentials. `transport` lets tests and
    the demo route vendor traffic to in-process sandboxes; `http` holds the vendor timeout and retry
    policy (`VendorHttp.from_settings`).

    Each connection gets one `MetadataCache` for what it is configured as now: the cache is keyed
    by the base URL and a fingerprint of the credentials, and a connection whose base URL or
    credentials changed (in this process or any other: they are read from the store on every build)
    gets a new, empty one at once. The fingerprint is an HMAC-SHA256 under a key drawn per factory,
    so it never leaves the process and proves nothing about the secret to anyone who sees it."""

    registry: dict[Vendor, ConnectorSpec] = field(default_factory=default_registry)
    transport: httpx.AsyncBaseTransport | None = None
    http: VendorHttp = DEFAULT_VENDOR_HTTP
    #: Connection id -> (what the cache depends on, the cache).
    caches: dict[str, tuple[str, MetadataCache]] = field(default_factory=dict)
    #: Each connection's keep-alive HTTP pool and rate-limit gates, for the same fingerprint as its
    #: cache; over `transport` when one is given, so tests and the demo take production's path.
    transports: ConnectionTransports = field(default_factory=ConnectionTransports)
    _fingerprint_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def __post_init__(self) -> None:
        # A copy (`dataclasses.replace`) keeps the pools it was given: they are over this transport.
        if self.transport is not None and self.transports.borrowed is not self.transport:
            self.transports = ConnectionTransports.over(self.transport)

    def build(
        self, connection: ConnectionRead, credentials: dict[str, Any], *, before_write: Callable[[], None] | None = None
    ) -> Connector:
        """`before_write` runs before each write request the connector sends (see `VendorHttp`)."""
        spec = self.registry.get(connection.vendor)
        if spec is None:
            raise LookupError(f"no connector for vendor {connection.vendor}")
        http = self.http if before_write is None else replace(self.http, before_write=before_write)
        depends_on = self._depends_on(connection, credentials)
        cache = self._cache(str(connection.id), depends_on)
        lease = self.transports.lease(str(connection.id), depends_on, spec.capabilities.rate_limit_window)
        try:
            return spec.build(connection, credentials, lease, cache, http, spec.capabilities)
        except BaseException:
            lease.abandon()
            raise

    def cache_for(self, connection: ConnectionRead, credentials: dict[str, Any]) -> MetadataCache:
        """The connection's cache for its current base URL and credentials (a new one if they changed)."""
        return self._cache(str(connection.id), self._depends_on(connection, credentials))

    def _cache(self, connection_id: str, depends_on: str) -> MetadataCache:
        entry = self.caches.get(connection_id)
        if entry is None or not hmac.compare_digest(entry[0], depends_on):
            entry = (depends_on, MetadataCache())
            self.caches[connection_id] = entry
        return entry[1]

    async def aclose(self) -> None:
        """Closes the connections' HTTP pools (at shutdown: `Runtime.close`)."""
        await self.transports.aclose()

    def _depends_on(self, connection: ConnectionRead, credentials: dict[str, Any]) -> str:
        canonical = json.dumps(
            {"vendor": str(connection.vendor), "base_url": connection.base_url.rstrip("/"), "credentials": credentials},
            sort_keys=True,
            separators=(",", ":"),
            default=str,
        )
        return hmac.new(self._fingerprint_key, canonical.encode(), hashlib.sha256).hexdigest()
