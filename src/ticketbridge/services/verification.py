"""Verifying connections: one cheap authenticated call to the vendor (`Connector.check_health`, built
through the registry) decides whether a connection's site and credentials work.

Every create, every change of base_url or credentials and every request to make a connection ACTIVE
is verified inline, in the same admin request or CLI command, so its answer is the connection as it
ends up: ACTIVE, or PENDING with a health that names what failed. The vendor call runs between two short
transactions (nothing is held open meanwhile) and is bounded like any vendor read, by the vendor
timeout and the retry budget, with at most `VERIFY_ATTEMPTS` attempts: whoever waits for the answer
can verify again (`POST /v1/admin/connections/{id}/verify`), so a failing site is not retried for long.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.errors import VendorError, VendorRetriable
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.enums import ConnectionState, HealthName
from ticketbridge.errors import Conflict
from ticketbridge.observability import get_logger
from ticketbridge.services import connections as connections_service
from ticketbridge.services.connections import CLI_ACTOR, Actor, ConnectionCreate, ConnectionPatch
from ticketbridge.services.vendor_sites import PRODUCTION_SITES, SitePolicy
from ticketbridge.services.vendors import VendorAccess, health_for

log = get_logger("ticketbridge.services.verification")

#: Attempts of the check (one retry of a transient failure), within the usual retry budget.
VERIFY_ATTEMPTS = 2


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What the vendor's check says: HEALTHY, or the health that names the failure and why."""

    health: HealthName
    description: str | None = None

    @property
    def passed(self) -> bool:
        return self.health is HealthName.HEALTHY


async def create_connection(
    access: VendorAccess,
    data: ConnectionCreate,
    *,
    sites: SitePolicy = PRODUCTION_SITES,
    actor: Actor = CLI_ACTOR,
) -> ConnectionRead:
    """Creates the connection PENDING (committed), then verifies it: ACTIVE when the check passes."""
    async with access.sessionmaker.begin() as db:
        created = await connections_service.create_connection(db, access.cipher, data, sites=sites, actor=actor)
    return await verify_connection(access, created.id, actor=actor)


async def update_connection(
    access: VendorAccess,
    connection_id: uuid.UUID,
    patch: ConnectionPatch,
    *,
    sites: SitePolicy = PRODUCTION_SITES,
    actor: Actor = CLI_ACTOR,
) -> ConnectionRead:
    """Applies `patch` (committed), then verifies the connection when the patch left it waiting for
    a check (`connections.needs_verification`)."""
    async with access.sessionmaker.begin() as db:
        updated = await connections_service.update_connection(
            db, access.cipher, connection_id, patch, sites=sites, actor=actor
        )
    if not connections_service.needs_verification(patch, updated):
        return updated
    return await verify_connection(access, connection_id, actor=actor)


async def verify_connection(
    access: VendorAccess, connection_id: uuid.UUID, *, actor: Actor = CLI_ACTOR
) -> ConnectionRead:
    """Asks the vendor whether the connection works and records the answer
    (`connections.record_verification`). NotFound for an unknown connection, Conflict for a deleted one;
    a failed check is no error: the connection comes back with its health."""
    async with access.sessionmaker.begin() as db:
        connection = await connections_service.get_connection(db, connection_id)
        if connection.state is ConnectionState.DELETED:
            raise Conflict(f"Connection {connection.id} is deleted; it cannot be verified.")
        secrets = await connections_service.load_secrets(db, access.cipher, connection)
    result = await check(access.factory_for(connection, secrets.credentials), connection, secrets.credentials)
    log.info(
        "connection.verified" if result.passed else "connection.verification_failed",
        connection_id=str(connection.id),
        vendor=str(connection.vendor),
        health=str(result.health),
    )
    async with access.sessionmaker.begin() as db:
        return await connections_service.record_verification(
            db, access.cipher, secrets, result.health, result.description, actor=actor
        )


async def check(factory: ConnectorFactory, connection: ConnectionRead, credentials: dict[str, Any]) -> CheckResult:
    """Runs the vendor's `check_health` for `connection` with `credentials`; never raises a VendorError."""
    retry = replace(factory.http.retry, attempts=min(factory.http.retry.attempts, VERIFY_ATTEMPTS))
    # Same registry, transport and caches (keyed by site and credentials): only the retries differ.
    checking = replace(factory, http=replace(factory.http, retry=retry))
    try:
        connector = checking.build(connection, credentials)
    except LookupError as exc:  # no connector registered for the vendor
        return CheckResult(HealthName.INTERNAL_ERROR, str(exc))
    try:
        await connector.check_health()
    except VendorError as exc:
        return failure(connection, exc)
    finally:
        await connector.aclose()
    return CheckResult(HealthName.HEALTHY)


def failure(connection: ConnectionRead, error: VendorError) -> CheckResult:
    """The health a failed check means, described with the vendor's own message. Refused
    credentials are UNAUTHORIZED; a site that does not answer or times out is EXECUTION_TIMEOUT, 5xx
    VENDOR_SERVER_ERROR, 429 RATE_LIMIT_EXCEEDED (`vendors.health_for`); any other refusal of the
    call (a missing permission or scope, a base URL that is no vendor API) is VENDOR_CLIENT_ERROR."""
    health = health_for(error) or HealthName.VENDOR_CLIENT_ERROR
    description = error.message
    if error.status_code is not None:
        description = f"HTTP {error.status_code}: {description}"
    elif isinstance(error, VendorRetriable):
        description = f"{description} (at {connection.base_url})"
    return CheckResult(health, f"Verification failed: {description}")
