"""Preflight: a write checked against the vendor's write metadata before any vendor write.

Every problem is a `detail` entry `{loc, msg, type}` whose `type` is one of the codes below, `loc`
down to `custom_fields.<field id>` (or the unified field). Custom field values are keyed by the
vendor's field id or by a name unique in the project and type, and come out in the neutral forms
`domain.fields.Accepts` names, which the connector turns into its vendor's shapes.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ticketbridge.domain.fields import (
    Accepts,
    CustomField,
    FieldRefusal,
    FieldValue,
    TransitionFields,
    WriteMetadata,
)
from ticketbridge.domain.tickets import TicketChanges

REQUIRED_MISSING = "required_missing"
NOT_SETTABLE = "not_settable"
INVALID_OPTION = "invalid_option"
WRONG_TYPE = "wrong_type"
AMBIGUOUS_NAME = "ambiguous_name"
CUSTOM_FIELDS = "custom_fields"
#: The unified request fields a connector may name in a refusal (connectors name custom fields by id).
UNIFIED_NAMES = frozenset(
    {"name", "description", "status", "priority", "assigned_user_id", "parent_ticket_id", "type", "project"}
)


@dataclass(slots=True)
class Checked:
    """The custom field values in neutral form, and the problems found (none: the write may go)."""

    values: dict[str, FieldValue] = field(default_factory=dict)
    problems: list[dict[str, Any]] = field(default_factory=list)

    def add(self, loc: list[Any], code: str, message: str, **extra: Any) -> None:
        self.problems.append({"loc": loc, "msg": message, "type": code, **extra})


def check_create(
    meta: WriteMetadata,
    *,
    unified_given: Collection[str],
    custom_fields: Mapping[str, Any],
    users: Mapping[str, str],
    prefix: list[Any],
) -> Checked:
    """A create: every required field present, every given field on the create screen and valid."""
    checked = Checked()
    for name in sorted(unified_given):
        if meta.unified_field(name) is None:
            checked.add([*prefix, name], NOT_SETTABLE, f"{name} is not on the create screen of this project and type")
    for unified in meta.unified:
        if unified.required and unified.name not in unified_given:
            checked.add([*prefix, unified.name], REQUIRED_MISSING, f"{unified.name} is required in this project")
    given = _convert_all(meta, custom_fields, users, prefix, checked, clearing=False)
    for custom in meta.custom_fields:
        if custom.required and custom.id not in given and not _mentioned(custom, checked):
            checked.add(
                [*prefix, CUSTOM_FIELDS, custom.id], REQUIRED_MISSING, f"{custom.name} ({custom.id}) is required"
            )
    return checked


def check_update(
    meta: WriteMetadata,
    *,
    unified_given: Collection[str],
    unified_cleared: Collection[str],
    custom_fields: Mapping[str, Any],
    users: Mapping[str, str],
    prefix: list[Any],
    target_status: str | None = None,
) -> Checked:
    """An edit: every given field on the edit screen and valid; a required field is never cleared; a
    status change into `target_status` gives every field its transition requires."""
    checked = Checked()
    for name in sorted(unified_given):
        unified = meta.unified_field(name)
        if unified is None:
            checked.add([*prefix, name], NOT_SETTABLE, f"{name} cannot be edited on this ticket")
        elif unified.required and name in unified_cleared:
            checked.add([*prefix, name], REQUIRED_MISSING, f"{name} is required and cannot be cleared")
    _convert_all(meta, custom_fields, users, prefix, checked, clearing=True)
    transition = meta.transition_to(target_status) if target_status is not None else None
    if transition is not None:
        _check_transition(transition, unified_given, unified_cleared, prefix, checked)
    return checked


def check_transition(
    transition: TransitionFields,
    *,
    unified_given: Collection[str],
    unified_cleared: Collection[str],
    prefix: list[Any],
    problems: Collection[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """A status change that sets no custom field (a bulk update's) against the transition into its
    target: `problems` already found for the update, and those of the transition that no problem
    already names, worded as `check_update` words them."""
    checked = Checked(problems=list(problems))
    _check_transition(transition, unified_given, unified_cleared, prefix, checked)
    return checked.problems


def _check_transition(
    transition: TransitionFields,
    unified_given: Collection[str],
    unified_cleared: Collection[str],
    prefix: list[Any],
    checked: Checked,
) -> None:
    """A field the transition takes must hold a value after the update: given when the ticket has
    none (`required`), and never cleared."""
    to = transition.to_status
    for unified in transition.unified:
        missing = unified.name in unified_cleared or (unified.required and unified.name not in unified_given)
        if missing and not _mentioned_loc([*prefix, unified.name], checked):
            checked.add([*prefix, unified.name], REQUIRED_MISSING, f"{unified.name} is required to move to {to}")
    for custom in transition.custom_fields:
        given = checked.values.get(custom.id)
        missing = given.value is None if given is not None else custom.required
        if missing and not _mentioned(custom, checked):
            checked.add(
                [*prefix, CUSTOM_FIELDS, custom.id],
                REQUIRED_MISSING,
                f"{custom.name} ({custom.id}) is required to move to {to}",
            )


def unified_of(changes: TicketChanges) -> tuple[set[str], set[str]]:
    """The unified fields an update sets, and those of them it clears."""
    values = {
        "name": changes.name,
        "description": changes.description,
        "priority": changes.priority_name,
        "assigned_user_id": changes.assignee_vendor_id,
        "status": changes.target_status,
    }
    cleared = {"description"} & changes.cleared | (
        {"assigned_user_id"} if "assignee_vendor_id" in changes.cleared else set()
    )
    return {name for name, value in values.items() if value is not None} | cleared, cleared


def refusal_details(
    refusals: Collection[FieldRefusal], prefix: list[Any], meta: WriteMetadata | None
) -> list[dict[str, Any]]:
    """A vendor's per-field refusals as preflight details, coded by what the vendor's message says.
    `meta` is the write metadata as read after the refusal: a custom field is located under
    `custom_fields`, a unified one as itself, and a vendor field the request does not write (a data
    policy's, say) under `vendor`."""
    custom_ids = {f.id for f in meta.custom_fields} if meta is not None else set()

    def loc(name: str) -> list[Any]:
        if name in UNIFIED_NAMES:
            return [*prefix, name]
        return [*prefix, CUSTOM_FIELDS, name] if name in custom_ids else ["vendor", name]

    return [
        {"loc": loc(refusal.field), "msg": refusal.message, "type": refusal_code(refusal.message)}
        for refusal in refusals
    ]


def refusal_code(message: str) -> str:
    text = message.casefold()
    if "required" in text:
        return REQUIRED_MISSING
    if "cannot be set" in text or "unknown field" in text or "not on the" in text:
        return NOT_SETTABLE
    if "option" in text:
        return INVALID_OPTION
    return WRONG_TYPE


def candidate_users(values: Mapping[str, Any]) -> set[uuid.UUID]:
    """Every string among the values that is a UUID: users given by our id, looked up in the store."""
    found: set[uuid.UUID] = set()
    for value in values.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                try:
                    found.add(uuid.UUID(item))
                except ValueError:
                    continue
    return found


def _mentioned(custom: CustomField, checked: Checked) -> bool:
    """Whether a problem already names the field (a bad value of a required field is one problem)."""
    return any(problem["loc"][-1] == custom.id for problem in checked.problems)


def _mentioned_loc(loc: list[Any], checked: Checked) -> bool:
    return any(problem["loc"] == loc for problem in checked.problems)


def _convert_all(
    meta: WriteMetadata,
    custom_fields: Mapping[str, Any],
    users: Mapping[str, str],
    prefix: list[Any],
    checked: Checked,
    *,
    clearing: bool,
) -> dict[str, FieldValue]:
    for key, raw in custom_fields.items():
        custom = _field_for(meta, key, [*prefix, CUSTOM_FIELDS, key], checked)
        if custom is None:
            continue
        loc = [*prefix, CUSTOM_FIELDS, custom.id]
        if custom.id in checked.values:
            checked.add(loc, AMBIGUOUS_NAME, f"{custom.id} is given twice (by id and by name)")
            continue
        if custom.accepts is None:
            checked.add(loc, NOT_SETTABLE, f"fields of type {custom.vendor_schema.type} cannot be written")
            continue
        if raw is None:
            if not clearing:
                continue  # nothing given; a required field is reported as missing
            if custom.required:
                checked.add(loc, REQUIRED_MISSING, f"{custom.name} is required and cannot be cleared")
            else:
                checked.values[custom.id] = FieldValue(accepts=custom.accepts, value=None)
            continue
        value = _convert(custom, custom.accepts, raw, users, loc, checked)
        if value is not None:
            checked.values[custom.id] = FieldValue(accepts=custom.accepts, value=value)
    return checked.values


def _field_for(meta: WriteMetadata, key: str, loc: list[Any], checked: Checked) -> CustomField | None:
    by_id = meta.custom(key)
    if by_id is not None:
        return by_id
    named = [f for f in meta.custom_fields if f.name.casefold() == key.casefold()]
    if len(named) == 1:
        return named[0]
    if named:
        candidates = [f.id for f in named]
        checked.add(
            loc,
            AMBIGUOUS_NAME,
            f"{len(named)} fields are named {key!r}; give one of their ids: {', '.join(candidates)}",
            candidates=candidates,
        )
        return None
    checked.add(loc, NOT_SETTABLE, f"no field {key!r} can be set here (not on the screen, or unknown)")
    return None


def _convert(
    custom: CustomField, accepts: Accepts, raw: Any, users: Mapping[str, str], loc: list[Any], checked: Checked
) -> Any:
    """The neutral form of one value, or None after recording why it is not acceptable."""
    match accepts:
        case Accepts.STRING | Accepts.MARKDOWN:
            if isinstance(raw, str):
                return raw
        case Accepts.NUMBER:
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                return raw
        case Accepts.DATE:
            if isinstance(raw, str) and _is_date(raw):
                return raw
        case Accepts.DATETIME:
            moment = _datetime(raw)
            if moment is not None:
                return moment.isoformat()
        case Accepts.OPTION:
            if isinstance(raw, str):
                return _option(custom, raw, loc, checked)
        case Accepts.OPTIONS:
            if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
                chosen = [_option(custom, item, loc, checked) for item in raw]
                return None if None in chosen else list(dict.fromkeys(chosen))
        case Accepts.USER:
            if isinstance(raw, str):
                return _user(raw, users)
        case Accepts.USERS:
            if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
                return [_user(item, users) for item in raw]
        case Accepts.LABELS:
            if isinstance(raw, list) and all(isinstance(item, str) and item and " " not in item for item in raw):
                return list(dict.fromkeys(raw))
    checked.add(loc, WRONG_TYPE, f"{custom.name} takes {_described(accepts)}")
    return None


def _option(custom: CustomField, given: str, loc: list[Any], checked: Checked) -> str | None:
    if custom.allowed_values is None:
        return given
    for allowed in custom.allowed_values:
        if given == allowed.id or given.casefold() == allowed.value.casefold():
            return allowed.id
    allowed_values = [{"id": a.id, "value": a.value} for a in custom.allowed_values]
    shown = ", ".join(a.value for a in custom.allowed_values)
    checked.add(
        loc, INVALID_OPTION, f"{given!r} is not an option of {custom.name}; allowed: {shown}", allowed=allowed_values
    )
    return None


def _user(given: str, users: Mapping[str, str]) -> str:
    """Our user's vendor id when `given` is one of our user UUIDs; else `given` is taken as the
    vendor's own id (which may be a UUID too), and the vendor judges it."""
    try:
        ours = str(uuid.UUID(given))
    except ValueError:
        return given
    return users.get(ours, given)


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == len("2026-01-31")


def _datetime(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _described(accepts: Accepts) -> str:
    return {
        Accepts.STRING: "a string",
        Accepts.MARKDOWN: "Markdown text (a string)",
        Accepts.NUMBER: "a number",
        Accepts.DATE: "an ISO 8601 date (YYYY-MM-DD)",
        Accepts.DATETIME: "an ISO 8601 date-time with an offset",
        Accepts.OPTION: "one option, by id or value (a string)",
        Accepts.OPTIONS: "a list of options, by id or value",
        Accepts.USER: "a user: our user UUID or the vendor's user id",
        Accepts.USERS: "a list of users (our UUIDs or vendor ids)",
        Accepts.LABELS: "a list of labels without spaces",
    }[accepts]
