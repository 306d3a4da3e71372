"""Writes: how input values become stored strings, and the business rules and data policies that run.

Incident rules (ServiceNow's out-of-box ones, reduced to what a client can observe):

- `number` is `INC` + 7 digits; `priority` is computed from impact x urgency and a written priority is
  ignored; `incident_state` follows `state`.
- Resolved (6) sets `resolved_at`/`resolved_by`, Closed (7) also `closed_at`/`closed_by`; leaving them
  clears those; Closed and Canceled (8) make the incident inactive.
- Data policy: Resolved and Closed need `close_code` and `close_notes`; On Hold (3) needs `hold_reason`
  (`config.hold_reason_required`). A violation is 403 "Data Policy Exception" and writes nothing.
- Journal fields (`work_notes`, `comments`) are never stored on the row: a write appends a
  sys_journal_field entry, and the row's value stays empty.
- Every write stamps `sys_updated_on`/`sys_updated_by` and bumps `sys_mod_count`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ticketbridge.sandboxes.servicenow.errors import data_policy
from ticketbridge.sandboxes.servicenow.schema import DATETIME_FORMAT, TABLES, Column
from ticketbridge.sandboxes.servicenow.state import Account, Instance, Row, new_sys_id, now_text

SYS_ID = re.compile(r"^[0-9a-f]{32}$")
#: (impact, urgency) -> priority, ServiceNow's default Priority Lookup Rules.
PRIORITY_MATRIX = {
    ("1", "1"): "1",
    ("1", "2"): "2",
    ("1", "3"): "3",
    ("2", "1"): "2",
    ("2", "2"): "3",
    ("2", "3"): "4",
    ("3", "1"): "3",
    ("3", "2"): "4",
    ("3", "3"): "5",
}
RESOLVED, CLOSED, CANCELED, ON_HOLD = "6", "7", "8", "3"


def to_text(value: Any) -> str:
    """A JSON value as the string ServiceNow stores: booleans lower-case, null empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and "value" in value:
        return to_text(value["value"])
    return str(value)


def choice_value(instance: Instance, table: str, element: str, label: str) -> str | None:
    wanted = label.lower()
    for choice in instance.rows("sys_choice").values():
        if choice["name"] == table and choice["element"] == element and choice["label"].lower() == wanted:
            return choice["value"]
    return None


def reference_value(instance: Instance, table: str, raw: str) -> str:
    """A reference input: a sys_id, else the display value of a record of `table` (as ServiceNow
    resolves it), else empty."""
    rows = instance.rows(table)
    if raw in rows or (SYS_ID.match(raw) and not rows):
        return raw
    display = TABLES[table].display
    wanted = raw.lower()
    found = next((sys_id for sys_id, r in rows.items() if r.get(display, "").lower() == wanted), None)
    return found if found is not None else (raw if SYS_ID.match(raw) else "")


def input_value(instance: Instance, table: str, column: Column, raw: Any, *, display_input: bool) -> str:
    text = to_text(raw)
    if not text:
        return ""
    if column.internal_type == "reference" and column.reference in TABLES:
        return reference_value(instance, column.reference, text)
    if column.choice and display_input:
        return choice_value(instance, table, column.name, text) or text
    if column.internal_type == "boolean":
        return "true" if text.lower() in {"true", "1", "yes"} else "false"
    if column.internal_type == "glide_date_time":
        try:
            return datetime.strptime(text, DATETIME_FORMAT).strftime(DATETIME_FORMAT)
        except ValueError:
            return ""
    return text[: column.max_length] if column.internal_type == "string" else text


def insert(
    instance: Instance,
    table: str,
    body: dict[str, Any],
    actor: Account,
    *,
    display_input: bool = False,
    hold_reason_required: bool = True,
) -> Row:
    schema = TABLES[table]
    now = now_text()
    row: Row = {name: "" for name in schema.columns}
    requested_id = to_text(body.get("sys_id"))
    row["sys_id"] = (
        requested_id if SYS_ID.match(requested_id) and requested_id not in instance.rows(table) else new_sys_id()
    )
    row |= {"sys_created_on": now, "sys_created_by": actor.user_name, "sys_mod_count": "0"}
    row |= {"sys_updated_on": now, "sys_updated_by": actor.user_name}
    _defaults(instance, table, row, actor, now)
    journal = _assign(instance, table, row, body, display_input=display_input)
    _rules(table, row, {}, actor, now, hold_reason_required=hold_reason_required)
    instance.rows(table)[row["sys_id"]] = row
    _journal(instance, table, row, journal, actor, now)
    return row


