"""The jobs table is the queue: every statement the engine runs against it lives here, by name.

Times are passed in (`now`) rather than read from the database clock, so that the same statements run
on SQLite and PostgreSQL and the tests can place a call anywhere in a lease's life. Leases are tens
of seconds; hosts kept in sync by NTP differ by milliseconds.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.errors import NotFound
from ticketbridge.jobs.models import ItemState, Job, JobItem, JobItemSpec, JobStatus, LeaseLost
from ticketbridge.store.tables import JobItemRow, JobRow

jobs = cast(Table, JobRow.__table__)
items = cast(Table, JobItemRow.__table__)

#: Key of the PostgreSQL advisory lock that serializes claims, so that the per-connection cap holds
#: exactly even when several workers claim at the same moment (SQLite's single writer does the same).
CLAIM_LOCK_KEY = 0x7469636B6574  # "ticket"
#: PostgreSQL channel on which an enqueue wakes the workers (delivered at commit, dropped on rollback).
WAKEUP_CHANNEL = "ticketbridge_jobs"
#: Every stored error message is cut to this length: a vendor or an exception can say a lot.
MESSAGE_MAX_CHARS = 1000
#: The key of an item's `result` that holds its error code (the ledger has no column for it).
ERROR_CODE_KEY = "error_code"


def bounded(message: str) -> str:
    if len(message) <= MESSAGE_MAX_CHARS:
        return message
    return message[: MESSAGE_MAX_CHARS - 1] + "…"


def _bounded_or_none(message: str | None) -> str | None:
    return None if message is None else bounded(message)


async def insert_job(
    db: AsyncSession,
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
    job_type: str,
    payload: dict[str, Any],
    item_specs: list[JobItemSpec],
    now: datetime,
    retry_of_job_id: uuid.UUID | None = None,
) -> Job:
    job_id = uuid.uuid4()
    row = (
        await db.execute(
            insert(jobs)
            .values(
                id=job_id,
                organization_id=organization_id,
                connection_id=connection_id,
                job_type=job_type,
                status=JobStatus.QUEUED,
                payload=payload,
                attempts=0,
                deferrals=0,
                run_at=now,
                retry_of_job_id=retry_of_job_id,
                created_at=now,
            )
            .returning(*jobs.c)
        )
    ).one()
    if item_specs:
        await db.execute(
            insert(items),
            [
                {
                    "job_id": job_id,
                    "key": spec.key,
                    "request_index": spec.request_index,
                    "payload": spec.payload,
                    "state": ItemState.PENDING,
                    "vendor_ref": spec.vendor_ref,
                    "result": spec.known,
                    "error": None,
                    "updated_at": now,
                }
                for spec in item_specs
            ],
        )
    if _is_postgres(db):
        await db.execute(select(func.pg_notify(WAKEUP_CHANNEL, "")))
    return Job.from_row(row)


def _is_postgres(db: AsyncSession) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def _claimable(now: datetime) -> ColumnElement[bool]:
    # A RUNNING job whose lease has expired lost its worker: anyone may take it over.
    return or_(
        and_(jobs.c.status == JobStatus.QUEUED, jobs.c.run_at <= now),
        and_(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_expires_at < now),
    )


async def claim_jobs(
    db: AsyncSession,
    *,
    owner: str,
    token: uuid.UUID,
    job_types: Collection[str],
    limit: int,
    lease_seconds: float,
    connection_cap: int,
    now: datetime,
) -> list[Job]:
    """Takes up to `limit` due jobs of `job_types` (those this worker can run), at most
    `connection_cap` running per connection, oldest first.

    On PostgreSQL: `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING` under an
    advisory lock; on SQLite, BEGIN IMMEDIATE already made this transaction the only writer.
    Each claim counts an attempt and stamps a new fencing token.
    """
    if _is_postgres(db):
        await db.execute(select(func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))
    running = (
        select(jobs.c.connection_id, func.count().label("held"))
        .where(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_expires_at >= now)
        .group_by(jobs.c.connection_id)
        .subquery("running")
    )
    at_cap = select(running.c.connection_id).where(running.c.held >= connection_cap)
    # Connections at their cap are left out before the oldest candidates are taken, so a backlog on
    # one connection never hides another's jobs (the worker claims again at once after a short claim).
    candidates = (
        select(jobs.c.id, jobs.c.connection_id, jobs.c.run_at, jobs.c.created_at)
        .where(
            _claimable(now),
            jobs.c.job_type.in_(list(job_types)),
            jobs.c.connection_id.not_in(at_cap),
        )
        .order_by(jobs.c.run_at, jobs.c.created_at)
        .limit(limit * connection_cap)
        .subquery("candidates")
    )
    ranked = (
        select(
            candidates.c.id,
            func.coalesce(running.c.held, 0).label("held"),
            func.row_number()
            .over(
                partition_by=candidates.c.connection_id,
                order_by=(candidates.c.run_at, candidates.c.created_at),
            )
            .label("rank"),
        )
        .select_from(candidates.outerjoin(running, running.c.connection_id == candidates.c.connection_id))
        .subquery("ranked")
    )
    within_cap = select(ranked.c.id).where(ranked.c.held + ranked.c.rank <= connection_cap)
    locked = (
        select(jobs.c.id)
        .where(jobs.c.id.in_(within_cap))
        .order_by(jobs.c.run_at, jobs.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = await db.execute(
        update(jobs)
        .where(jobs.c.id.in_(locked))
        .values(
            status=JobStatus.RUNNING,
            attempts=jobs.c.attempts + 1,
            lease_token=token,
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            started_at=func.coalesce(jobs.c.started_at, now),
        )
        .returning(*jobs.c)
    )
    return sorted((Job.from_row(row) for row in rows), key=lambda job: (job.created_at, str(job.id)))


@dataclass(frozen=True, slots=True)
class Renewal:
    """What one heartbeat did: the leases it extended, and those it skipped because the row was locked
    (by the job's own fenced transaction, or a claim) while the committed row still names the token."""

    renewed: set[uuid.UUID]
    busy: set[uuid.UUID]


async def renew_leases(
    db: AsyncSession, job_ids: Collection[uuid.UUID], tokens: Collection[uuid.UUID], *, expires_at: datetime
) -> Renewal:
    """Extends the leases still held under one of `tokens`, skipping rows locked right now (SKIP LOCKED
    on PostgreSQL), so that the heartbeat never queues behind a job's own transaction.

    A skipped row cannot be taken over while it is locked (a takeover must lock it too), so skipping
    costs only a later renewal; ids neither renewed nor busy are lost. On SQLite the heartbeat is the
    only writer and skips nothing."""
    if not job_ids:
        return Renewal(set(), set())
    held = and_(
        jobs.c.id.in_(list(job_ids)),
        jobs.c.lease_token.in_(list(tokens)),
        jobs.c.status == JobStatus.RUNNING,
    )
    # FOR NO KEY UPDATE, the lock the UPDATE takes anyway: a foreign key's check does not make it skip.
    unlocked = select(jobs.c.id).where(held).with_for_update(skip_locked=True, key_share=True)
    rows = await db.execute(
        update(jobs).where(jobs.c.id.in_(unlocked)).values(lease_expires_at=expires_at).returning(jobs.c.id)
    )
    renewed = set(rows.scalars())
    rest = [job_id for job_id in job_ids if job_id not in renewed]
    if not rest:
        return Renewal(renewed, set())
    # A plain read waits for no lock: it sees the committed row, still ours if only locked.
    busy = await db.scalars(select(jobs.c.id).where(held, jobs.c.id.in_(rest)))
    return Renewal(renewed, set(busy))


async def hold_lease(db: AsyncSession, job_id: uuid.UUID, token: uuid.UUID) -> None:
    """Fences the current transaction: locks the job row if `token` still holds it, else LeaseLost.

    A takeover changes the token under the same row lock, so a write made after this check cannot
    interleave with one.
    """
    held = await db.scalar(
        select(jobs.c.id)
        .where(jobs.c.id == job_id, jobs.c.lease_token == token, jobs.c.status == JobStatus.RUNNING)
        .with_for_update()
    )
    if held is None:
        raise LeaseLost(f"job {job_id} is no longer held under this lease")


async def finish_job(
    db: AsyncSession,
    job_id: uuid.UUID,
    token: uuid.UUID,
    *,
    status: JobStatus,
    failure_reason: str | None,
    last_error: str | None,
    now: datetime,
) -> bool:
    """Ends a run for good; fenced: only the current lease holder's call changes anything."""
    result = await db.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.lease_token == token, jobs.c.status == JobStatus.RUNNING)
        .values(_finished(status, failure_reason, last_error, now))
        .returning(jobs.c.id)
    )
    return result.first() is not None


