"""What a Rezolve ticket type says about its fields: which field UUID holds each unified field, the
option values of status and priority, and the workflow a status change must follow.

Rezolve keys ticket data by field UUID, and the UUIDs differ per ticket type, so every read and
write goes through the `TicketTypeSchema` of the ticket's type (discovered from GET /ticket-type and
cached per connection by the connector).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ticketbridge.domain.vocabulary import StatusCategory

Json = dict[str, Any]

#: Unified field name -> the Rezolve field `name` that holds it (system fields of every type).
UNIFIED_FIELDS = {
    "name": "summary",
    "description": "description",
    "status": "status",
    "priority": "priority",
    "assigned_user_id": "assignee",
    "parent_ticket_id": "parent",
    "tags": "tags",
    "due_date": "dueDate",
}
#: Where the create marker goes, in order of preference: a free-text reference is made for it; tags
#: (an array) are the fallback the sandbox README names.
MARKER_FIELDS = ("externalReference", "tags")
#: Rezolve's vendor synonyms for its field kinds (reference §4.2), folded to the six kinds we handle.
KIND_SYNONYMS = {
    "text": "text",
    "email": "text",
    "number": "text",
    "richtext": "richtext",
    "rich text": "richtext",
    "textarea": "richtext",
    "select": "select",
    "dropdown": "select",
    "radio": "select",
    "user": "user",
    "lookup": "user",
    "date": "date",
    "datetime": "date",
    "array": "array",
    "multiselect": "array",
    "checkbox": "array",
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    id: str
    name: str
    kind: str
    #: Option value -> label, for select and array fields that restrict their values.
    options: dict[str, str] = field(default_factory=dict)
    label: str = ""
    #: The type as Rezolve wrote it (`kind` folds its synonyms).
    vendor_type: str = ""
    required: bool = False
    #: Whether Rezolve fills the field itself when a create leaves it out (`defaultValue`).
    has_default: bool = False
    #: Whether the type restricts the field to `options` (an array without them takes any strings).
    restricted: bool = False


@dataclass(frozen=True, slots=True)
class StatusSpec:
    key: str
    name: str
    is_initial: bool
    is_terminal: bool

    @property
    def category(self) -> StatusCategory:
        """Ours, from the workflow: its initial status is to do, a terminal one done."""
        if self.is_initial:
            return StatusCategory.TODO
        return StatusCategory.DONE if self.is_terminal else StatusCategory.IN_PROGRESS


@dataclass(frozen=True, slots=True)
class TicketTypeSchema:
    id: str
    name: str
    fields: dict[str, FieldSpec]  #: by Rezolve field name
    statuses: dict[str, StatusSpec]  #: by status key
    transitions: dict[str, frozenset[str]]  #: status key -> keys reachable in one transition
    #: (from key, to key) -> the field UUIDs that transition requires (`requiredFields`).
    transition_required: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_json(cls, raw: Json) -> TicketTypeSchema:
        fields: dict[str, FieldSpec] = {}
        for item in raw.get("fields") or []:
            options = {str(o["value"]): str(o.get("label") or o["value"]) for o in item.get("options") or []}
            kind = KIND_SYNONYMS.get(str(item.get("type", "")).lower(), str(item.get("type", "")).lower())
            fields[str(item["name"])] = FieldSpec(
                id=str(item["id"]),
                name=str(item["name"]),
                kind=kind,
                options=options,
                label=str(item.get("label") or item["name"]),
                vendor_type=str(item.get("type", "")),
                required=bool(item.get("required")),
                has_default=item.get("defaultValue") is not None,
                restricted=item.get("options") is not None,
            )
        workflow = raw.get("workflow") or {}
        statuses = {
            str(s["key"]): StatusSpec(
                key=str(s["key"]),
                name=str(s.get("name") or s["key"]),
                is_initial=bool(s.get("isInitial")),
                is_terminal=bool(s.get("isTerminal")),
            )
            for s in workflow.get("statuses") or []
        }
        transitions: dict[str, set[str]] = {}
        required: dict[tuple[str, str], tuple[str, ...]] = {}
        for transition in workflow.get("transitions") or []:
            for source in transition.get("from") or []:
                transitions.setdefault(str(source), set()).add(str(transition["to"]))
                required[(str(source), str(transition["to"]))] = tuple(
                    str(f) for f in transition.get("requiredFields") or []
                )
        return cls(
            id=str(raw["id"]),
            name=str(raw.get("name") or raw["id"]),
            fields=fields,
            statuses=statuses,
            transitions={key: frozenset(targets) for key, targets in transitions.items()},
            transition_required=required,
        )

    def field_id(self, unified: str) -> str | None:
        spec = self.fields.get(UNIFIED_FIELDS.get(unified, unified))
        return spec.id if spec else None

    def unified_name(self, field_id: str) -> str:
        """The unified name of a field UUID (its Rezolve name when it has no unified one)."""
        for spec in self.fields.values():
            if spec.id == field_id:
                return next((u for u, name in UNIFIED_FIELDS.items() if name == spec.name), spec.name)
        return field_id

    def unified_name_or_id(self, field_id: str) -> str:
        """The unified name of a field UUID; a field holding no unified field keeps its UUID."""
        for spec in self.fields.values():
            if spec.id == field_id:
                return next((u for u, name in UNIFIED_FIELDS.items() if name == spec.name), field_id)
        return field_id

    @property
    def marker_field(self) -> FieldSpec | None:
        return next((self.fields[name] for name in MARKER_FIELDS if name in self.fields), None)

    def status_key(self, name_or_key: str) -> str | None:
        """A status given by its name ("In Progress") or key ("in_progress"), case-insensitively."""
        wanted = name_or_key.casefold()
        return next((s.key for s in self.statuses.values() if wanted in (s.key.casefold(), s.name.casefold())), None)

    def priority_value(self, label_or_value: str) -> str | None:
        spec = self.fields.get("priority")
        wanted = label_or_value.casefold()
        options = spec.options.items() if spec else ()
        return next((value for value, label in options if wanted in (value.casefold(), label.casefold())), None)

    def priority_label(self, value: str | None) -> str | None:
        spec = self.fields.get("priority")
        return spec.options.get(value, value) if spec and value is not None else value

    def status_path(self, current: str | None, target: str) -> list[str] | None:
        """Status keys to pass through, in order, from `current` to `target` (shortest path), or None
        when the workflow has no path. Without a current status, the target is set directly."""
        if current is None or current == target:
            return [] if current == target else [target]
        queue: deque[tuple[str, list[str]]] = deque([(current, [])])
        seen = {current}
        while queue:
            status, path = queue.popleft()
            for following in sorted(self.transitions.get(status, ())):
                if following == target:
                    return [*path, following]
                if following not in seen:
                    seen.add(following)
                    queue.append((following, [*path, following]))
        return None
