"""Turning a create or update request into vendor terms, before any vendor call.

Each reference may be given as our UUID or as the vendor's id, never both (the issue type excepted:
the seeds prefer type_vendor_id when both are given). Our UUIDs are resolved through the local store;
an unknown one fails the request naming its field. Statuses and priorities may be normalized values
(mapped through the connection's mappings) or the vendor's own names.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tenancy import ConnectionRead
from ticketbridge.domain.tickets import CreateItem, TicketChanges
from ticketbridge.errors import InvalidRequest
from ticketbridge.services.connections import NORMALIZED_PRIORITIES, NORMALIZED_STATUSES
from ticketbridge.services.preflight import candidate_users
from ticketbridge.store import directory
from ticketbridge.store import tickets as tickets_store

MAX_IDENTIFIER_LENGTH = 255
_MARKER = re.compile(r"^tb-[0-9a-f]{24}$")


class TicketCreate(BaseModel):
    """A create request as services take it (the API's ITSMTicketCreateRequestModel, validated)."""

    model_config = ConfigDict(frozen=True)

    name: str
    project_id: uuid.UUID | None = None
    project_vendor_id: str | None = None
    type: str | None = None
    type_vendor_id: str | None = None
    type_id: str | None = None
    description: str | None = None
    status: str | None = None
    priority: str | None = None
    assigned_user_id: uuid.UUID | None = None
    assigned_user_vendor_id: str | None = None
    parent_ticket_id: uuid.UUID | None = None
    parent_ticket_vendor_id: str | None = None
    identifier: str | None = None
    #: Vendor field id or unique name -> value, converted by the field's schema (services/preflight.py).
    custom_fields: dict[str, Any] | None = None


class TicketPatch(BaseModel):
    """The fields a PATCH or a bulk update may change; unset fields are left alone."""

    model_config = ConfigDict(frozen=True)

    status: str | None = None
    priority: str | None = None
    assigned_user_id: uuid.UUID | None = None
    name: str | None = None
    description: str | None = None
    custom_fields: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ResolvedCreate:
    item: CreateItem
    identifier: str
    request_index: int
    #: The request's custom fields as given, checked and converted by the preflight.
    custom_input: dict[str, Any] = dataclass_field(default_factory=dict)
    #: Our user UUID (as text) -> vendor user id, for the UUIDs among the custom field values.
    users: dict[str, str] = dataclass_field(default_factory=dict)

    @property
    def unified_given(self) -> set[str]:
        """The unified fields the create sets (the preflight checks them against the screen)."""
        item = self.item
        given = {
            "name": item.name,
            "description": item.description,
            "priority": item.priority_name,
            "assigned_user_id": item.assignee_vendor_id,
            "parent_ticket_id": item.parent_vendor_id,
            "status": item.target_status,
        }
        return {name for name, value in given.items() if value}


class Problems:
    """Collects every problem of a request, so the caller learns them all at once."""

    def __init__(self, prefix: list[Any]) -> None:
        self.prefix = prefix
        self.items: list[dict[str, Any]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"loc": [*self.prefix, field], "msg": message, "type": "value_error"})

    def raise_if_any(self, message: str) -> None:
        if self.items:
            raise InvalidRequest(message, details=self.items)


def marker_for(connection_id: uuid.UUID, identifier: str) -> str:
    """The idempotency marker stored on the vendor ticket (a Jira label: no spaces, short)."""
    return "tb-" + hashlib.sha256(f"{connection_id}:{identifier}".encode()).hexdigest()[:24]


def is_marker(label: str) -> bool:
    return _MARKER.match(label) is not None


def generated_identifier(request: TicketCreate, project: str, type_ref: str) -> str:
    """project-type-hash of the request's content: a retried request gets the same identifier, so it
    is recognised instead of creating a second ticket."""
    # Custom fields count only when given, so a request without them keeps the identifier it had.
    fields = request.model_dump(
        exclude={"identifier"} | ({"custom_fields"} if request.custom_fields is None else set())
    )
    content = "\x1f".join(str(value) for value in fields.values())
    return f"{project}-{type_ref}-{hashlib.sha256(content.encode()).hexdigest()[:12]}"


