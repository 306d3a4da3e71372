"""The idle-expiry guard's job (OAUTH_IDLE_REFRESH): refreshes an OAuth grant whose refresh token has
gone unused for `Settings.oauth_idle_refresh_days`, before the vendor expires it (Atlassian: after
90 days unused). `jobs/schedule.py` enqueues one per idle grant; a connection in daily use refreshes
every hour on its own and is never due.

What the refresh answers is classified as everywhere (`services/tokens.py`): a grant already gone
fails the job with the reason, the connection being marked for re-authorization; a refused client
secret fails it as the operator's error; an outage defers it (the tokens are kept)."""

from __future__ import annotations

from datetime import timedelta

from ticketbridge.connectors.errors import VendorRetriable
from ticketbridge.connectors.oauth import OAuthClientRejected, ReauthorizationRequired
from ticketbridge.enums import ConnectionState
from ticketbridge.errors import Conflict, NotConfigured, ReauthorizationNeeded, ServiceUnavailable
from ticketbridge.jobs.context import JobContext
from ticketbridge.jobs.models import RetryLater
from ticketbridge.jobs.schedule import IDLE_REFRESH_ITEM_KEY
from ticketbridge.observability import get_logger
from ticketbridge.services import connections as connections_service
from ticketbridge.services.vendors import VendorAccess, health_for

log = get_logger("ticketbridge.services.token_sweep")


async def run_idle_refresh_job(ctx: JobContext, access: VendorAccess) -> None:
    """The OAUTH_IDLE_REFRESH handler: one refresh, unless the grant was used since it was enqueued."""
    if not await ctx.pending_items():
        return
    async with ctx.sessionmaker.begin() as db:
        connection = await connections_service.get_connection(db, ctx.job.connection_id)
    config = access.oauth_apps.get(connection.vendor)
    if config is None:
        await ctx.item_failed(
            IDLE_REFRESH_ITEM_KEY,
            error=f"Connection {connection.id} was not refreshed: its vendor's OAuth app is not configured.",
            code=NotConfigured.code,
        )
        return
    if connection.state is ConnectionState.DELETED:
        await ctx.item_failed(
            IDLE_REFRESH_ITEM_KEY, error=f"Connection {connection.id} is deleted.", code=Conflict.code
        )
        return
    source = access.token_source(connection, config)
    used_before = access.clock() - timedelta(seconds=float(ctx.job.payload["idle_seconds"]))
    try:
        refreshed = await source.refresh_if_idle(used_before)
    except ReauthorizationRequired as exc:
        await ctx.item_failed(IDLE_REFRESH_ITEM_KEY, error=exc.message, code=ReauthorizationNeeded.code)
        return
    except OAuthClientRejected as exc:
        await access.record_health(connection, health_for(exc), exc.message)
        await ctx.item_failed(IDLE_REFRESH_ITEM_KEY, error=exc.message, code=ServiceUnavailable.code)
        return
    except VendorRetriable as exc:
        raise RetryLater(exc.retry_after, f"The token endpoint did not answer: {exc.message}") from exc
    log.info("oauth.idle_refresh", connection_id=str(connection.id), refreshed=refreshed)
    await ctx.item_succeeded(IDLE_REFRESH_ITEM_KEY, result={"refreshed": refreshed})
