"""Rezolve writes that stay correct when answers are lost and people edit at the same time.

Create, exactly once: the ticket carries the item's marker (`mapping.create_body`). After a failure
that may have created it (anything but a 429), the marker is searched before the next attempt, and
a ticket found is adopted instead of created again.

Update, without overwriting anyone: Rezolve's etag changes on every write, and a PATCH carrying an
old one gets 400 ETAG_MISMATCH. The writer sends only the fields whose value changes, over the etag
it read. When the PATCH is refused for the etag, or its answer is lost, or Rezolve fails, it reads
the ticket again and looks at each field it is writing:

    value as when we read it      not written yet: send it again over the new etag
    value we are writing          already there (our lost write, or someone else's): drop it
    any other value               someone else changed it: VersionConflict naming the field

So a change made meanwhile to *other* fields never blocks the update, and a lost answer is never
mistaken for a conflict even though the old etag no longer matches.

With If-Match the caller saw an older version, and the same rule runs against that version's
values: Rezolve keeps no history, so they come from the caller (`TicketBaseline`, the ticket as
stored at that version), compared in normalized form. The answer thus depends on the store only,
not on which process served the request or what it read before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ticketbridge.connectors.errors import (
    VendorOutcomeUnknown,
    VendorRejected,
    VendorRetriable,
    VersionConflict,
)
from ticketbridge.connectors.http import RetryPolicy
from ticketbridge.connectors.rezolve import fields as custom
from ticketbridge.connectors.rezolve import mapping
from ticketbridge.connectors.rezolve.client import EtagMismatch, RezolveClient
from ticketbridge.connectors.rezolve.memory import ConnectionMemory
from ticketbridge.connectors.rezolve.schema import TicketTypeSchema
from ticketbridge.domain.tickets import CreateItem, TicketBaseline, TicketChanges, VendorTicket
from ticketbridge.observability import get_logger

log = get_logger("ticketbridge.connectors.rezolve")
Json = dict[str, Any]
Fetch = Callable[[str], Awaitable[Json]]
FindByMarkers = Callable[[list[str]], Awaitable[dict[str, Json]]]


class TicketWriter:
    def __init__(
        self,
        *,
        client: RezolveClient,
        memory: ConnectionMemory,
        policy: RetryPolicy,
        fetch: Fetch,
        find_by_markers: FindByMarkers,
    ) -> None:
        self._client = client
        self._memory = memory
        self._policy = policy
        self._fetch = fetch
        self._find_by_markers = find_by_markers

    async def create(self, item: CreateItem, schema: TicketTypeSchema, *, parent_object_id: str | None) -> Json:
        """Creates the ticket or adopts the one an earlier attempt created; returns it as read.
        Raises VendorOutcomeUnknown when attempts ran out after a failure that may have created it
        (the caller retries with `reconcile`), VendorRetriable when none could have."""
        try:
            body = mapping.create_body(item, schema, parent_object_id=parent_object_id)
        except VendorRejected as exc:
            raise mapping.with_field_names(exc, schema) from None
        may_exist = False
        failure: VendorRetriable | None = None
        for attempt in range(self._policy.attempts):
            if may_exist:
                found = await self._find_by_markers([item.marker])
                if item.marker in found:
                    log.info("connector.rezolve.create_adopted", marker=item.marker, attempt=attempt)
                    return found[item.marker]
            try:
                created = await self._client.create_ticket(str(item.project_vendor_id), schema.id, body)
            except VendorRejected as exc:
                raise mapping.with_field_names(exc, schema) from None
            except VendorRetriable as exc:
                failure = exc
                # A 429 is refused before any work; any other failure may have created the ticket.
                may_exist = may_exist or not exc.is_rate_limit
                wait = exc.retry_after if exc.retry_after is not None else self._policy.backoff(attempt)
                if wait > self._policy.max_inline_wait:
                    break
                log.info(
                    "connector.rezolve.create_retry",
                    marker=item.marker,
                    attempt=attempt,
                    status=exc.status_code,
                    wait_seconds=round(wait, 3),
                )
                await asyncio.sleep(wait)
                continue
            return await self._fetch(mapping.object_id_of(created))
        assert failure is not None
        if may_exist:
            raise VendorOutcomeUnknown(
                f"Rezolve did not confirm creating {item.key!r}; it will be reconciled by its marker: {failure.message}"
            ) from failure
        raise failure

    async def update(
        self, current: Json, schema: TicketTypeSchema, changes: TicketChanges, *, expected: TicketBaseline | None
    ) -> Json:
        """Applies `changes` to the ticket read as `current`; returns the ticket as it ends up.
        Raises VersionConflict when `expected` is older than `current` and a field being written
        changed since (or when a field being written changes while we write)."""
        try:
            values = mapping.field_values(schema, mapping.update_values(changes))
            values.update(custom.wire_values(changes.custom_fields))
            status_id = schema.field_id("status")
            hops = self._status_hops(schema, current, changes.target_status) if status_id else []
        except VendorRejected as exc:
            raise mapping.with_field_names(exc, schema) from None
        if status_id is not None and hops:
            values[status_id] = hops[0]
        if expected is not None and current["etag"] != expected.version:
            self._check_since(expected, current, values, schema)
        state = await self._write(current, values, schema)
        for hop in hops[1:]:
            assert status_id is not None
            state = await self._write(state, {status_id: hop}, schema)
        return await self._fetch(mapping.object_id_of(state)) if state is not current else current

    def _status_hops(self, schema: TicketTypeSchema, current: Json, target: str | None) -> list[str]:
        """The statuses to pass through to reach `target` along the type's workflow."""
        if not target:
            return []
        key = schema.status_key(target)
        status_id = schema.field_id("status")
        now = (current.get("data") or {}).get(status_id) if status_id else None
        path = schema.status_path(str(now) if now else None, key) if key else None
        if path is None:
            reason = f"no workflow path from {now!r} to {target!r}" if key else f"unknown status {target!r}"
            raise VendorRejected(
                f"Rezolve cannot move {mapping.object_id_of(current)} to {target!r}: {reason}.",
                field_errors={"status": reason},
            )
        return path

    def _check_since(self, expected: TicketBaseline, current: Json, values: Json, schema: TicketTypeSchema) -> None:
        """The caller saw `expected` and the ticket has moved on: the update may go ahead only if
        none of its fields changed since. A field already holding the value written is no conflict."""
        before = _comparable(expected)
        now = _comparable(mapping.to_vendor_ticket(current, schema, {}))
        data: Json = current.get("data") or {}
        changed = [
            field_id
            for field_id, value in values.items()
            if data.get(field_id) != value
            and before.get(schema.unified_name(field_id), _UNKNOWN) != now.get(schema.unified_name(field_id))
        ]
        if changed:
            raise VersionConflict(
                f"{mapping.object_id_of(current)} changed since version {expected.version}.",
                fields=[schema.unified_name(field_id) for field_id in changed],
                current_version=str(current["etag"]),
            )

    async def _write(self, base: Json, values: Json, schema: TicketTypeSchema) -> Json:
        """Writes the `values` that differ from `base` (the ticket as read); returns the new state."""
        object_id = mapping.object_id_of(base)
        before: Json = base.get("data") or {}
        pending = {field_id: value for field_id, value in values.items() if before.get(field_id) != value}
        current = base
        for attempt in range(self._policy.attempts):
            if not pending:
                return current
            try:
                etag = await self._client.update_ticket(object_id, str(current["etag"]), pending)
            except VendorRejected as exc:
                raise mapping.with_field_names(exc, schema) from None
            except (EtagMismatch, VendorRetriable) as exc:
                await self._pause(exc, attempt)
                current = await self._fetch(object_id)
                pending = self._rebase(base, current, pending, schema)
                continue
            written = {**current, "etag": etag, "data": {**(current.get("data") or {}), **pending}}
            self._memory.remember(written)
            return written
        raise VendorOutcomeUnknown(f"Rezolve kept refusing or losing the update of {object_id}; it is safe to retry.")

    async def _pause(self, exc: Exception, attempt: int) -> None:
        wait = exc.retry_after if isinstance(exc, VendorRetriable) and exc.retry_after is not None else None
        wait = self._policy.backoff(attempt) if wait is None else wait
        if wait > self._policy.max_inline_wait:
            raise exc
        log.info(
            "connector.rezolve.update_reread",
            reason=type(exc).__name__,
            attempt=attempt,
            wait_seconds=round(wait, 3),
        )
        await asyncio.sleep(wait)

    @staticmethod
    def _rebase(base: Json, current: Json, pending: Json, schema: TicketTypeSchema) -> Json:
        """What is left to write over `current`; raises VersionConflict for fields someone else changed."""
        before: Json = base.get("data") or {}
        now: Json = current.get("data") or {}
        conflicts = [f for f, value in pending.items() if now.get(f) not in (before.get(f), value)]
        if conflicts:
            raise VersionConflict(
                f"{mapping.object_id_of(current)} was changed meanwhile in the fields being written.",
                fields=[schema.unified_name(field_id) for field_id in conflicts],
                current_version=str(current["etag"]),
            )
        return {field_id: value for field_id, value in pending.items() if now.get(field_id) != value}


#: Stands for a field the baseline does not carry: never equal to a value, so writing it conflicts.
_UNKNOWN = object()


def _comparable(ticket: TicketBaseline | VendorTicket) -> dict[str, Any]:
    """The fields an update writes, by unified name, normalized alike for a stored baseline and the
    vendor's ticket now (an empty value is None; status and priority by label, case aside)."""

    def folded(value: str | None) -> str | None:
        return value.casefold() if value else None

    return {
        "name": ticket.name or None,
        "description": ticket.description or None,
        "status": folded(ticket.status_name),
        "priority": folded(ticket.priority_name),
        "assigned_user_id": ticket.assignee_vendor_id or None,
    }