def vendor_status(value: str, connection: ConnectionRead) -> str:
    """A normalized status becomes the first vendor status mapped to it; any other value is taken
    as the vendor's own status name."""
    normalized = value.upper()
    if normalized in NORMALIZED_STATUSES:
        for name, mapped in connection.status_mapping.items():
            if mapped == normalized:
                return name
        raise InvalidRequest(
            f"No {connection.vendor} status is mapped to {normalized} on this connection.",
            details=[{"loc": ["body", "status"], "msg": f"no status mapped to {normalized}", "type": "value_error"}],
        )
    return value


def vendor_priority(value: str, connection: ConnectionRead) -> str:
    normalized = value.upper()
    if normalized in NORMALIZED_PRIORITIES:
        for name, mapped in connection.priority_mapping.items():
            if mapped == normalized:
                return name
        raise InvalidRequest(
            f"No {connection.vendor} priority is mapped to {normalized} on this connection.",
            details=[
                {
                    "loc": ["body", "priority"],
                    "msg": f"no priority mapped to {normalized}",
                    "type": "value_error",
                }
            ],
        )
    return value


async def resolve_creates(
    db: AsyncSession, connection: ConnectionRead, requests: Sequence[TicketCreate], *, in_bulk: bool
) -> list[ResolvedCreate]:
    """Validates every request and resolves its references with one query per kind. Raises
    InvalidRequest listing every problem of every item (locations carry the item's index in bulk)."""
    problems_all: list[dict[str, Any]] = []
    project_ids = directory_ids(requests, "project_id")
    user_ids = directory_ids(requests, "assigned_user_id")
    parent_ids = directory_ids(requests, "parent_ticket_id")
    projects = await directory.project_vendor_ids(db, project_ids, connection_id=connection.id) if project_ids else {}
    users = await directory.user_vendor_ids(db, user_ids, connection_id=connection.id) if user_ids else {}
    parents = await tickets_store.get_tickets(db, parent_ids, connection_id=connection.id) if parent_ids else {}
    custom_users = await users_named(db, connection, [request.custom_fields or {} for request in requests])
    resolved: list[ResolvedCreate] = []
    for index, request in enumerate(requests):
        problems = Problems(["body", "tickets", index] if in_bulk else ["body"])
        project = _one_of(
            problems,
            "project_id",
            request.project_id,
            "project_vendor_id",
            request.project_vendor_id,
            required=True,
        )
        _one_of(
            problems,
            "assigned_user_id",
            request.assigned_user_id,
            "assigned_user_vendor_id",
            request.assigned_user_vendor_id,
            required=False,
        )
        _one_of(
            problems,
            "parent_ticket_id",
            request.parent_ticket_id,
            "parent_ticket_vendor_id",
            request.parent_ticket_vendor_id,
            required=False,
        )
        type_vendor_id = request.type_vendor_id or request.type_id
        if not type_vendor_id and not request.type:
            problems.add("type", "one of type or type_vendor_id is required")
        if not request.name.strip():
            problems.add("name", "must not be empty")
        project_key = projects.get(request.project_id) if request.project_id else request.project_vendor_id
        if request.project_id and project_key is None:
            problems.add("project_id", f"unknown project {request.project_id} on this connection")
        assignee = users.get(request.assigned_user_id) if request.assigned_user_id else request.assigned_user_vendor_id
        if request.assigned_user_id and assignee is None:
            problems.add("assigned_user_id", f"unknown user {request.assigned_user_id} on this connection")
        parent = request.parent_ticket_vendor_id
        if request.parent_ticket_id:
            parent_row = parents.get(request.parent_ticket_id)
            if parent_row is None:
                problems.add("parent_ticket_id", f"unknown ticket {request.parent_ticket_id} on this connection")
            else:
                parent = parent_row.vendor_key
        try:
            target_status = vendor_status(request.status, connection) if request.status else None
            priority = vendor_priority(request.priority, connection) if request.priority else None
        except InvalidRequest as exc:
            problems.items += [{**detail, "loc": [*problems.prefix, *detail["loc"][1:]]} for detail in exc.details]
            target_status = priority = None
        if request.identifier is not None and not 0 < len(request.identifier) <= MAX_IDENTIFIER_LENGTH:
            problems.add("identifier", f"must be 1 to {MAX_IDENTIFIER_LENGTH} characters")
        problems_all += problems.items
        if problems.items or project is None or project_key is None:
            continue
        identifier = request.identifier or generated_identifier(
            request, project_key, type_vendor_id or request.type or ""
        )
        resolved.append(
            ResolvedCreate(
                item=CreateItem(
                    key=str(index),
                    marker=marker_for(connection.id, identifier),
                    name=request.name,
                    project_vendor_id=project_key,
                    type_vendor_id=type_vendor_id,
                    type_name=request.type,
                    description=request.description,
                    priority_name=priority,
                    assignee_vendor_id=assignee,
                    parent_vendor_id=parent,
                    target_status=target_status,
                ),
                identifier=identifier,
                request_index=index,
                custom_input=dict(request.custom_fields or {}),
                users={
                    str(user): custom_users[str(user)]
                    for user in candidate_users(request.custom_fields or {})
                    if str(user) in custom_users
                },
            )
        )
    if problems_all:
        raise InvalidRequest(
            "The ticket request is invalid." if not in_bulk else "Some tickets are invalid.",
            details=problems_all,
        )
    identifiers = [r.identifier for r in resolved]
    if len(set(identifiers)) != len(identifiers):
        duplicates = sorted({i for i in identifiers if identifiers.count(i) > 1})
        raise InvalidRequest(
            "Two tickets of the request share an identifier.",
            details=[
                {"loc": ["body", "tickets"], "msg": f"duplicate identifier {i!r}", "type": "value_error"}
                for i in duplicates
            ],
        )
    return resolved


