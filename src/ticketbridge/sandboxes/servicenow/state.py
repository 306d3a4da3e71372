"""The instance's data: one dict of rows per table (every value a string), who may log in, and counters.

Rows are kept in insertion order, which is the order a list answers when the query has no ORDERBY.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ticketbridge.sandboxes.servicenow.schema import DATETIME_FORMAT, TABLES

Row = dict[str, str]

#: Instance properties the sandbox honours, with ServiceNow's defaults.
DEFAULT_PROPERTIES: dict[str, str] = {"glide.invalid_query.returns_no_rows": "false"}


def new_sys_id() -> str:
    return secrets.token_hex(16)


def now_text() -> str:
    return datetime.now(UTC).strftime(DATETIME_FORMAT)


@dataclass
class Account:
    """Credentials and roles of a sys_user who can log in (sys_user_has_role, flattened)."""

    sys_id: str
    user_name: str
    password: str
    roles: list[str] = field(default_factory=list)


@dataclass
class Instance:
    tables: dict[str, dict[str, Row]] = field(default_factory=lambda: {name: {} for name in TABLES})
    accounts: dict[str, Account] = field(default_factory=dict)
    #: Attachment bytes by sys_attachment sys_id.
    files: dict[str, bytes] = field(default_factory=dict)
    #: Next number per prefix ("INC" -> 10001).
    numbers: dict[str, int] = field(default_factory=lambda: {"INC": 10001})
    properties: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PROPERTIES))

    def rows(self, table: str) -> dict[str, Row]:
        return self.tables[table]

    def row(self, table: str, sys_id: str) -> Row | None:
        return self.tables.get(table, {}).get(sys_id)

    def account_by_name(self, user_name: str) -> Account | None:
        return self.accounts.get(user_name)

    def account_of(self, user_sys_id: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.sys_id == user_sys_id), None)

    def next_number(self, prefix: str) -> str:
        number = self.numbers.get(prefix, 10001)
        self.numbers[prefix] = number + 1
        return f"{prefix}{number:07d}"

    def property_is_true(self, name: str) -> bool:
        return self.properties.get(name, DEFAULT_PROPERTIES.get(name, "false")).lower() == "true"
