"""The job engine's vocabulary: statuses, the frozen `Job` value, item specs and results, and the
exceptions a handler raises to steer the engine."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobType(StrEnum):
    ITSM_TICKET_BULK_CREATE = "ITSM_TICKET_BULK_CREATE"  #: POST /v1/itsm/tickets/bulk
    ITSM_TICKET_BULK_UPDATE = "ITSM_TICKET_BULK_UPDATE"  #: POST /v1/itsm/tickets/bulk/update
    CONNECTOR_SYNC = "CONNECTOR_SYNC"  #: a scheduled or requested sync of one connection
    OAUTH_IDLE_REFRESH = "OAUTH_IDLE_REFRESH"  #: a refresh of a grant left unused (the idle-expiry guard)


class JobStatus(StrEnum):
    """The stored state of a job, which is also the queue's state."""

    QUEUED = "QUEUED"  #: waiting for `run_at`; clients see RUNNING once it has started (a retry)
    RUNNING = "RUNNING"  #: held by a worker under a lease
    SUCCESS = "SUCCESS"  #: finished; every item succeeded
    FAILED = "FAILED"  #: finished; an item failed, or the attempts ran out

    @property
    def is_finished(self) -> bool:
        return self in (JobStatus.SUCCESS, JobStatus.FAILED)


class ItemState(StrEnum):
    PENDING = "PENDING"  #: not done yet; a re-run does it (adopting `vendor_ref` if one is known)
    SUCCEEDED = "SUCCEEDED"  #: done; a re-run skips it
    FAILED = "FAILED"  #: done and failed; a re-run skips it, retry-failed copies it into a new job


@dataclass(frozen=True, slots=True)
class Job:
    """One job as the engine and the layers above see it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    connection_id: uuid.UUID
    job_type: str
    status: JobStatus
    payload: dict[str, Any]
    #: How many runs have started (1 on the first run); a RetryLater run gives its attempt back.
    attempt: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    #: On FAILED, a JSON object as text (Leen's form); None otherwise.
    failure_reason: str | None
    #: The last failed attempt's error (internal; never shown to clients).
    last_error: str | None
    retry_of_job_id: uuid.UUID | None
    #: Set while RUNNING: the fencing token of the current run.
    lease_token: uuid.UUID | None = None
    lease_expires_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Any) -> Job:
        return cls(
            id=row.id,
            organization_id=row.organization_id,
            connection_id=row.connection_id,
            job_type=row.job_type,
            status=JobStatus(row.status),
            payload=row.payload,
            attempt=row.attempts,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            failure_reason=row.failure_reason,
            last_error=row.last_error,
            retry_of_job_id=row.retry_of_job_id,
            lease_token=row.lease_token,
            lease_expires_at=row.lease_expires_at,
        )

    @property
    def visible_status(self) -> JobStatus:
        """What clients see: exactly QUEUED -> RUNNING -> SUCCESS | FAILED, so a started job that
        waits for its retry still reads RUNNING."""
        if self.status is JobStatus.QUEUED and self.started_at is not None:
            return JobStatus.RUNNING
        return self.status


@dataclass(frozen=True, slots=True)
class JobItemSpec:
    """One unit of work of a bulk job, given at enqueue.

    `key` is deterministic (e.g. the request index, or the caller's identifier) and unique within
    the job. `known` holds what is known before the run and belongs in the results: `identifier`
    for a create, `ticket_id` for an update. `vendor_ref` is set when a retry carries over a vendor
    write that already happened.
    """

    key: str
    request_index: int
    payload: dict[str, Any] = field(default_factory=dict)
    known: dict[str, Any] = field(default_factory=dict)
    vendor_ref: str | None = None


@dataclass(frozen=True, slots=True)
class JobItem:
    key: str
    request_index: int
    payload: dict[str, Any]
    state: ItemState
    #: The vendor's reference (e.g. a Jira key), noted as soon as the vendor write is known to have
    #: happened, so that a re-run adopts it instead of writing again.
    vendor_ref: str | None
    #: Accumulated result fields: identifier, ticket_id, and whatever the handler adds.
    result: dict[str, Any]
    #: On FAILED, a short message for the tenant and its stable code; None otherwise.
    error: str | None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One entry of a job's `results`, the same shape as the sync bulk endpoint's results."""

    request_index: int
    success: bool
    ticket_id: str | None
    vendor_ticket_id: str | None
    identifier: str | None
    error: str | None
    code: str | None
    #: Per field, why the item failed (`{loc, msg, type}`), when known.
    details: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, item: JobItem) -> ItemResult:
        ticket_id = item.result.get("ticket_id")
        return cls(
            request_index=item.request_index,
            success=item.state is ItemState.SUCCEEDED,
            ticket_id=None if ticket_id is None else str(ticket_id),
            vendor_ticket_id=item.vendor_ref,
            identifier=item.result.get("identifier"),
            error=item.error,
            code=item.code,
            details=list(item.result.get("details") or []),
        )


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a run failed: `code` and `message` are what the tenant sees, `detail` is for operators
    only (stored as the job's last_error, never shown)."""

    code: str
    message: str
    detail: str


@dataclass(frozen=True, slots=True)
class Progress:
    total: int = 0
    succeeded: int = 0
    failed: int = 0

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed


class RetryLater(Exception):
    """Raised by a handler for a transient failure (rate limit, vendor down): the job is requeued
    and its attempt is given back, so only real failures count against
    the maximum (`Settings.job_max_attempts`).

    `after_seconds` is the vendor's Retry-After when it named one; None means exponential backoff
    with jitter. Deferrals are bounded separately (`MAX_DEFERRALS` in engine.py).
    """

    def __init__(self, after_seconds: float | None, reason: str) -> None:
        super().__init__(reason)
        self.after_seconds = after_seconds
        self.reason = reason


class LeaseLost(Exception):
    """This worker no longer holds the job's lease: another worker took it over (or it was released),
    so nothing this run writes may land. Handlers let it propagate."""
