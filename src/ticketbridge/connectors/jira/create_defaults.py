"""What Jira gives a new issue that the create's answer does not say, learned from read-backs.

POST /issue/bulk answers only each issue's id and key. The rest of a new issue is the request plus
what its project and issue type apply to every create: the workflow's first status, the default
priority and the default assignee when the create sets none. Those are the same for every create
into one project and type, so the first read-back after a create learns them and later creates
answer without a read-back of their own (`ItemOutcome.provisional`); the background read-back then
stores what is really per issue (its dates, its reporter). A configuration change shows in the
answers at most `LEARNED_TTL_SECONDS` late, and in the stored ticket at its read-back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ticketbridge.connectors.base import MetadataCache
from ticketbridge.connectors.jira import mapping
from ticketbridge.domain.tickets import CreateItem, VendorTicket
from ticketbridge.domain.vocabulary import StatusCategory

#: How long a learned default answers creates before a create reads back again to check it.
LEARNED_TTL_SECONDS = 600.0
_CACHE_KEY = ("learned", "create_defaults")


@dataclass(frozen=True, slots=True)
class _Learned:
    at: float
    status_name: str
    status_category: StatusCategory | None
    type_name: str | None
    type_vendor_id: str | None
    #: `(value,)` once a create that set no priority (assignee) was read back; None until then.
    priority: tuple[str | None] | None = None
    assignee: tuple[str | None] | None = None


class CreateDefaults:
    """The learned defaults of one connection (kept in its MetadataCache), by project and issue type."""

    def __init__(self, cache: MetadataCache, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[tuple[str, str], _Learned] = cache.setdefault(_CACHE_KEY, dict)
        self._clock = clock

    def learn(self, item: CreateItem, ticket: VendorTicket) -> None:
        """From the read-back of `item`'s new issue, while it is unchanged since its creation."""
        if ticket.version != mapping.UNCHANGED_SINCE_CREATED or not ticket.status_name:
            return
        key = _key_of(item)
        known = self._entries.get(key)
        learned = _Learned(
            at=self._clock(),
            status_name=ticket.status_name,
            status_category=ticket.status_category,
            type_name=ticket.type_name,
            type_vendor_id=ticket.type_vendor_id,
            priority=known.priority if known else None,
            assignee=known.assignee if known else None,
        )
        if item.priority_name is None:
            learned = replace(learned, priority=(ticket.priority_name,))
        if item.assignee_vendor_id is None:
            learned = replace(learned, assignee=(ticket.assignee_vendor_id,))
        self._entries[key] = learned

    def complete(self, item: CreateItem, placeholder: VendorTicket) -> VendorTicket | None:
        """`placeholder` (the request and the create's answer) with the defaults of its project and
        type, or None when one it needs is not known (freshly)."""
        learned = self._entries.get(_key_of(item))
        if learned is None or self._clock() - learned.at > LEARNED_TTL_SECONDS:
            return None
        priority = (item.priority_name,) if item.priority_name else learned.priority
        assignee = (item.assignee_vendor_id,) if item.assignee_vendor_id else learned.assignee
        if priority is None or assignee is None:
            return None
        return placeholder.model_copy(
            update={
                "status_name": learned.status_name,
                "status_category": learned.status_category,
                "type_name": learned.type_name,
                "type_vendor_id": learned.type_vendor_id,
                "priority_name": priority[0],
                "assignee_vendor_id": assignee[0],
            }
        )


def _key_of(item: CreateItem) -> tuple[str, str]:
    """A create names its type by id or by name (case-insensitive, as Jira reads it)."""
    type_key = f"id:{item.type_vendor_id}" if item.type_vendor_id else f"name:{(item.type_name or '').lower()}"
    return (item.project_vendor_id, type_key)