async def finish_if_succeeded(db: AsyncSession, job_id: uuid.UUID, token: uuid.UUID, *, now: datetime) -> bool:
    """The happy path of the end of a run in one fenced statement: SUCCESS if every item succeeded.
    False, changing nothing, when an item did not or the lease is not held (the caller looks why)."""
    not_succeeded = select(items.c.key).where(items.c.job_id == job_id, items.c.state != ItemState.SUCCEEDED)
    result = await db.execute(
        update(jobs)
        .where(
            jobs.c.id == job_id,
            jobs.c.lease_token == token,
            jobs.c.status == JobStatus.RUNNING,
            ~not_succeeded.exists(),
        )
        .values(_finished(JobStatus.SUCCESS, None, None, now))
        .returning(jobs.c.id)
    )
    return result.first() is not None


def _finished(status: JobStatus, failure_reason: str | None, last_error: str | None, now: datetime) -> dict[str, Any]:
    """The values of a job's row once its run has ended: the outcome, and no lease."""
    return {
        "status": status,
        "failure_reason": failure_reason,
        "last_error": _bounded_or_none(last_error),
        "finished_at": now,
        "lease_token": None,
        "lease_owner": None,
        "lease_expires_at": None,
    }


async def requeue_job(
    db: AsyncSession,
    job_id: uuid.UUID,
    token: uuid.UUID,
    *,
    run_at: datetime,
    last_error: str | None,
    refund_attempt: bool,
    deferral: bool,
) -> bool:
    """Puts a held job back in the queue for `run_at`; fenced like `finish_job`."""
    result = await db.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.lease_token == token, jobs.c.status == JobStatus.RUNNING)
        .values(
            status=JobStatus.QUEUED,
            run_at=run_at,
            last_error=_bounded_or_none(last_error),
            attempts=jobs.c.attempts - (1 if refund_attempt else 0),
            deferrals=jobs.c.deferrals + (1 if deferral else 0),
            lease_token=None,
            lease_owner=None,
            lease_expires_at=None,
        )
        .returning(jobs.c.id)
    )
    return result.first() is not None


