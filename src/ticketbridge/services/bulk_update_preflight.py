"""The preflight of a bulk update: every ticket checked against the vendor's write metadata before
any vendor write, in as few metadata reads as the checks allow. A refused ticket gets the details a
PATCH would get (`loc` under `body.updates`), and nothing is written for it.

- With custom fields, each ticket's edit metadata (its screen converts the values), as a PATCH.
- Without, a cleared field is checked against the create metadata of each distinct (project, type),
  and a status change against the transition into the target status, read from the edit metadata of
  one ticket per distinct (project, type, stored status). A status's transitions are the same for
  every ticket of a project and type; only whether a field they take is required depends on what the
  ticket holds. So another ticket of the group whose stored copy holds every such field the update
  does not give goes on (the vendor judges its values, as before any preflight); one whose copy lacks
  one is judged by its own edit metadata, read now, so a refusal never rests on a stale copy.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ticketbridge.connectors.base import Connector
from ticketbridge.connectors.errors import VendorNotFound
from ticketbridge.domain.fields import TransitionFields, WriteMetadata
from ticketbridge.domain.tickets import TicketChanges, TicketRead
from ticketbridge.errors import InvalidFields
from ticketbridge.jobs.context import Failed
from ticketbridge.services import preflight, write_metadata
from ticketbridge.services.write_metadata import Scope

PREFIX: list[Any] = ["body", "updates"]
REFUSED = "The update does not pass the vendor's field configuration for this ticket."
#: The stored ticket's attribute holding each unified field a transition may take.
STORED = {
    "name": "name",
    "description": "description",
    "priority": "vendor_priority",
    "assigned_user_id": "assigned_user_vendor_id",
    "parent_ticket_id": "parent_ticket_vendor_id",
}
Problems = dict[uuid.UUID, list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Preflighted:
    #: The tickets that may go to the vendor, grouped by the changes each group gets (converted
    #: custom field values may differ where the tickets' screens differ).
    groups: list[tuple[list[TicketRead], TicketChanges]]
    #: The tickets refused, with their details: to be recorded failed.
    refused: list[Failed]


async def preflight_updates(
    connector: Connector,
    tickets: Sequence[TicketRead],
    changes: TicketChanges,
    *,
    custom_fields: Mapping[str, Any],
    users: Mapping[str, str],
) -> Preflighted:
    """No vendor write happens here; a ticket the vendor does not know is left to the update, which
    fails it as the vendor answers."""
    if custom_fields:
        return await _each_screen(connector, tickets, changes, custom_fields, users)
    given, cleared = preflight.unified_of(changes)
    problems = await _cleared(connector, tickets, cleared)
    if changes.target_status is not None:
        await _transitions(connector, tickets, changes.target_status, given, cleared, problems)
    refused = [_failed(ticket, problems[ticket.id]) for ticket in tickets if ticket.id in problems]
    passed = [ticket for ticket in tickets if ticket.id not in problems]
    return Preflighted(groups=[(passed, changes)] if passed else [], refused=refused)


async def _each_screen(
    connector: Connector,
    tickets: Sequence[TicketRead],
    changes: TicketChanges,
    custom_fields: Mapping[str, Any],
    users: Mapping[str, str],
) -> Preflighted:
    groups: dict[str, tuple[list[TicketRead], TicketChanges]] = {}
    refused: list[Failed] = []
    for ticket in tickets:
        checked = await write_metadata.check_edit(
            connector, ticket.vendor_key, changes, custom_fields=custom_fields, users=users, prefix=PREFIX
        )
        if checked.problems:
            refused.append(_failed(ticket, checked.problems))
            continue
        ticket_changes = changes.model_copy(update={"custom_fields": checked.values})
        key = json.dumps(ticket_changes.model_dump(mode="json"), sort_keys=True)
        groups.setdefault(key, ([], ticket_changes))[0].append(ticket)
    return Preflighted(groups=list(groups.values()), refused=refused)


async def _cleared(connector: Connector, tickets: Sequence[TicketRead], cleared: set[str]) -> Problems:
    """Clearing a field that the ticket's project and type require. Which are required is read from
    the create metadata of each distinct (project, type) among the stored tickets, once each (from
    the cache when fresh), not from each ticket's edit metadata, so a bulk update stays one call of
    each bulk API; the values it sets the vendor's bulk APIs judge per ticket themselves."""
    if not cleared:
        return {}
    required: dict[Scope, set[str]] = {}
    problems: Problems = {}
    for ticket in tickets:
        if ticket.project_vendor_id is None:
            continue
        scope = (ticket.project_vendor_id, ticket.type_vendor_id, None if ticket.type_vendor_id else ticket.type)
        if scope not in required:
            meta = await write_metadata.metadata_for(connector, scope)
            required[scope] = {f.name for f in meta.unified if f.required} if meta is not None else set()
        found = [
            {
                "loc": [*PREFIX, name],
                "msg": f"{name} is required in this project and cannot be cleared",
                "type": preflight.REQUIRED_MISSING,
            }
            for name in sorted(cleared & required[scope])
        ]
        if found:
            problems[ticket.id] = found
    return problems


