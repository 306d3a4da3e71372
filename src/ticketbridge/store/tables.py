"""Table definitions. Every tenant-owned row carries organization_id (directly or via its connection)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ticketbridge.store.base import Base, new_id, utcnow


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    #: The first characters of the key, shown to people so they can tell keys apart.
    prefix: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the whole key, hex; the key itself is never stored.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_api_keys_organization_id", "organization_id"),)


class Connection(Base):
    __tablename__ = "connections"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    vendor: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20))
    base_url: Mapped[str] = mapped_column(String(500))
    #: Fernet token of the vendor credentials' JSON; never logged, never returned.
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    status_mapping: Mapped[dict[str, Any]]
    priority_mapping: Mapped[dict[str, Any]]
    refresh_interval_secs: Mapped[int]
    timeout_secs: Mapped[int]
    health_name: Mapped[str] = mapped_column(String(40))
    health_description: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_connections_organization_id", "organization_id"),)


# --- jobs ---


class JobRow(Base):
    """A job: the state of record and the queue at once (see jobs/README.md)."""

    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    job_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict[str, Any]]
    #: Runs started (a claim counts one; a RetryLater run gives its attempt back).
    attempts: Mapped[int] = mapped_column(default=0)
    #: RetryLater requeues; bounded apart from attempts.
    deferrals: Mapped[int] = mapped_column(default=0)
    #: A QUEUED job is claimable from this time on.
    run_at: Mapped[datetime]
    #: Fencing token of the current run: a new one at every claim; NULL when not RUNNING.
    lease_token: Mapped[uuid.UUID | None]
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    retry_of_job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_jobs_status_run_at", "status", "run_at"),
        Index("ix_jobs_connection_id_created_at", "connection_id", "created_at"),
        Index("ix_jobs_organization_id", "organization_id"),
        Index("ix_jobs_finished_at", "finished_at"),
    )


class JobItemRow(Base):
    """The per-item ledger of a job: what is done, and the vendor reference once known."""

    __tablename__ = "job_items"

    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_index: Mapped[int]
    payload: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(20))
    vendor_ref: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- tickets, projects, users, priorities, statuses ---


class ProjectRow(Base):
    """A vendor project (Jira project, Rezolve team) as of the last sync or write."""

    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    vendor_id: Mapped[str] = mapped_column(String(200))
    internal_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    project_type: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("connection_id", "vendor_id", name="uq_projects_connection_vendor"),
        Index("ix_projects_connection_updated", "connection_id", "updated_at", "id"),
    )


class UserRow(Base):
    """A vendor user (Jira account, Rezolve user)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    vendor_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(500))
    email: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))
    account_type: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("connection_id", "vendor_id", name="uq_users_connection_vendor"),
        Index("ix_users_connection_updated", "connection_id", "updated_at", "id"),
    )


class PriorityRow(Base):
    """A vendor priority (Jira priority, Rezolve priority option) as of the last sync; inactive once
    the vendor no longer lists it."""

    __tablename__ = "priorities"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    vendor_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("connection_id", "vendor_id", name="uq_priorities_connection_vendor"),)


class StatusRow(Base):
    """A vendor status (Jira status, Rezolve workflow status) as of the last sync; inactive once the
    vendor no longer lists it."""

    __tablename__ = "statuses"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    vendor_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    #: Jira's status-category key ("new", "indeterminate", "done"), Rezolve's mapped to it.
    category: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("connection_id", "vendor_id", name="uq_statuses_connection_vendor"),)


class TicketRow(Base):
    """A ticket written through ticketbridge or synced from the vendor: one row either way."""

    __tablename__ = "tickets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    vendor: Mapped[str] = mapped_column(String(20))
    vendor_id: Mapped[str] = mapped_column(String(200))
    vendor_key: Mapped[str] = mapped_column(String(200))
    identifier: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(40))
    vendor_status: Mapped[str | None] = mapped_column(String(200))
    status_category: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[str | None] = mapped_column(String(40))
    vendor_priority: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[str | None] = mapped_column(String(200))
    type_vendor_id: Mapped[str | None] = mapped_column(String(200))
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    project_vendor_id: Mapped[str | None] = mapped_column(String(200))
    assigned_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    assigned_user_vendor_id: Mapped[str | None] = mapped_column(String(200))
    created_by_user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_by_vendor_id: Mapped[str | None] = mapped_column(String(200))
    parent_ticket_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    parent_ticket_vendor_id: Mapped[str | None] = mapped_column(String(200))
    tags: Mapped[list[Any]]
    url: Mapped[str | None] = mapped_column(String(1000))
    due_date: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    status_updated_at: Mapped[datetime | None]
    ticket_created_at: Mapped[datetime | None]
    #: The vendor's own last-change time; a sync never overwrites a row with an older one.
    ticket_updated_at: Mapped[datetime | None]
    vendor_version: Mapped[str | None] = mapped_column(String(200))
    custom_fields: Mapped[dict[str, Any]]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("connection_id", "vendor_id", name="uq_tickets_connection_vendor"),
        UniqueConstraint("connection_id", "identifier", name="uq_tickets_connection_identifier"),
        Index("ix_tickets_connection_updated", "connection_id", "updated_at", "id"),
        Index("ix_tickets_connection_key", "connection_id", "vendor_key"),
    )


# --- sync ---


