"""One vendor create per identifier, on every path and across processes: the claim protocol.

Every create path (single, bulk sync, async jobs and their retries) claims its identifiers in the
database before calling the vendor, in one short transaction that also looks for tickets already
stored under them. What the claim answers decides what the writer does:

- `Stored`: a ticket with this identifier exists; the writer reports it, the vendor is not called.
- `Create(reconcile)`: this writer calls the vendor. `reconcile` says an earlier writer may have
  reached the vendor, so the connector looks for the create marker first.
- `Recover(vendor_ref)`: the vendor confirmed the create earlier but storing it failed; the writer
  stores that vendor ticket and never creates again.
- `Busy(retry_after)`: another writer holds the claim, or the outcome of an unconfirmed create is
  not yet visible to a marker search (eventual search: see `Connector.marker_settle_seconds`).
  API requests wait a little and then answer 409 CREATE_IN_PROGRESS; jobs defer.

A claim that is `CLAIMED` past its `expires_at` belongs to a writer that died: its vendor call is
over by then (vendor timeouts keep a call inside a third of the job lease, and a claim lives a whole
lease), so after `reconcile_after` (expiry plus the connector's search settle time) a marker search
is trustworthy and the next writer takes the claim over with `reconcile`. The claim goes away in the
same transaction that stores the ticket under its identifier, so a later writer finds the ticket.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import TicketRead
from ticketbridge.store import claims as claims_store
from ticketbridge.store import tickets as tickets_store
from ticketbridge.store.base import utcnow

#: How long a busy claim is waited for by API requests before they answer 409.
WAIT_SECONDS = 5.0
_POLL_SECONDS = 0.2
#: Retry-After for a claim held by a writer that is still working.
IN_PROGRESS_RETRY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Stored:
    ticket: TicketRead


@dataclass(frozen=True, slots=True)
class Create:
    reconcile: bool


@dataclass(frozen=True, slots=True)
class Recover:
    vendor_ref: str


@dataclass(frozen=True, slots=True)
class Busy:
    retry_after: float


Decision = Stored | Create | Recover | Busy


@dataclass(frozen=True, slots=True)
class ClaimTerms:
    """Who claims, and for how long: `ttl_seconds` bounds the writer's vendor call, `settle_seconds`
    is the connector's search lag (how long until a marker search sees a create)."""

    owner: str
    ttl_seconds: float
    settle_seconds: float


def request_owner() -> str:
    return f"request:{uuid.uuid4()}"


def job_owner(job_id: uuid.UUID) -> str:
    return f"job:{job_id}"


async def claim(
    db: AsyncSession, connection: ConnectionRead, identifiers: Sequence[str], terms: ClaimTerms
) -> dict[str, Decision]:
    """Decides, for each identifier, what this writer does (see the module docstring)."""
    wanted = list(dict.fromkeys(identifiers))
    claimed = await claims_store.insert_missing(
        db,
        wanted,
        organization_id=connection.organization_id,
        connection_id=connection.id,
        owner=terms.owner,
        ttl_seconds=terms.ttl_seconds,
        settle_seconds=terms.settle_seconds,
    )
    # Looked up after the insert: a writer that stored its ticket and dropped its claim just before
    # our insert committed first (PostgreSQL's insert waits for it), so this statement sees the ticket.
    stored = await tickets_store.find_by_identifiers(db, wanted, connection_id=connection.id)
    decisions: dict[str, Decision] = {identifier: Stored(ticket) for identifier, ticket in stored.items()}
    await claims_store.release(db, [i for i in claimed if i in stored], connection_id=connection.id, owner=terms.owner)
    decisions.update({identifier: Create(reconcile=False) for identifier in claimed if identifier not in stored})
    wanted = [identifier for identifier in wanted if identifier not in stored]
    held = [identifier for identifier in wanted if identifier not in claimed]
    locked = await claims_store.lock_claims(db, held, connection_id=connection.id)
    now = utcnow()
    for identifier in held:
        current = locked.get(identifier)
        if current is None:  # its writer finished between our insert and our lock: look again soon
            decisions[identifier] = Busy(_POLL_SECONDS)
            continue
        decision = _decide(current, terms, now)
        if not isinstance(decision, Busy):
            await claims_store.take_over(
                db,
                identifier,
                connection_id=connection.id,
                owner=terms.owner,
                ttl_seconds=terms.ttl_seconds,
                settle_seconds=terms.settle_seconds,
                keep_written=isinstance(decision, Recover),
            )
        decisions[identifier] = decision
    return decisions