async def _transitions(
    connector: Connector,
    tickets: Sequence[TicketRead],
    target: str,
    given: set[str],
    cleared: set[str],
    problems: Problems,
) -> None:
    """Adds to `problems` what the transition into `target` refuses (see the module docstring)."""
    groups: dict[tuple[str | None, ...], list[TicketRead]] = {}
    for ticket in tickets:
        if (ticket.vendor_status or "").casefold() == target.casefold():
            continue  # stored at the target already: no transition to check
        key = (ticket.project_vendor_id, ticket.type_vendor_id, ticket.type, ticket.vendor_status)
        groups.setdefault(key, []).append(ticket)
    for members in groups.values():
        takes: TransitionFields | None = None  # the group's, as its first ticket the vendor knows has it
        for ticket in members:
            if takes is not None and _holds(ticket, takes, given):
                transition: TransitionFields | None = _as_held(takes)
            else:
                meta = await _edit_metadata(connector, ticket)
                if meta is None:
                    continue
                transition = meta.transition_to(target)
                if takes is None:
                    if transition is None:
                        break  # none straight into the target (or none the vendor names): as a PATCH, nothing to check
                    takes = transition
            if transition is None:
                continue
            found = preflight.check_transition(
                transition,
                unified_given=given,
                unified_cleared=cleared,
                prefix=PREFIX,
                problems=problems.get(ticket.id, ()),
            )
            if found:
                problems[ticket.id] = found


def _holds(ticket: TicketRead, transition: TransitionFields, given: Collection[str]) -> bool:
    """Whether the stored copy holds every field the transition takes that the update does not
    give (`given` includes the cleared fields: those are missing whatever the ticket holds)."""
    unified = [STORED.get(f.name) for f in transition.unified if f.name not in given]
    return all(name is not None and _has_value(getattr(ticket, name)) for name in unified) and all(
        _has_value(ticket.custom_fields.get(f.id)) for f in transition.custom_fields
    )


def _as_held(transition: TransitionFields) -> TransitionFields:
    """The transition as a ticket holding every field it takes sees it: none required."""
    return transition.model_copy(
        update={
            "unified": tuple(f.model_copy(update={"required": False}) for f in transition.unified),
            "custom_fields": tuple(f.model_copy(update={"required": False}) for f in transition.custom_fields),
        }
    )


def _has_value(value: Any) -> bool:
    return value not in (None, "", [], {})


async def _edit_metadata(connector: Connector, ticket: TicketRead) -> WriteMetadata | None:
    try:
        return await connector.edit_metadata(ticket.vendor_key)
    except VendorNotFound:
        return None


def _failed(ticket: TicketRead, problems: list[dict[str, Any]]) -> Failed:
    return Failed(str(ticket.id), REFUSED, InvalidFields.code, {"details": problems})