class SyncStateRow(Base):
    """Where a connection's sync stands: the high-water mark of the last complete run, and the
    checkpoint of a run in progress (so a run interrupted by a crash resumes instead of restarting)."""

    __tablename__ = "sync_states"

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    #: When the last complete run started: the next run asks for changes since then (minus an overlap).
    high_water_mark: Mapped[datetime | None]
    #: Set while a run is in progress; the run's own start, kept across a resume.
    run_started_at: Mapped[datetime | None]
    #: The `updated_since` of the run in progress (NULL: a full sync).
    run_since: Mapped[datetime | None]
    #: The vendor change time of the newest ticket the run in progress has stored.
    checkpoint: Mapped[datetime | None]
    #: "tickets" or "deletions" while a run is in progress.
    phase: Mapped[str | None] = mapped_column(String(20))
    tickets_synced: Mapped[int] = mapped_column(default=0)
    tickets_deactivated: Mapped[int] = mapped_column(default=0)
    last_completed_at: Mapped[datetime | None]


class SyncSeenRow(Base):
    """Vendor ids listed by the deletion walk of a run in progress; emptied at the start and the end."""

    __tablename__ = "sync_seen"

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    vendor_id: Mapped[str] = mapped_column(String(200), primary_key=True)


class CreateClaimRow(Base):
    """An identifier claimed for a create that is under way: at most one writer calls the vendor per
    (connection, identifier). The row goes away in the transaction that stores the ticket."""

    __tablename__ = "create_claims"

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    identifier: Mapped[str] = mapped_column(String(255), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    #: Who holds the claim: `job:<id>` for a job, `request:<uuid>` for an API request.
    owner: Mapped[str] = mapped_column(String(80))
    #: CLAIMED (a vendor call may be running), UNKNOWN (sent, unconfirmed), WRITTEN (vendor has it).
    state: Mapped[str] = mapped_column(String(20))
    #: Set once the vendor confirmed the create: the ticket is stored from it, never created again.
    vendor_ref: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(default=1)
    #: A CLAIMED row past this time belongs to a writer that died or gave up.
    expires_at: Mapped[datetime]
    #: From this time on a marker search sees any create the claim's writers may have made.
    reconcile_after: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyKeyRow(Base):
    """A POST made with an Idempotency-Key: its first answer, replayed to repeats for 24 hours."""

    __tablename__ = "idempotency_keys"

    #: Who may replay it: "<organization id>/<connection id>" for data requests, "admin" for /v1/admin.
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: The scope's organization (none for the admin scope): its keys go with it.
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    #: SHA-256 of the method, path and body: the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    #: IN_PROGRESS while the first request runs, DONE once its answer is stored.
    state: Mapped[str] = mapped_column(String(20))
    #: The running request's token: only it may store the answer (a fence after a takeover).
    lock_token: Mapped[str] = mapped_column(String(32))
    #: An IN_PROGRESS row past this time belongs to a request whose process died: it may run again.
    locked_until: Mapped[datetime]
    status_code: Mapped[int | None]
    #: The answer's headers as [name, value] pairs, in order (latin-1, as on the wire).
    response_headers: Mapped[list[Any]]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)


class ConnectionAuditRow(Base):
    """One change to a connection: who, when, which fields; never the values."""

    __tablename__ = "connection_audit"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    #: Who made the change: "admin-token:<fingerprint>" or "cli".
    actor: Mapped[str] = mapped_column(String(200))
    #: created, updated, credentials_changed, paused, resumed, deleted or credentials_rotated.
    action: Mapped[str] = mapped_column(String(40))
    #: Names of the fields the change touched (never their values).
    fields: Mapped[list[Any]]
    #: The X-Request-ID of the admin request (the middleware accepts up to 128 characters).
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_connection_audit_connection_created", "connection_id", "created_at"),)


# --- OAuth 2.0 (3LO) ---


class OAuthTokenRow(Base):
    """A 3LO connection's tokens (encrypted like its credentials) and what they grant. One row per
    connection; a refresh holds this row locked (store/oauth.py)."""

    __tablename__ = "oauth_tokens"

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    #: Fernet token of {"access_token", "refresh_token"}; never logged, never returned.
    tokens_encrypted: Mapped[str] = mapped_column(Text)
    access_token_expires_at: Mapped[datetime]
    #: The scopes the grant holds, as the token endpoint answered them.
    scopes: Mapped[list[Any]]
    cloud_id: Mapped[str] = mapped_column(String(100))
    #: ACTIVE, or REAUTHORIZE once the grant is gone (revoked, expired): the customer must connect again.
    status: Mapped[str] = mapped_column(String(20))
    #: The customer's consent: the grant's absolute lifetime counts from here.
    granted_at: Mapped[datetime]
    #: The last refresh (the refresh token's last use); None until the first.
    refreshed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_oauth_tokens_organization_id", "organization_id"),)


class OAuthStateRow(Base):
    """A connect flow's state, recorded when it is used (so it is used once), with the exchanged
    tokens held meanwhile (encrypted) when the customer still has to choose among several sites."""

    __tablename__ = "oauth_states"

    #: The state's random nonce.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    used_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The state's own expiry: after it the row is of no use and is swept.
    expires_at: Mapped[datetime]
    #: Fernet token of the exchanged tokens and the reachable sites, until `completed_at`.
    pending_encrypted: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_oauth_states_expires_at", "expires_at"),)