async def get_deferrals(db: AsyncSession, job_id: uuid.UUID) -> int:
    return int(await db.scalar(select(jobs.c.deferrals).where(jobs.c.id == job_id)) or 0)


# --- the item ledger ---


def _item(row: Any) -> JobItem:
    state = ItemState(row.state)
    return JobItem(
        key=row.key,
        request_index=row.request_index,
        payload=row.payload,
        state=state,
        vendor_ref=row.vendor_ref,
        result=row.result,
        error=row.error,
        # Only a failed item has a code: one copied into a retry job's `known` means nothing there.
        code=row.result.get(ERROR_CODE_KEY) if state is ItemState.FAILED else None,
    )


async def list_items(
    db: AsyncSession, job_id: uuid.UUID, *, states: Iterable[ItemState] | None = None
) -> list[JobItem]:
    statement = select(items).where(items.c.job_id == job_id).order_by(items.c.request_index, items.c.key)
    if states is not None:
        statement = statement.where(items.c.state.in_(list(states)))
    return [_item(row) for row in await db.execute(statement)]


async def list_items_of(db: AsyncSession, job_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, list[JobItem]]:
    """Every item of each job, by request index (one query for a page of jobs)."""
    ledger: dict[uuid.UUID, list[JobItem]] = {job_id: [] for job_id in job_ids}
    if not job_ids:
        return ledger
    rows = await db.execute(
        select(items).where(items.c.job_id.in_(list(job_ids))).order_by(items.c.request_index, items.c.key)
    )
    for row in rows:
        ledger[row.job_id].append(_item(row))
    return ledger