async def resolve_changes(
    db: AsyncSession, connection: ConnectionRead, patch: TicketPatch, fields_set: set[str], prefix: list[Any]
) -> TicketChanges:
    """A patch in vendor terms. Only the fields in `fields_set` change; an explicit null clears."""
    problems = Problems(prefix)
    assignee: str | None = None
    if patch.assigned_user_id is not None:
        users = await directory.user_vendor_ids(db, [patch.assigned_user_id], connection_id=connection.id)
        assignee = users.get(patch.assigned_user_id)
        if assignee is None:
            problems.add("assigned_user_id", f"unknown user {patch.assigned_user_id} on this connection")
    for field in ("name", "status", "priority"):
        if field in fields_set and getattr(patch, field) is None:
            problems.add(field, "cannot be null")
    if patch.name is not None and not patch.name.strip():
        problems.add("name", "must not be empty")
    problems.raise_if_any("The update is invalid.")
    return TicketChanges(
        name=patch.name,
        description=patch.description,
        priority_name=vendor_priority(patch.priority, connection) if patch.priority else None,
        assignee_vendor_id=assignee,
        target_status=vendor_status(patch.status, connection) if patch.status else None,
        cleared=frozenset(
            {"description"} & {f for f in fields_set if getattr(patch, f) is None}
            | ({"assignee_vendor_id"} if "assigned_user_id" in fields_set and patch.assigned_user_id is None else set())
        ),
    )


async def users_named(
    db: AsyncSession, connection: ConnectionRead, custom_fields: Sequence[dict[str, Any]]
) -> dict[str, str]:
    """Our user UUID (as text) -> vendor id, for every UUID among the custom field values (a user
    field takes our UUID or the vendor's id; which fields are user fields the preflight knows)."""
    ids = sorted(set().union(*(candidate_users(values) for values in custom_fields)), key=str)
    if not ids:
        return {}
    found = await directory.user_vendor_ids(db, ids, connection_id=connection.id)
    return {str(user_id): vendor_id for user_id, vendor_id in found.items()}


def directory_ids(requests: Sequence[TicketCreate], field: str) -> list[uuid.UUID]:
    return [value for request in requests if (value := getattr(request, field)) is not None]


def _one_of(
    problems: Problems, ours: str, our_value: object, theirs: str, their_value: object, *, required: bool
) -> object | None:
    if our_value is not None and their_value is not None:
        problems.add(ours, f"give {ours} or {theirs}, not both")
        return None
    if required and our_value is None and their_value is None:
        problems.add(ours, f"one of {ours} or {theirs} is required")
        return None
    return our_value if our_value is not None else their_value
