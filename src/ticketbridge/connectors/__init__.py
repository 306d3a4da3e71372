"""Connectors: one per vendor, behind the protocol in `base.py`. The registry is a plain mapping."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx

from ticketbridge.connectors.base import Connector, ConnectorSpec, MetadataCache
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import Vendor


def default_registry() -> dict[Vendor, ConnectorSpec]:
    from ticketbridge.connectors import jira, rezolve

    return {Vendor.JIRA: jira.SPEC, Vendor.REZOLVE: rezolve.SPEC}


@dataclass
class ConnectorFactory:
    """Builds a connector for a connection from its decrypted credentials. `transport` lets tests and
    the demo route vendor traffic to in-process sandboxes; metadata caches live per connection."""

    registry: dict[Vendor, ConnectorSpec] = field(default_factory=default_registry)
    transport: httpx.AsyncBaseTransport | None = None
    caches: defaultdict[str, MetadataCache] = field(default_factory=lambda: defaultdict(MetadataCache))

    def build(self, connection: ConnectionRead, credentials: dict[str, Any]) -> Connector:
        spec = self.registry.get(connection.vendor)
        if spec is None:
            raise LookupError(f"no connector for vendor {connection.vendor}")
        return spec.build(connection, credentials, self.transport, self.caches[str(connection.id)])