@dataclass(frozen=True, slots=True)
class ItemChange:
    """What one write changes of one item: `state` (with its `error`, None for success) when given,
    `vendor_ref` when given, and `merge` merged into its `result`."""

    key: str
    state: ItemState | None = None
    error: str | None = None
    vendor_ref: str | None = None
    merge: Mapping[str, Any] | None = None


#: The ledger columns a change reads and writes, for the items of one job named by key.
_CURRENT_ITEMS = select(items.c.key, items.c.state, items.c.vendor_ref, items.c.result, items.c.error).where(
    items.c.job_id == bindparam("job_id"), items.c.key.in_(bindparam("keys", expanding=True))
)
#: Built once and run with one parameter set per item (executemany): compiled once, one round trip
#: per batch however many items it holds.
_WRITE_ITEM = (
    update(items)
    .where(items.c.job_id == bindparam("b_job_id"), items.c.key == bindparam("b_key"))
    .values(
        state=bindparam("b_state", type_=items.c.state.type),
        vendor_ref=bindparam("b_vendor_ref", type_=items.c.vendor_ref.type),
        result=bindparam("b_result", type_=items.c.result.type),
        error=bindparam("b_error", type_=items.c.error.type),
        updated_at=bindparam("b_updated_at", type_=items.c.updated_at.type),
    )
)


async def update_items(db: AsyncSession, job_id: uuid.UUID, changes: Sequence[ItemChange], *, now: datetime) -> None:
    """Applies `changes` in order (a key may appear more than once) in two statements, whatever
    their number: one read of the items' current values, one executemany of their new ones.

    The caller holds the job row (`hold_lease`), which every ledger write takes first, so nothing
    changes the items between the read and the write. Raises NotFound, writing nothing, when a key
    is not an item of the job."""
    if not changes:
        return
    keys = list(dict.fromkeys(change.key for change in changes))
    rows = await db.execute(_CURRENT_ITEMS, {"job_id": job_id, "keys": keys})
    current = {row.key: row._asdict() for row in rows}
    missing = [key for key in keys if key not in current]
    if missing:
        raise NotFound(f"Job {job_id} has no item {missing[0]!r}.")
    for change in changes:
        values = current[change.key]
        if change.state is not None:
            values["state"] = change.state
            values["error"] = _bounded_or_none(change.error)
        if change.vendor_ref is not None:
            values["vendor_ref"] = change.vendor_ref
        if change.merge:
            values["result"] = {**values["result"], **change.merge}
    await db.execute(
        _WRITE_ITEM,
        [
            {
                "b_job_id": job_id,
                "b_key": key,
                "b_state": values["state"],
                "b_vendor_ref": values["vendor_ref"],
                "b_result": values["result"],
                "b_error": values["error"],
                "b_updated_at": now,
            }
            for key, values in current.items()
        ],
    )


async def fail_pending_items(db: AsyncSession, job_id: uuid.UUID, *, code: str, error: str, now: datetime) -> None:
    keys = await db.scalars(select(items.c.key).where(items.c.job_id == job_id, items.c.state == ItemState.PENDING))
    merge = {ERROR_CODE_KEY: code}
    changes = [ItemChange(key, state=ItemState.FAILED, error=error, merge=merge) for key in keys]
    await update_items(db, job_id, changes, now=now)


