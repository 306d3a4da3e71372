"""GET /v1/itsm/tickets over a store of 1,000,000 tickets (SQLite): cursor pages stay flat.

The rows are generated inside SQLite with one bulk INSERT ... SELECT over a recursive CTE (seconds,
not minutes), in the storage format our column types write: UUIDs as 32 hex characters, timestamps
as naive UTC text with microseconds. Each row has its own `updated_at` (one second apart).
Measured through `services.listing` (keyset query + validation of 100 `TicketRead`s), as the route
calls it; page 10,000 is the last page of 100.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sqlalchemy import select, text

from bench.support import jira_connection, median_ms, print_table, sqlite_runtime
from ticketbridge.services import listing
from ticketbridge.services.listing import FORWARD, encode_cursor
from ticketbridge.store.listing import Position, TicketFilters
from ticketbridge.store.tables import TicketRow

ROWS = 1_000_000
PAGE = 100
REPEAT = 30

INSERT = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
INSERT INTO tickets (
    id, organization_id, connection_id, vendor, vendor_id, vendor_key, name, status, vendor_status,
    status_category, priority, vendor_priority, type, type_vendor_id, project_vendor_id, tags, url,
    ticket_created_at, ticket_updated_at, status_updated_at, vendor_version, custom_fields, active,
    created_at, updated_at
)
SELECT
    lower(hex(randomblob(16))), :org, :conn, 'JIRA', CAST(100000 + i AS TEXT), 'BENCH-' || i,
    'Generated ticket ' || i, 'TODO', 'To Do', 'new', 'MEDIUM', 'Medium', 'Task', '10001', 'BENCH',
    '[]', 'http://jira.test/browse/BENCH-' || i,
    t, t, t, t, '{}', 1, t, t
FROM (
    SELECT i, strftime('%Y-%m-%d %H:%M:%S', '2026-01-01', '+' || i || ' seconds') || '.000000' AS t FROM n
)
"""


async def run(rows: int = ROWS) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as directory:
        runtime = await sqlite_runtime(Path(directory))
        try:
            connection = await jira_connection(runtime, "http://jira.test")
            started = time.perf_counter()
            async with runtime.sessionmaker.begin() as db:
                await db.execute(
                    text(INSERT),
                    {"rows": rows, "org": connection.organization_id.hex, "conn": connection.id.hex},
                )
            generated = time.perf_counter() - started
            async with runtime.engine.connect() as raw:
                await raw.execute(text("ANALYZE"))
            last_page = rows // PAGE
            async with runtime.sessionmaker() as db:
                before_last = (
                    await db.execute(
                        select(TicketRow.updated_at, TicketRow.id)
                        .where(TicketRow.connection_id == connection.id)
                        .order_by(TicketRow.updated_at, TicketRow.id)
                        .offset((last_page - 1) * PAGE - 1)
                        .limit(1)
                    )
                ).one()
            cursor = encode_cursor("tickets", FORWARD, Position(before_last.updated_at, before_last.id))

            async def page(cursor: str | None, offset: int = 0) -> None:
                async with runtime.sessionmaker() as db:
                    got = await listing.list_tickets(
                        db, connection, TicketFilters(), limit=PAGE, cursor=cursor, offset=offset
                    )
                assert len(got.items) == PAGE

            first = await median_ms(lambda: page(None), repeat=REPEAT)
            deep = await median_ms(lambda: page(cursor), repeat=REPEAT)
            by_offset = await median_ms(lambda: page(None, (last_page - 1) * PAGE), repeat=5)
        finally:
            await runtime.close()
    ratio = max(first, deep) / min(first, deep)
    return [
        ("tickets in the store", f"{rows:,}"),
        ("bulk INSERT of the rows", f"{generated:.1f} s"),
        ("page 1 (cursor, 100 rows), median", f"{first:.2f} ms"),
        (f"page {last_page:,} (cursor), median", f"{deep:.2f} ms"),
        ("ratio (slower / faster), must be <= 2", f"{ratio:.2f}x {'OK' if ratio <= 2 else 'FAIL'}"),
        (f"page {last_page:,} by offset, for contrast", f"{by_offset:.2f} ms"),
    ]


async def main(rows: int = ROWS) -> None:
    print_table("Listing tickets, SQLite", await run(rows))
