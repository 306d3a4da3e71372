"""Passthrough reads: real time from the vendor, nothing stored.

Each call opens the connection's connector, so vendor failures become the domain errors of
`VendorAccess.open` (auth -> VendorAuthFailed and health UNAUTHORIZED, 429 -> RateLimited, 5xx ->
VendorUnavailable) and a success sets the health back to HEALTHY. A query the vendor refuses is a
BadVendorQuery carrying the vendor's own message.
"""

from __future__ import annotations

from ticketbridge.connectors.base import ProjectPage
from ticketbridge.connectors.errors import VendorRejected
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import SearchPage, VendorIssueType, VendorUser
from ticketbridge.errors import BadVendorQuery
from ticketbridge.services.vendors import VendorAccess

#: Leen's bound on a passthrough query.
MAX_QUERY_LENGTH = 5000


async def list_projects(
    access: VendorAccess, connection: ConnectionRead, *, limit: int, offset: int, include_issue_types: bool
) -> ProjectPage:
    async with access.open(connection) as connector:
        return await connector.list_projects(limit=limit, offset=offset, with_issue_types=include_issue_types)


async def list_issue_types(access: VendorAccess, connection: ConnectionRead, project_key: str) -> list[VendorIssueType]:
    async with access.open(connection) as connector:
        return await connector.list_issue_types(project_key)


async def list_assignable_users(
    access: VendorAccess, connection: ConnectionRead, project_key: str, *, query: str | None, limit: int
) -> list[VendorUser]:
    async with access.open(connection) as connector:
        return await connector.list_assignable_users(project_key, query, limit)


async def search_tickets(
    access: VendorAccess, connection: ConnectionRead, query: str, *, cursor: str | None, limit: int
) -> SearchPage:
    """`query` is vendor-native: JQL for Jira, the language of connectors/rezolve/query.py for Rezolve."""
    async with access.open(connection) as connector:
        try:
            return await connector.search_tickets(query, cursor=cursor, limit=limit)
        except VendorRejected as exc:
            raise BadVendorQuery(
                f"{connection.vendor} refused the query: {exc.message}",
                details=[{"loc": ["query", "jql"], "msg": exc.message, "type": "vendor_query"}],
            ) from exc
