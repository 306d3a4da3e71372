"""The create step every create path shares: claim, call the vendor at most once, store.

`create_once` takes resolved creates and the claim decisions for their identifiers
(`create_claims.claim`), and returns one `CreateResult` per entry:

1. `Stored` entries report the stored ticket (or a Conflict when it is another request's).
2. `Recover` entries read the vendor ticket a confirmed earlier create made; `Create` entries go to
   the connector in one batch, those with `reconcile` looked up by marker first.
   A connector may answer a ticket provisionally (not read back, `ItemOutcome.provisional`): it is
   stored like any other, then read back off the request path (`services/read_backs.py`).
3. One transaction then records what the vendor said: it stores the confirmed creates' tickets
   under their identifiers and drops their claims, marks unconfirmed ones UNKNOWN (reconciled once
   the search has settled) and releases refused ones.
4. If that transaction fails, a second one marks the confirmed creates' claims WRITTEN (never
   created again, whatever happens next) and `TicketNotStored` tells the caller the vendor has the
   tickets: the next attempt (or retry of the job) stores them without a vendor write. If that
   fails too, or the process stops before either commits, the claims stay CLAIMED and are
   reconciled by marker once they expire, as for a writer that died during its vendor call.
   (Storing first saves the request a transaction on the path every successful create takes.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.connectors.base import Capabilities, Connector
from ticketbridge.connectors.errors import VendorError, VendorNotFound
from ticketbridge.domain.fields import FieldRefusal
from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import TicketRead, VendorTicket
from ticketbridge.errors import CreateInProgress, NotFound, TicketNotStored, VendorRefused, VendorUnavailable
from ticketbridge.observability import get_logger
from ticketbridge.services import create_claims
from ticketbridge.services.create_claims import Busy, ClaimTerms, Create, Decision, Recover, Stored
from ticketbridge.services.persist import persist_vendor_tickets
from ticketbridge.services.ticket_requests import ResolvedCreate

log = get_logger("ticketbridge.services.creates")
Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]
#: `VendorAccess.read_back_later`: reads provisional tickets back off the request path.
ReadBackLater = Callable[[ConnectionRead, Collection[str]], None]
#: The code of an item whose identifier names another request's ticket.
IDENTIFIER_TAKEN = "IDENTIFIER_TAKEN"


@dataclass(frozen=True, slots=True)
class CreateResult:
    entry: ResolvedCreate
    ticket: TicketRead | None = None
    error: str | None = None
    warning: str | None = None
    #: Set when the create cannot be settled now (another writer holds the identifier, or an
    #: unconfirmed create is not yet visible to search): try again after this many seconds.
    retry_after: float | None = None
    #: The stable code of `error` (an errors.py code).
    code: str | None = None
    #: Per field, why the vendor refused the create (when it said).
    field_errors: tuple[FieldRefusal, ...] = ()

    @property
    def succeeded(self) -> bool:
        return self.ticket is not None


def claim_batch_size(capabilities: Capabilities, most: int) -> int:
    """How many creates to claim and send to the connector at once, up to `most`: whole vendor calls
    (`bulk_create_size` each, the connector's split), so that no batch ends in a part-filled call
    while more items wait; a single call's worth when one call takes more than `most`."""
    size = capabilities.bulk_create_size
    return max(most // size, 1) * size


def same_request(ticket: TicketRead, entry: ResolvedCreate) -> bool:
    """A stored ticket answers a create with its identifier when it is the same request again."""
    return ticket.name == entry.item.name and ticket.project_vendor_id == entry.item.project_vendor_id


def identifier_taken(ticket: TicketRead, entry: ResolvedCreate) -> str:
    return f"Identifier {entry.identifier!r} is already used by ticket {ticket.id}."


async def create_once(
    transaction: Transaction,
    connector: Connector,
    connection: ConnectionRead,
    entries: Sequence[ResolvedCreate],
    decisions: dict[str, Decision],
    terms: ClaimTerms,
    *,
    read_back_later: ReadBackLater,
) -> list[CreateResult]:
    """Results in the order of `entries`. Raises what the connector raises when nothing of the batch
    could be written (the claims taken are released first), and TicketNotStored (see above).
    Provisional tickets (the connector did not read them back) go to `read_back_later` once stored."""
    results: dict[int, CreateResult] = {}
    to_create: list[ResolvedCreate] = []
    to_recover: list[tuple[ResolvedCreate, str]] = []
    for entry in entries:
        decision = decisions[entry.identifier]
        if isinstance(decision, Stored):
            ticket = decision.ticket
            results[entry.request_index] = (
                CreateResult(entry, ticket=ticket)
                if same_request(ticket, entry)
                else CreateResult(entry, error=identifier_taken(ticket, entry), code=IDENTIFIER_TAKEN)
            )
        elif isinstance(decision, Busy):
            message = f"A create with identifier {entry.identifier!r} is in progress; retry."
            results[entry.request_index] = CreateResult(
                entry, error=message, retry_after=decision.retry_after, code=CreateInProgress.code
            )
        elif isinstance(decision, Recover):
            to_recover.append((entry, decision.vendor_ref))
        else:
            to_create.append(entry)
    written: list[tuple[ResolvedCreate, VendorTicket, str | None]] = []
    provisional: list[str] = []
    unknown: list[ResolvedCreate] = []
    refused: list[ResolvedCreate] = []
    for entry, vendor_ref in to_recover:
        try:
            written.append((entry, await connector.get_ticket(vendor_ref), None))
        except VendorNotFound:
            message = f"The vendor ticket {vendor_ref} created for identifier {entry.identifier!r} no longer exists."
            results[entry.request_index] = CreateResult(entry, error=message, code=NotFound.code)
            refused.append(entry)
    if to_create:
        reconcile = {entry.item.key for entry in to_create if _reconciles(decisions[entry.identifier])}
        identifiers = [entry.identifier for entry in to_create]
        try:
            outcomes = await connector.create_tickets(
                [entry.item for entry in to_create], reconcile=reconcile, provisional_ok=True
            )
        except VendorError:
            # This attempt wrote nothing (the connector raises only then). A fresh claim goes; one
            # taken over to reconcile stays unsettled, since an earlier attempt may have written.
            async with transaction() as db:
                fresh = [entry.identifier for entry in to_create if entry.item.key not in reconcile]
                await create_claims.release(db, connection, fresh, terms)
                again = [entry.identifier for entry in to_create if entry.item.key in reconcile]
                await create_claims.mark_unknown(db, connection, again, terms, settle_seconds=0.0)
            raise
        except BaseException:  # cancelled, lease lost, a bug: some may have been written
            async with transaction() as db:
                await create_claims.mark_unknown(db, connection, identifiers, terms)
            raise
        for entry, outcome in zip(to_create, outcomes, strict=True):
            if outcome.ticket is not None:
                written.append((entry, outcome.ticket, outcome.warning))
                if outcome.provisional:
                    provisional.append(outcome.ticket.vendor_id)
            elif outcome.unknown:
                unknown.append(entry)
                results[entry.request_index] = CreateResult(
                    entry,
                    error=f"The vendor did not confirm this create ({outcome.error}); retry with the same identifier.",
                    retry_after=max(terms.settle_seconds, create_claims.IN_PROGRESS_RETRY_SECONDS),
                    code=VendorUnavailable.code,
                )
            else:
                refused.append(entry)
                results[entry.request_index] = CreateResult(
                    entry,
                    error=outcome.error or "The vendor refused it.",
                    code=VendorRefused.code,
                    field_errors=outcome.field_errors,
                )
    stored = await _record_outcomes(transaction, connection, terms, written, unknown, refused)
    if written:
        read_back_later(connection, provisional)
        for (entry, _, warning), ticket in zip(written, stored, strict=True):
            results[entry.request_index] = CreateResult(entry, ticket=ticket, warning=warning)
    return [results[entry.request_index] for entry in entries]


def _reconciles(decision: Decision) -> bool:
    return isinstance(decision, Create) and decision.reconcile


async def _record_outcomes(
    transaction: Transaction,
    connection: ConnectionRead,
    terms: ClaimTerms,
    written: list[tuple[ResolvedCreate, VendorTicket, str | None]],
    unknown: Sequence[ResolvedCreate],
    refused: Sequence[ResolvedCreate],
) -> list[TicketRead]:
    """Steps 3 and 4 of the module docstring: the stored tickets of `written`, in order."""
    if not (written or unknown or refused):
        return []
    stored: list[TicketRead] = []
    try:
        async with transaction() as db:
            if written:
                pairs = [(ticket, entry.identifier) for entry, ticket, _ in written]
                stored = await persist_vendor_tickets(db, connection, pairs)
                await create_claims.settle_stored(db, connection, [entry.identifier for entry, _, _ in written])
            await _record_unwritten(db, connection, terms, unknown, refused)
    except SQLAlchemyError as exc:
        if not written:
            raise
        keys = ", ".join(ticket.key for _, ticket, _ in written)
        log.error("tickets.store_after_create_failed", connection_id=str(connection.id), vendor_keys=keys, exc_info=exc)
        refs = {entry.identifier: ticket.vendor_id for entry, ticket, _ in written}
        try:
            async with transaction() as db:
                await create_claims.mark_written(db, connection, refs, terms)
                await _record_unwritten(db, connection, terms, unknown, refused)
        except SQLAlchemyError as again:  # the claims stay CLAIMED: reconciled by marker once expired
            log.error("tickets.mark_written_failed", connection_id=str(connection.id), vendor_keys=keys, exc_info=again)
        raise TicketNotStored(
            f"{connection.vendor} has the ticket(s) {keys}, but storing them failed; retry the same request "
            "(the vendor is not written again) or wait for the next sync."
        ) from exc
    return stored


async def _record_unwritten(
    db: AsyncSession,
    connection: ConnectionRead,
    terms: ClaimTerms,
    unknown: Sequence[ResolvedCreate],
    refused: Sequence[ResolvedCreate],
) -> None:
    await create_claims.mark_unknown(db, connection, [entry.identifier for entry in unknown], terms)
    await create_claims.release(db, connection, [entry.identifier for entry in refused], terms)