def _decide(current: claims_store.Claim, terms: ClaimTerms, now: datetime) -> Decision:
    if current.state == claims_store.WRITTEN and current.vendor_ref is not None:
        return Recover(current.vendor_ref)
    if current.state == claims_store.CLAIMED and current.owner != terms.owner and now < current.expires_at:
        return Busy(IN_PROGRESS_RETRY_SECONDS)
    # The earlier writer is gone (expired, gave up unconfirmed, or an earlier run of this same job,
    # whose vendor calls ended when its lease did): reconcile once a marker search can see its write.
    wait = (current.reconcile_after - now).total_seconds()
    if wait > 0:
        return Busy(wait)
    return Create(reconcile=True)


async def claim_waiting(
    sessionmaker: async_sessionmaker[AsyncSession],
    connection: ConnectionRead,
    identifiers: Sequence[str],
    terms: ClaimTerms,
    *,
    wait_seconds: float = WAIT_SECONDS,
) -> dict[str, Decision]:
    """`claim`, retried while some identifiers are busy for at most `wait_seconds` (API requests:
    a concurrent duplicate usually finishes within a second, and then its ticket is the answer)."""
    deadline = time.monotonic() + wait_seconds
    decisions: dict[str, Decision] = {}
    pending = list(dict.fromkeys(identifiers))
    while True:
        async with sessionmaker.begin() as db:
            decisions.update(await claim(db, connection, pending, terms))
        busy = {identifier: decision for identifier in pending if isinstance(decision := decisions[identifier], Busy)}
        soonest = min((decision.retry_after for decision in busy.values()), default=0.0)
        if not busy or time.monotonic() + min(soonest, _POLL_SECONDS) > deadline:
            return decisions
        pending = list(busy)
        await asyncio.sleep(min(max(soonest, 0.05), _POLL_SECONDS, max(0.0, deadline - time.monotonic())))


async def mark_written(db: AsyncSession, connection: ConnectionRead, refs: dict[str, str], terms: ClaimTerms) -> None:
    await claims_store.mark_written(db, refs, connection_id=connection.id, owner=terms.owner)


async def mark_unknown(
    db: AsyncSession,
    connection: ConnectionRead,
    identifiers: Sequence[str],
    terms: ClaimTerms,
    *,
    settle_seconds: float | None = None,
) -> None:
    """Leaves the claims unsettled: a marker search decides once `settle_seconds` (by default the
    connector's) have passed. 0 is for claims whose last attempt surely wrote nothing."""
    settle = terms.settle_seconds if settle_seconds is None else settle_seconds
    await claims_store.mark_unknown(
        db, identifiers, connection_id=connection.id, owner=terms.owner, settle_seconds=settle
    )


async def release(db: AsyncSession, connection: ConnectionRead, identifiers: Sequence[str], terms: ClaimTerms) -> None:
    await claims_store.release(db, identifiers, connection_id=connection.id, owner=terms.owner)


async def settle_stored(db: AsyncSession, connection: ConnectionRead, identifiers: Sequence[str]) -> None:
    """Drops the claims of identifiers whose ticket this transaction stores."""
    await claims_store.delete_claims(db, identifiers, connection_id=connection.id)


async def adopt_synced(db: AsyncSession, connection: ConnectionRead, vendor_ids: Sequence[str]) -> None:
    """A sync stored these vendor tickets: those a confirmed create made whose local write failed
    (WRITTEN claims) take their identifier now, and their claims go."""
    written = await claims_store.find_written(db, vendor_ids, connection_id=connection.id)
    await tickets_store.set_identifiers(db, written, connection_id=connection.id)
    await claims_store.delete_claims(db, list(written.values()), connection_id=connection.id)
