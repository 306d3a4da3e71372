"""ServiceNow creates, exactly once, and updates that say when they could not be confirmed.

Create. Every incident carries its item's marker in the marker field (`correlation_id` unless the
connection names another, checked against sys_dictionary first: ServiceNow ignores a condition on an
unknown field, so `typoIN...` would match every incident and adopt a stranger's). Creates go through
the Batch API, up to `batch_size` inserts a call (the spec's `bulk_create_size`). Requests the
instance did not get to (`unserviced_requests`) wrote nothing and go again in the next round; so do
those a rate-limit rule refused (429 in the item's answer), after the wait their Retry-After names,
when the call's waits stay within the policy's `max_inline_wait`. A longer wait (an instance's counts
reset on the hour) is not slept: those items come back not sent, with it. When the instance has no
Batch API (404, or 400 "Requested URI does not represent any resource"), one POST per item, at most
`max_concurrent_items` at a time. A create whose answer was lost (timeout, dropped connection, a 5xx
that may follow a committed insert) comes back `unknown` and is never sent again here: the caller
reconciles it by marker (`reconcile`) first.

Update. ServiceNow's PATCH writes the fields given, and nothing else. A PATCH whose answer was lost
is settled by reading the incident back: when it holds every value written, the update is done;
otherwise it raises VendorOutcomeUnknown (nothing was blindly sent twice).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from ticketbridge.connectors.base import MetadataCache
from ticketbridge.connectors.errors import (
    VendorError,
    VendorNotFound,
    VendorOutcomeUnknown,
    VendorRejected,
    VendorRetriable,
)
from ticketbridge.connectors.http import RetryPolicy, with_retries
from ticketbridge.connectors.servicenow.client import (
    READ_PARAMS,
    TABLE_API,
    BatchItem,
    BatchResult,
    ServiceNowClient,
    envelope_message,
)
from ticketbridge.connectors.servicenow.mapping import TABLE, is_written
from ticketbridge.observability import get_logger

log = get_logger("ticketbridge.connectors.servicenow")
T = TypeVar("T")
Json = dict[str, Any]
#: Rounds of resending what a batch left unserviced before the rest is reported not written.
MAX_BATCH_ROUNDS = 5
#: Items of a bulk operation in flight at once when each is its own call (as for Rezolve).
MAX_CONCURRENT_ITEMS = 5


#: What an instance answers for a path it does not serve (the Batch API plugin inactive, say).
NO_RESOURCE = "Requested URI does not represent any resource"


class BatchUnavailable(Exception):
    """The instance has no Batch API; nothing was sent."""


def is_batch_missing(exc: VendorRejected) -> bool:
    return isinstance(exc, VendorNotFound) or (exc.status_code == 400 and exc.message.startswith(NO_RESOURCE))


@dataclass(slots=True)
class CreateOutcomes:
    """What became of each item (by key): the record created, or why not."""

    created: dict[str, Json] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    #: Sent without a confirmation: may exist.
    unknown: dict[str, str] = field(default_factory=dict)
    #: Surely not written, because the instance refused or did not get to the whole call.
    not_sent: dict[str, VendorError] = field(default_factory=dict)


@dataclass(slots=True)
class Throttled:
    """The items of one batch round that a rate-limit rule refused (429), and how long to wait."""

    keys: set[str] = field(default_factory=set)
    #: The longest wait any of them named (None: none said).
    wait: float | None = None
    message: str = ""

    def add(self, key: str, wait: float | None, message: str) -> None:
        self.keys.add(key)
        self.message = f"ServiceNow's rate limit refused this create ({message}); it is safe to retry."
        if wait is not None:
            self.wait = max(wait, self.wait or 0.0)


class Creator:
    def __init__(
        self,
        *,
        client: ServiceNowClient,
        cache: MetadataCache,
        policy: RetryPolicy,
        use_batch: bool,
        batch_size: int,
        max_concurrent_items: int = MAX_CONCURRENT_ITEMS,
    ) -> None:
        self._client = client
        self._cache = cache
        self._policy = policy
        self._use_batch = use_batch
        self._batch_size = batch_size
        self._slots = asyncio.Semaphore(max_concurrent_items)

    async def create(self, bodies: dict[str, Json]) -> CreateOutcomes:
        """Inserts one incident per entry of `bodies` (item key -> record values)."""
        outcomes = CreateOutcomes()
        if self._use_batch and not self._batch_unavailable():
            try:
                await self._create_in_batches(bodies, outcomes)
                return outcomes
            except BatchUnavailable:
                # No Batch API on this instance (or the sandbox): remember, and insert one by one.
                log.info("connector.servicenow.batch_unavailable")
                self._cache.setdefault(("servicenow", "batch_unavailable"), lambda: True)
        await self._create_singly(bodies, outcomes)
        return outcomes

    def _batch_unavailable(self) -> bool:
        return ("servicenow", "batch_unavailable") in self._cache.entries

    async def _create_in_batches(self, bodies: dict[str, Json], outcomes: CreateOutcomes) -> None:
        pending = list(bodies)
        first_call = True
        url = f"{TABLE_API}/{TABLE}?" + "&".join(f"{name}={value}" for name, value in READ_PARAMS.items())
        waited = 0.0
        for round_number in range(1, MAX_BATCH_ROUNDS + 1):
            if not pending:
                return
            left: list[str] = []
            throttled = Throttled()
            for start in range(0, len(pending), self._batch_size):
                chunk = pending[start : start + self._batch_size]
                ids = {f"c{n}": key for n, key in enumerate(chunk)}
                items = [BatchItem(id=rid, method="POST", url=url, body=bodies[key]) for rid, key in ids.items()]
                was_first, first_call = first_call, False
                try:
                    result = await self._write(
                        partial(self._client.batch, f"tb-{uuid.uuid4().hex[:12]}", items), "batchCreate"
                    )
                except VendorRejected as exc:
                    if not is_batch_missing(exc):
                        outcomes.rejected.update({key: exc.message for key in chunk})
                        continue
                    if was_first:
                        raise BatchUnavailable(exc.message) from exc
                    outcomes.not_sent.update({key: exc for key in chunk})
                    continue
                except VendorOutcomeUnknown as exc:
                    log.info("connector.servicenow.create_outcome_unknown", items=len(chunk))
                    outcomes.unknown.update({key: exc.message for key in chunk})
                    continue
                except VendorError as exc:  # refused as a whole (auth, rate limit): nothing written
                    outcomes.not_sent.update({key: exc for key in chunk})
                    continue
                left += self._read_batch(ids, result, outcomes, throttled)
            pending = left
            if not throttled.keys:
                continue
            wait = throttled.wait if throttled.wait is not None else self._policy.backoff(round_number)
            if round_number == MAX_BATCH_ROUNDS or waited + wait > self._policy.max_inline_wait:
                # Not waited out here (ServiceNow's counts reset hourly): the caller comes back then.
                error = VendorRetriable(throttled.message, status_code=429, retry_after=wait)
                outcomes.not_sent.update(dict.fromkeys(throttled.keys, error))
                pending = [key for key in pending if key not in throttled.keys]
            else:
                log.info("connector.servicenow.rate_limited", items=len(throttled.keys), wait_seconds=wait)
                waited += wait
                await asyncio.sleep(wait)
        for key in pending:
            outcomes.not_sent[key] = VendorRetriable("ServiceNow did not get to this create; it is safe to retry.")

    @staticmethod
    def _read_batch(
        ids: dict[str, str], result: BatchResult, outcomes: CreateOutcomes, throttled: Throttled
    ) -> list[str]:
        """Records each serviced answer; returns the keys to send again (unserviced, and 429s, which
        `throttled` gathers with the longest wait they named)."""
        again = [ids[rid] for rid in result.unserviced if rid in ids]
        for rid, key in ids.items():
            answer = result.serviced.get(rid)
            if answer is None:
                if key not in again:
                    outcomes.unknown[key] = "ServiceNow's batch answer does not mention this create."
                continue
            record = answer.body.get("result")
            message = envelope_message(answer.body) or answer.error_message or f"HTTP {answer.status_code}"
            if answer.status_code in (200, 201) and isinstance(record, dict) and record.get("sys_id"):
                outcomes.created[key] = record
            elif answer.status_code == 429:  # over a rate-limit rule: refused, nothing written
                again.append(key)
                throttled.add(key, answer.retry_after, message)
            elif answer.status_code >= 500 or answer.status_code < 300:
                outcomes.unknown[key] = f"ServiceNow did not confirm this create ({message})"
            else:
                outcomes.rejected[key] = message
        return again

    async def _create_singly(self, bodies: dict[str, Json], outcomes: CreateOutcomes) -> None:
        async def create(key: str) -> None:
            async with self._slots:
                try:
                    record = await self._write(partial(self._client.create_record, TABLE, bodies[key]), "createRecord")
                except VendorOutcomeUnknown as exc:
                    outcomes.unknown[key] = exc.message
                except VendorRejected as exc:
                    outcomes.rejected[key] = exc.message
                except VendorError as exc:
                    outcomes.not_sent[key] = exc
                else:
                    outcomes.created[key] = record

        await asyncio.gather(*(create(key) for key in bodies))

    async def _write(self, call: Callable[[], Awaitable[T]], operation: str) -> T:
        return await with_retries(call, policy=self._policy, operation=operation, idempotent=False)


async def update(
    client: ServiceNowClient,
    policy: RetryPolicy,
    sys_id: str,
    values: Json,
    *,
    read_back: Callable[[], Awaitable[Json]],
) -> Json:
    """PATCHes `values`; returns the record as updated. A lost answer is settled by `read_back`."""
    try:
        return await with_retries(
            partial(client.update_record, TABLE, sys_id, values),
            policy=policy,
            operation="updateRecord",
            idempotent=False,
        )
    except VendorOutcomeUnknown as exc:
        current = await read_back()
        if is_written(current, values):
            log.info("connector.servicenow.update_confirmed_by_reading", sys_id=sys_id)
            return current
        raise VendorOutcomeUnknown(
            f"ServiceNow did not confirm the update of {sys_id}, and it is not there yet; it is safe to retry: "
            f"{exc.message}",
            status_code=exc.status_code,
        ) from exc
