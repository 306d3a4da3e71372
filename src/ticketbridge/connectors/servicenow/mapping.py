"""Translation between ServiceNow incident records and ticketbridge's vendor-neutral values.

Records are read as database values: a choice is its value (`state` "2"), a reference its sys_id.
Labels come from sys_choice (`Choices`), which is also where custom states and categories live.

    name         short_description
    description  description (plain text: Markdown is flattened on the way in)
    status       state, by label ("In Progress") or value ("2")
    priority     impact + urgency: priority is computed by the instance, never written; our priority
                 names a row of the standard matrix and its impact/urgency pair is sent
    assignee     assigned_to (sys_user sys_id)
    project      assignment_group (sys_user_group sys_id)
    parent       parent_incident (incident sys_id)
    type         category, by label or value
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ticketbridge.connectors.errors import VendorRejected
from ticketbridge.connectors.servicenow.plaintext import markdown_to_text
from ticketbridge.domain.directory import VendorPriority, VendorStatus
from ticketbridge.domain.tickets import CreateItem, TicketChanges, VendorIssueType, VendorTicket
from ticketbridge.domain.vocabulary import NormalizedPriority, NormalizedStatus, StatusCategory

Json = dict[str, Any]
TABLE = "incident"
#: ServiceNow's date-time values, in UTC when read as database values (to the second).
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
#: The standard incident states (sys_choice incident.state, out of the box).
NEW, IN_PROGRESS, ON_HOLD, RESOLVED, CLOSED, CANCELED = "1", "2", "3", "6", "7", "8"
#: States whose data policy makes close_code and close_notes mandatory, and On Hold's hold_reason.
CLOSING_STATES = frozenset({RESOLVED, CLOSED})
HOLD_STATES = frozenset({ON_HOLD})
#: The standard states' labels, so a request can be refused before any call is made.
STANDARD_LABELS = {
    "new": NEW,
    "in progress": IN_PROGRESS,
    "on hold": ON_HOLD,
    "resolved": RESOLVED,
    "closed": CLOSED,
    "canceled": CANCELED,
}
#: Priority -> the (impact, urgency) pair sent for it: one cell of the standard priority lookup
#: (1/1 -> 1, 1/2 and 2/1 -> 2, 1/3, 2/2 and 3/1 -> 3, 2/3 and 3/2 -> 4, 3/3 -> 5).
PRIORITY_MATRIX = {"1": ("1", "1"), "2": ("1", "2"), "3": ("2", "2"), "4": ("2", "3"), "5": ("3", "3")}
#: A new connection's status mapping: one state per normalized value, so that writing one is
#: unambiguous (stored mappings keep no order); On Hold and Canceled read as IN_PROGRESS and CLOSED
#: through their status category.
DEFAULT_STATUS_MAPPING = {
    "New": NormalizedStatus.OPEN,
    "In Progress": NormalizedStatus.IN_PROGRESS,
    "Resolved": NormalizedStatus.RESOLVED,
    "Closed": NormalizedStatus.CLOSED,
}
#: A new connection's priority mapping (the standard incident.priority labels).
DEFAULT_PRIORITY_MAPPING = {
    "1 - Critical": NormalizedPriority.CRITICAL,
    "2 - High": NormalizedPriority.HIGH,
    "3 - Moderate": NormalizedPriority.MEDIUM,
    "4 - Low": NormalizedPriority.LOW,
    "5 - Planning": NormalizedPriority.INFORMATIONAL,
}


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Choices:
    """sys_choice rows of the incident table, per element (field), in their sequence order."""

    by_element: dict[str, list[Choice]] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: list[Json]) -> Choices:
        by_element: dict[str, list[Choice]] = {}
        ordered = sorted(rows, key=lambda row: (_int(row.get("sequence")), str(row.get("value"))))
        for row in ordered:
            element, value = str(row.get("element") or ""), str(row.get("value") or "")
            if not element or not value or str(row.get("inactive")) == "true":
                continue
            choices = by_element.setdefault(element, [])
            if all(choice.value != value for choice in choices):
                choices.append(Choice(value=value, label=str(row.get("label") or value)))
        return cls(by_element=by_element)

    def label(self, element: str, value: Any) -> str | None:
        if value in (None, ""):
            return None
        return next((c.label for c in self.by_element.get(element, []) if c.value == str(value)), str(value))

    def value(self, element: str, label_or_value: str) -> str | None:
        """The value a label ("In Progress"), a value ("2") or, for priorities, the label's words
        after its number ("Critical" for "1 - Critical") stand for; case-insensitive."""
        wanted = label_or_value.strip().casefold()
        for choice in self.by_element.get(element, []):
            words = choice.label.split(" - ", 1)[-1].casefold()
            if wanted in (choice.value.casefold(), choice.label.casefold(), words):
                return choice.value
        return None

    def of(self, element: str) -> list[Choice]:
        return list(self.by_element.get(element, []))


@dataclass(frozen=True, slots=True)
class CloseDefaults:
    """What a connection sends when a ticket is resolved, closed or put on hold (its config)."""

    close_code: str | None = None
    close_notes: str | None = None
    hold_reason: str | None = None

    def for_state(self, state: str) -> Json:
        """The values `state` needs; raises VendorRejected naming each one the connection lacks."""
        if state in CLOSING_STATES:
            needed = {"close_code": self.close_code, "close_notes": self.close_notes}
        elif state in HOLD_STATES:
            needed = {"hold_reason": self.hold_reason}
        else:
            return {}
        missing = [name for name, value in needed.items() if value is None]
        if missing:
            what = "resolve or close" if state in CLOSING_STATES else "put on hold"
            raise VendorRejected(
                f"ServiceNow needs {' and '.join(missing)} to {what} an incident; configure "
                f"{' and '.join(missing)} in the connection's credentials.",
                field_errors={name: f"required by ServiceNow for state {state}" for name in missing},
            )
        return dict(needed)

    def check_name(self, status: str | None) -> None:
        """Refuses a standard closing or hold state by name alone, before any vendor call."""
        state = STANDARD_LABELS.get((status or "").strip().casefold(), (status or "").strip())
        self.for_state(state)


def parse_timestamp(value: Any) -> datetime | None:
    if not value:
        return None
    text = str(value)
    try:
        return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_timestamp(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def status_category(state: str | None) -> StatusCategory | None:
    """Ours, for an incident state value; a custom state counts as work in progress."""
    if not state:
        return None
    if state == NEW:
        return StatusCategory.TODO
    return StatusCategory.DONE if state in (RESOLVED, CLOSED, CANCELED) else StatusCategory.IN_PROGRESS


def reference(value: Any) -> str | None:
    """A reference read as a database value is its sys_id; `{"value": ...}` (with links) is read too."""
    if isinstance(value, dict):
        value = value.get("value")
    return str(value) if value else None


def to_vendor_ticket(raw: Json, choices: Choices, *, instance_url: str, marker_field: str) -> VendorTicket:
    state = str(raw.get("state") or "") or None
    category = str(raw.get("category") or "") or None
    mapped = {
        "short_description",
        "description",
        "state",
        "priority",
        "category",
        "assigned_to",
        "assignment_group",
        "parent_incident",
        "number",
        marker_field,
    }
    marker = raw.get(marker_field)
    return VendorTicket(
        vendor_id=str(raw["sys_id"]),
        key=str(raw.get("number") or raw["sys_id"]),
        project_vendor_id=reference(raw.get("assignment_group")),
        type_name=choices.label("category", category),
        type_vendor_id=category,
        status_name=choices.label("state", state),
        status_category=status_category(state),
        priority_name=choices.label("priority", raw.get("priority")),
        assignee_vendor_id=reference(raw.get("assigned_to")),
        reporter_vendor_id=reference(raw.get("opened_by")) or reference(raw.get("caller_id")),
        parent_vendor_id=reference(raw.get("parent_incident")),
        name=str(raw.get("short_description") or ""),
        description=str(raw["description"]) if raw.get("description") else None,
        labels=(str(marker),) if marker else (),
        url=f"{instance_url}/{TABLE}.do?sys_id={raw['sys_id']}",
        created_at=parse_timestamp(raw.get("sys_created_on")),
        updated_at=parse_timestamp(raw.get("sys_updated_on")),
        resolved_at=parse_timestamp(raw.get("resolved_at")) or parse_timestamp(raw.get("closed_at")),
        custom_fields={
            name: value
            for name, value in raw.items()
            if name.startswith("u_") and name not in mapped and value not in (None, "")
        },
        version=str(raw.get("sys_mod_count") or "0"),
    )


def state_value(choices: Choices, status: str) -> str:
    value = choices.value("state", status)
    if value is None:
        raise VendorRejected(f"ServiceNow has no incident state {status!r}.", field_errors={"status": status})
    return value


def impact_urgency(choices: Choices, priority: str) -> Json:
    value = choices.value("priority", priority) or priority.strip()
    if value not in PRIORITY_MATRIX:
        raise VendorRejected(
            f"ServiceNow has no incident priority {priority!r} (1 to 5, by label or number).",
            field_errors={"priority": priority},
        )
    impact, urgency = PRIORITY_MATRIX[value]
    return {"impact": impact, "urgency": urgency}


def category_value(choices: Choices, item: CreateItem) -> str:
    named = item.type_vendor_id or item.type_name or ""
    value = choices.value("category", named)
    if value is None:
        raise VendorRejected(f"ServiceNow has no incident category {named!r}.", field_errors={"type": named})
    return value


def create_values(
    item: CreateItem, choices: Choices, defaults: CloseDefaults, *, marker_field: str, parent_sys_id: str | None
) -> Json:
    """The body of POST /api/now/table/incident. ServiceNow takes any state at insert, so a target
    status is set here, with what that state needs."""
    values: Json = {
        "short_description": item.name,
        "assignment_group": item.project_vendor_id,
        "category": category_value(choices, item),
        marker_field: item.marker,
    }
    if item.description:
        values["description"] = markdown_to_text(item.description)
    if item.priority_name:
        values |= impact_urgency(choices, item.priority_name)
    if item.assignee_vendor_id:
        values["assigned_to"] = item.assignee_vendor_id
    if parent_sys_id:
        values["parent_incident"] = parent_sys_id
    if item.target_status:
        state = state_value(choices, item.target_status)
        values |= {"state": state, **defaults.for_state(state)}
    return values


def update_values(changes: TicketChanges, choices: Choices, defaults: CloseDefaults) -> Json:
    """The body of PATCH /api/now/table/incident/{sys_id}; "" clears a field."""
    values: Json = {}
    if changes.name is not None:
        values["short_description"] = changes.name
    if changes.description is not None:
        values["description"] = markdown_to_text(changes.description)
    elif "description" in changes.cleared:
        values["description"] = ""
    if changes.priority_name is not None:
        values |= impact_urgency(choices, changes.priority_name)
    if changes.assignee_vendor_id is not None:
        values["assigned_to"] = changes.assignee_vendor_id
    elif "assignee_vendor_id" in changes.cleared:
        values["assigned_to"] = ""
    if changes.target_status:
        state = state_value(choices, changes.target_status)
        values |= {"state": state, **defaults.for_state(state)}
    return values


def is_written(raw: Json, values: Json) -> bool:
    """Whether the record holds every value of a write (the check after a write's answer was lost).
    Priority is computed from impact and urgency, and those are what is compared."""
    return all(str(reference(raw.get(name)) or "") == str(value) for name, value in values.items())


def to_vendor_priorities(choices: Choices) -> list[VendorPriority]:
    return [VendorPriority(vendor_id=c.value, name=c.label) for c in choices.of("priority")]


def to_vendor_statuses(choices: Choices) -> list[VendorStatus]:
    return [
        VendorStatus(vendor_id=c.value, name=c.label, category=status_category(c.value)) for c in choices.of("state")
    ]


def to_vendor_issue_types(choices: Choices) -> list[VendorIssueType]:
    return [VendorIssueType(vendor_id=c.value, name=c.label) for c in choices.of("category")]


def _int(value: Any) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