def update(
    instance: Instance,
    table: str,
    row: Row,
    body: dict[str, Any],
    actor: Account,
    *,
    display_input: bool = False,
    hold_reason_required: bool = True,
) -> Row:
    """Applies `body` to a copy of `row` and stores it only when every rule passes."""
    now = now_text()
    changed = dict(row)
    journal = _assign(instance, table, changed, body, display_input=display_input)
    _rules(table, changed, row, actor, now, hold_reason_required=hold_reason_required)
    changed |= {"sys_updated_on": now, "sys_updated_by": actor.user_name}
    changed["sys_mod_count"] = str(int(row.get("sys_mod_count") or 0) + 1)
    instance.rows(table)[row["sys_id"]] = changed
    _journal(instance, table, changed, journal, actor, now)
    return changed


def delete(instance: Instance, table: str, sys_id: str) -> None:
    instance.rows(table).pop(sys_id, None)
    if table == "sys_user_group":
        members = instance.rows("sys_user_grmember")
        for member_id in [k for k, m in members.items() if m["group"] == sys_id]:
            del members[member_id]


def _assign(instance: Instance, table: str, row: Row, body: dict[str, Any], *, display_input: bool) -> dict[str, str]:
    """Sets the writable columns of `body` on `row`; answers the journal entries to append.
    Unknown columns and system-set ones are ignored, as the Table API ignores them."""
    schema = TABLES[table]
    journal: dict[str, str] = {}
    for name, raw in body.items():
        column = schema.column(name)
        if column is None or column.read_only:
            continue
        if column.internal_type == "journal_input":
            text = to_text(raw)
            if text:
                journal[name] = text
            continue
        row[name] = input_value(instance, table, column, raw, display_input=display_input)
    return journal


def _defaults(instance: Instance, table: str, row: Row, actor: Account, now: str) -> None:
    if table == "incident":
        row |= {"number": instance.next_number("INC"), "state": "1", "impact": "3", "urgency": "3"}
        row |= {"category": "inquiry", "active": "true", "opened_at": now, "opened_by": actor.sys_id}
        row["sys_class_name"] = "incident"
    elif table in {"sys_user", "sys_user_group"}:
        row["active"] = "true"
        if table == "sys_user":
            row["locked_out"] = "false"
    elif table == "sys_choice":
        row |= {"language": "en", "inactive": "false", "sequence": "0"}
    elif table == "sys_dictionary":
        row |= {"active": "true", "mandatory": "false", "read_only": "false"}


def _rules(table: str, row: Row, before: Row, actor: Account, now: str, *, hold_reason_required: bool) -> None:
    if table == "sys_user":
        row["name"] = f"{row.get('first_name', '')} {row.get('last_name', '')}".strip()
    if table != "incident":
        return
    if row["state"] != before.get("state", row["state"]) or not before:
        row["incident_state"] = row["state"]
    elif row["incident_state"] != before.get("incident_state"):
        row["state"] = row["incident_state"]
    row["priority"] = PRIORITY_MATRIX.get((row["impact"], row["urgency"]), row.get("priority") or "5")
    state = row["state"]
    missing = []
    if state in (RESOLVED, CLOSED):
        missing = [TABLES["incident"].columns[n].label for n in ("close_code", "close_notes") if not row[n]]
    elif state == ON_HOLD and hold_reason_required and not row["hold_reason"]:
        missing = [TABLES["incident"].columns["hold_reason"].label]
    if missing:
        raise data_policy(missing)
    if state != ON_HOLD:
        row["hold_reason"] = ""
    if state in (RESOLVED, CLOSED):
        row["resolved_at"] = row["resolved_at"] or now
        row["resolved_by"] = row["resolved_by"] or actor.sys_id
    else:
        row["resolved_at"] = row["resolved_by"] = ""
    if state == CLOSED:
        row["closed_at"] = row["closed_at"] or now
        row["closed_by"] = row["closed_by"] or actor.sys_id
    elif before.get("state") == CLOSED:
        row["closed_at"] = row["closed_by"] = ""
    row["active"] = "false" if state in (CLOSED, CANCELED) else "true"


def _journal(instance: Instance, table: str, row: Row, entries: dict[str, str], actor: Account, now: str) -> None:
    journal = instance.rows("sys_journal_field")
    for element, value in entries.items():
        sys_id = new_sys_id()
        journal[sys_id] = {
            "sys_id": sys_id,
            "element_id": row["sys_id"],
            "element": element,
            "name": table,
            "value": value,
            "sys_created_on": now,
            "sys_created_by": actor.user_name,
            "sys_updated_on": now,
            "sys_updated_by": actor.user_name,
            "sys_mod_count": "0",
        }


def journal_entries(instance: Instance, table: str, sys_id: str, element: str) -> list[Row]:
    """A record's entries of one journal field, newest first."""
    entries = [
        e
        for e in instance.rows("sys_journal_field").values()
        if e["element_id"] == sys_id and e["element"] == element and e["name"] == table
    ]
    return list(reversed(entries))
