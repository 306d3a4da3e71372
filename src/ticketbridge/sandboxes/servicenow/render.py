"""Rows in the Table API's shapes: `sysparm_display_value` false|true|all, reference links, field lists.

    false  "caller_id": {"link": ".../api/now/table/sys_user/<sys_id>", "value": "<sys_id>"}
    true   "caller_id": {"display_value": "Abel Tuter", "link": "..."}
    all    "caller_id": {"display_value": "Abel Tuter", "link": "...", "value": "<sys_id>"}

With `sysparm_exclude_reference_link=true` the link goes (false and true answer bare strings). Journal
fields answer "" as a value; their display value is the whole journal, newest entry first.
"""

from __future__ import annotations

from typing import Any

from ticketbridge.sandboxes.servicenow.query import resolver
from ticketbridge.sandboxes.servicenow.records import journal_entries
from ticketbridge.sandboxes.servicenow.schema import TABLES, Column
from ticketbridge.sandboxes.servicenow.state import Instance, Row


def display_mode(raw: str | None) -> str:
    value = (raw or "false").lower()
    return value if value in {"true", "all"} else "false"


def is_true(raw: str | None) -> bool:
    return (raw or "").lower() == "true"


def field_list(raw: str | None) -> list[str] | None:
    if not raw:
        return None
    return [f.strip() for f in raw.split(",") if f.strip()]


class Renderer:
    def __init__(self, instance: Instance, base_url: str, *, display: str = "false", exclude_links: bool = False):
        self.instance = instance
        self.base = base_url.rstrip("/")
        self.display = display
        self.exclude_links = exclude_links

    def row(self, table: str, row: Row, fields: list[str] | None = None) -> dict[str, Any]:
        schema = TABLES[table]
        resolve = resolver(self.instance, table)
        names = fields if fields is not None else list(schema.columns)
        out: dict[str, Any] = {}
        for name in names:
            column, value = resolve(row, name)
            if column is None:
                continue  # "Invalid fields are ignored."
            owner = _owner(table, name)
            out[name] = self.value(owner, column, value, row if "." not in name else None)
        return out

    def value(self, table: str, column: Column, value: str, row: Row | None) -> Any:
        if column.internal_type == "journal_input":
            value = ""
        if column.internal_type == "reference" and value and column.reference:
            link = f"{self.base}/api/now/table/{column.reference}/{value}"
            shown = self.display_value(table, column, value, row)
            if self.display == "false":
                return value if self.exclude_links else {"link": link, "value": value}
            if self.display == "true":
                return shown if self.exclude_links else {"display_value": shown, "link": link}
            answer = {"display_value": shown, "value": value}
            return answer if self.exclude_links else {"display_value": shown, "link": link, "value": value}
        if self.display == "false":
            return value
        shown = self.display_value(table, column, value, row)
        return shown if self.display == "true" else {"display_value": shown, "value": value}

    def display_value(self, table: str, column: Column, value: str, row: Row | None) -> str:
        if column.internal_type == "journal_input":
            return self.journal(table, column, row) if row is not None else ""
        if column.internal_type == "reference" and column.reference in TABLES:
            target = self.instance.row(column.reference, value)
            if target is None:
                return ""
            ref_table = TABLES[column.reference]
            return self.display_value(
                ref_table.name, ref_table.columns[ref_table.display], target.get(ref_table.display, ""), target
            )
        if column.choice and value:
            for choice in self.instance.rows("sys_choice").values():
                if choice["name"] == table and choice["element"] == column.name and choice["value"] == value:
                    return choice["label"]
        return value

    def journal(self, table: str, column: Column, row: Row) -> str:
        users = {u["user_name"]: u["name"] for u in self.instance.rows("sys_user").values()}
        entries = journal_entries(self.instance, table, row["sys_id"], column.name)
        return "".join(
            f"{e['sys_created_on']} - {users.get(e['sys_created_by'], e['sys_created_by'])} ({column.label})\n"
            f"{e['value']}\n\n"
            for e in entries
        )


def _owner(table: str, path: str) -> str:
    """The table the last hop of a dot-walked path belongs to."""
    current = table
    for part in path.split(".")[:-1]:
        column = TABLES[current].column(part)
        current = column.reference if column and column.reference else current
    return current
