"""The job handlers of a ticketbridge process, wired to its Runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ticketbridge.jobs.models import JobType
from ticketbridge.jobs.registry import HandlerRegistry, JobHandler
from ticketbridge.services.bulk_create import run_bulk_create
from ticketbridge.services.bulk_update import run_bulk_update
from ticketbridge.services.sync import run_sync_job
from ticketbridge.services.token_sweep import run_idle_refresh_job

if TYPE_CHECKING:
    from ticketbridge.state import Runtime


def ticket_job_handlers(runtime: Runtime) -> HandlerRegistry:
    access = runtime.vendor_access
    return {
        JobType.ITSM_TICKET_BULK_CREATE: JobHandler(
            handle=lambda ctx: run_bulk_create(ctx, access), breakdown_key="identifier"
        ),
        JobType.ITSM_TICKET_BULK_UPDATE: JobHandler(
            handle=lambda ctx: run_bulk_update(ctx, access), breakdown_key="ticket_id"
        ),
        JobType.CONNECTOR_SYNC: JobHandler(handle=lambda ctx: run_sync_job(ctx, access)),
        JobType.OAUTH_IDLE_REFRESH: JobHandler(handle=lambda ctx: run_idle_refresh_job(ctx, access)),
    }