# --- reads on behalf of a tenant ---


def _readable(*, organization_id: uuid.UUID, connection_id: uuid.UUID) -> Any:
    return select(jobs).where(jobs.c.organization_id == organization_id, jobs.c.connection_id == connection_id)


async def get_job_or_none(
    db: AsyncSession, job_id: uuid.UUID, *, organization_id: uuid.UUID, connection_id: uuid.UUID
) -> Job | None:
    statement = _readable(organization_id=organization_id, connection_id=connection_id)
    row = (await db.execute(statement.where(jobs.c.id == job_id))).first()
    return None if row is None else Job.from_row(row)


async def get_job(db: AsyncSession, job_id: uuid.UUID, *, organization_id: uuid.UUID, connection_id: uuid.UUID) -> Job:
    job = await get_job_or_none(db, job_id, organization_id=organization_id, connection_id=connection_id)
    if job is None:
        raise NotFound("Job not found.")
    return job


async def get_job_by_id(db: AsyncSession, job_id: uuid.UUID) -> Job:
    """Any tenant's job: for the engine and operators, never for a tenant's request."""
    row = (await db.execute(select(jobs).where(jobs.c.id == job_id))).first()
    if row is None:
        raise NotFound("Job not found.")
    return Job.from_row(row)


def _has_visible_status(status: JobStatus) -> ColumnElement[bool]:
    # Mirrors Job.visible_status: a started job waiting for its retry reads RUNNING.
    if status is JobStatus.QUEUED:
        return and_(jobs.c.status == JobStatus.QUEUED, jobs.c.started_at.is_(None))
    if status is JobStatus.RUNNING:
        return or_(
            jobs.c.status == JobStatus.RUNNING,
            and_(jobs.c.status == JobStatus.QUEUED, jobs.c.started_at.is_not(None)),
        )
    return jobs.c.status == status


async def list_jobs(
    db: AsyncSession,
    *,
    organization_id: uuid.UUID,
    connection_id: uuid.UUID,
    limit: int,
    status: JobStatus | None = None,
    job_type: str | None = None,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[Job]:
    """Newest first; `after` is the (created_at, id) of the last job of the previous page."""
    statement = _readable(organization_id=organization_id, connection_id=connection_id)
    if status is not None:
        statement = statement.where(_has_visible_status(status))
    if job_type is not None:
        statement = statement.where(jobs.c.job_type == job_type)
    if after is not None:
        created_at, job_id = after
        statement = statement.where(
            or_(jobs.c.created_at < created_at, and_(jobs.c.created_at == created_at, jobs.c.id < job_id))
        )
    statement = statement.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
    return [Job.from_row(row) for row in await db.execute(statement)]


# --- housekeeping and metrics ---


async def sweep_finished_jobs(db: AsyncSession, *, finished_before: datetime) -> int:
    """Deletes jobs finished before the cutoff (their items go with them); returns how many."""
    rows = await db.execute(
        delete(jobs)
        .where(jobs.c.finished_at < finished_before, jobs.c.status.in_([JobStatus.SUCCESS, JobStatus.FAILED]))
        .returning(jobs.c.id)
    )
    return len(rows.all())


async def count_jobs_by_status(db: AsyncSession) -> dict[JobStatus, int]:
    rows = await db.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status))
    counts = {status: 0 for status in JobStatus}
    for status, count in rows:
        counts[JobStatus(status)] = count
    return counts


async def oldest_due_run_at(db: AsyncSession, *, now: datetime) -> datetime | None:
    """When the longest-waiting due QUEUED job became due (None if nothing waits)."""
    oldest: datetime | None = await db.scalar(
        select(func.min(jobs.c.run_at)).where(jobs.c.status == JobStatus.QUEUED, jobs.c.run_at <= now)
    )
    return oldest
