"""The demo instance: accounts, users, groups and members, incidents, choices and dictionary entries.

Demo sys_ids are fixed (`demo_sys_id(table, key)`: the MD5 of "table:key"), so a client, a test or the
README can name them.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ticketbridge.sandboxes.servicenow.records import insert
from ticketbridge.sandboxes.servicenow.schema import TABLES
from ticketbridge.sandboxes.servicenow.state import Account, Instance, Row, now_text

DEMO_USERNAME = "admin"
DEMO_PASSWORD = "sandbox-admin-password"
#: An ITIL agent (role `itil`): reads and writes incidents, cannot write users, groups or choices.
ITIL_USERNAME = "beth.anglin"
ITIL_PASSWORD = "sandbox-itil-password"
#: A requester without roles: sees only the incidents they are the caller of.
REQUESTER_USERNAME = "abel.tuter"
REQUESTER_PASSWORD = "sandbox-requester-password"
#: The OAuth application registry entry (oauth_entity) accepted by /oauth_token.do.
DEMO_CLIENT_ID = "3f4c2a1e9b8d4e6fa1c2b3d4e5f60718"
DEMO_CLIENT_SECRET = "sandbox-oauth-client-secret"


def demo_sys_id(table: str, key: str) -> str:
    return hashlib.md5(f"{table}:{key}".encode()).hexdigest()


#: user_name -> (first, last, title, roles, password or None when the user cannot log in)
USERS: dict[str, tuple[str, str, str, list[str], str | None]] = {
    DEMO_USERNAME: ("System", "Administrator", "Administrator", ["admin"], DEMO_PASSWORD),
    ITIL_USERNAME: ("Beth", "Anglin", "Service Desk Agent", ["itil"], ITIL_PASSWORD),
    REQUESTER_USERNAME: ("Abel", "Tuter", "Sales Manager", [], REQUESTER_PASSWORD),
    "david.loo": ("David", "Loo", "Network Engineer", ["itil"], None),
    "fred.luddy": ("Fred", "Luddy", "Hardware Technician", ["itil"], None),
}
#: group name -> (description, manager, members)
GROUPS: dict[str, tuple[str, str, list[str]]] = {
    "Service Desk": ("First line support", ITIL_USERNAME, [ITIL_USERNAME, "fred.luddy"]),
    "Network": ("Network operations", "david.loo", ["david.loo", ITIL_USERNAME]),
    "Database": ("Database administration", "david.loo", ["david.loo"]),
    "Hardware": ("Desktop and hardware support", "fred.luddy", ["fred.luddy"]),
}

STATE_CHOICES = [
    ("1", "New"),
    ("2", "In Progress"),
    ("3", "On Hold"),
    ("6", "Resolved"),
    ("7", "Closed"),
    ("8", "Canceled"),
]
IMPACT_CHOICES = [("1", "1 - High"), ("2", "2 - Medium"), ("3", "3 - Low")]
PRIORITY_CHOICES = [
    ("1", "1 - Critical"),
    ("2", "2 - High"),
    ("3", "3 - Moderate"),
    ("4", "4 - Low"),
    ("5", "5 - Planning"),
]
HOLD_REASON_CHOICES = [
    ("1", "Awaiting Caller"),
    ("5", "Awaiting Change"),
    ("3", "Awaiting Problem"),
    ("4", "Awaiting Vendor"),
]
CLOSE_CODE_CHOICES = [
    (v, v)
    for v in (
        "Duplicate",
        "Known error",
        "No resolution provided",
        "Resolved by caller",
        "Resolved by change",
        "Resolved by problem",
        "Resolved by request",
        "Solution provided",
        "Workaround provided",
        "User error",
    )
]
CATEGORY_CHOICES = [
    ("inquiry", "Inquiry / Help"),
    ("software", "Software"),
    ("hardware", "Hardware"),
    ("network", "Network"),
    ("database", "Database"),
]
#: category -> subcategory choices (sys_choice.dependent_value is the category)
SUBCATEGORY_CHOICES: dict[str, list[tuple[str, str]]] = {
    "inquiry": [("antivirus", "Antivirus"), ("email", "Email"), ("internal application", "Internal Application")],
    "software": [("email", "Email"), ("os", "Operating System")],
    "hardware": [
        ("cpu", "CPU"),
        ("disk", "Disk"),
        ("keyboard", "Keyboard"),
        ("memory", "Memory"),
        ("monitor", "Monitor"),
        ("mouse", "Mouse"),
    ],
    "network": [
        ("dhcp", "DHCP"),
        ("dns", "DNS"),
        ("ip address", "IP Address"),
        ("vpn", "VPN"),
        ("wireless", "Wireless"),
    ],
    "database": [("db2", "DB2"), ("ms sql server", "MS SQL Server"), ("oracle", "Oracle")],
}

#: The demo incidents, created in this order by the admin (INC0010001 ...).
INCIDENTS: list[dict[str, Any]] = [
    {
        "short_description": "Email server is down",
        "category": "software",
        "subcategory": "email",
        "impact": "1",
        "urgency": "1",
        "caller_id": REQUESTER_USERNAME,
        "assignment_group": "Service Desk",
        "assigned_to": ITIL_USERNAME,
        "state": "2",
        "work_notes": "Investigating the mail relay.",
    },
    {
        "short_description": "VPN drops every hour",
        "category": "network",
        "subcategory": "vpn",
        "impact": "2",
        "urgency": "2",
        "caller_id": REQUESTER_USERNAME,
        "assignment_group": "Network",
        "state": "1",
    },
    {
        "short_description": "Laptop keyboard sticky",
        "category": "hardware",
        "subcategory": "keyboard",
        "impact": "3",
        "urgency": "3",
        "caller_id": "david.loo",
        "assignment_group": "Hardware",
        "assigned_to": "fred.luddy",
        "state": "3",
        "hold_reason": "4",
    },
    {
        "short_description": "Reporting database slow",
        "category": "database",
        "subcategory": "oracle",
        "impact": "2",
        "urgency": "1",
        "caller_id": "fred.luddy",
        "assignment_group": "Database",
        "assigned_to": "david.loo",
        "state": "6",
        "close_code": "Solution provided",
        "close_notes": "Index rebuilt.",
    },
    {
        "short_description": "How do I reset my password?",
        "category": "inquiry",
        "impact": "3",
        "urgency": "2",
        "caller_id": REQUESTER_USERNAME,
        "state": "7",
        "close_code": "Resolved by caller",
        "close_notes": "Self-service.",
    },
]


def build_demo_instance(*, with_incidents: bool = True) -> Instance:
    instance = Instance()
    _dictionary(instance)
    _choices(instance)
    admin = _users(instance)
    _groups(instance)
    if with_incidents:
        for body in INCIDENTS:
            insert(instance, "incident", _resolve_names(body), admin)
    return instance


def _system_row(table: str, key: str, values: dict[str, str]) -> Row:
    now = now_text()
    row = {name: "" for name in TABLES[table].columns}
    row |= {"sys_id": demo_sys_id(table, key), "sys_created_on": now, "sys_created_by": "system"}
    row |= {"sys_updated_on": now, "sys_updated_by": "system", "sys_mod_count": "0"}
    return row | values


def _dictionary(instance: Instance) -> None:
    rows = instance.rows("sys_dictionary")
    for table in TABLES.values():
        for column in table.columns.values():
            row = _system_row(
                "sys_dictionary",
                f"{table.name}.{column.name}",
                {
                    "name": table.name,
                    "element": column.name,
                    "column_label": column.label,
                    "internal_type": column.internal_type,
                    "max_length": str(column.max_length),
                    "reference": column.reference or "",
                    "mandatory": "false",
                    "read_only": "true" if column.read_only else "false",
                    "active": "true",
                },
            )
            rows[row["sys_id"]] = row


def _choices(instance: Instance) -> None:
    lists: list[tuple[str, list[tuple[str, str]], str]] = [
        ("state", STATE_CHOICES, ""),
        ("incident_state", STATE_CHOICES, ""),
        ("impact", IMPACT_CHOICES, ""),
        ("urgency", IMPACT_CHOICES, ""),
        ("priority", PRIORITY_CHOICES, ""),
        ("hold_reason", HOLD_REASON_CHOICES, ""),
        ("close_code", CLOSE_CODE_CHOICES, ""),
        ("category", CATEGORY_CHOICES, ""),
    ]
    lists += [("subcategory", subs, category) for category, subs in SUBCATEGORY_CHOICES.items()]
    rows = instance.rows("sys_choice")
    for element, choices, dependent in lists:
        for sequence, (value, label) in enumerate(choices, start=1):
            row = _system_row(
                "sys_choice",
                f"incident.{element}.{dependent}.{value}",
                {
                    "name": "incident",
                    "element": element,
                    "language": "en",
                    "value": value,
                    "label": label,
                    "sequence": str(sequence),
                    "inactive": "false",
                    "dependent_value": dependent,
                },
            )
            rows[row["sys_id"]] = row


def _users(instance: Instance) -> Account:
    rows = instance.rows("sys_user")
    for user_name, (first, last, title, roles, password) in USERS.items():
        row = _system_row(
            "sys_user",
            user_name,
            {
                "user_name": user_name,
                "first_name": first,
                "last_name": last,
                "name": f"{first} {last}",
                "email": f"{user_name}@example.com",
                "title": title,
                "active": "true",
                "locked_out": "false",
            },
        )
        rows[row["sys_id"]] = row
        if password is not None:
            instance.accounts[user_name] = Account(row["sys_id"], user_name, password, list(roles))
        else:
            instance.accounts[user_name] = Account(row["sys_id"], user_name, "", list(roles))
    return instance.accounts[DEMO_USERNAME]


def _groups(instance: Instance) -> None:
    groups, members = instance.rows("sys_user_group"), instance.rows("sys_user_grmember")
    for name, (description, manager, users) in GROUPS.items():
        group = _system_row(
            "sys_user_group",
            name,
            {
                "name": name,
                "description": description,
                "email": f"{name.lower().replace(' ', '.')}@example.com",
                "manager": demo_sys_id("sys_user", manager),
                "active": "true",
            },
        )
        groups[group["sys_id"]] = group
        for user in users:
            member = _system_row(
                "sys_user_grmember",
                f"{name}/{user}",
                {
                    "user": demo_sys_id("sys_user", user),
                    "group": group["sys_id"],
                },
            )
            members[member["sys_id"]] = member


def _resolve_names(body: dict[str, Any]) -> dict[str, Any]:
    resolved = dict(body)
    for key in ("caller_id", "assigned_to"):
        if key in resolved:
            resolved[key] = demo_sys_id("sys_user", resolved[key])
    if "assignment_group" in resolved:
        resolved["assignment_group"] = demo_sys_id("sys_user_group", resolved["assignment_group"])
    return resolved
