"""Who may read and write what: authentication, query business rules and ACLs, as a client meets them.

- `admin` may do anything. `itil` reads and writes incidents (no delete). A user without roles sees
  only incidents they are the caller of or opened (ServiceNow's "incident query" business rule, which
  filters in the query, so pages stay full), and may create incidents and update those.
- Users, groups, members, choices and the dictionary: every user reads them; only `admin` writes.
- Journal entries: `admin` and `itil` read them. Attachments: whoever can read the parent record.
- `Runtime.hidden` adds row-level read ACLs (an encoded query per table) for users without `admin`:
  those rows answer 404 and drop out of lists after the page was cut (`limit_before_acl`).
"""

from __future__ import annotations

import base64
import binascii

from starlette.requests import Request

from ticketbridge.sandboxes.servicenow.errors import acl_denied, not_authenticated
from ticketbridge.sandboxes.servicenow.query import matches, parse, resolver
from ticketbridge.sandboxes.servicenow.runtime import Runtime
from ticketbridge.sandboxes.servicenow.state import Account, Row

DIRECTORY = frozenset({"sys_user", "sys_user_group", "sys_user_grmember", "sys_choice", "sys_dictionary"})
OPERATION = {"POST": "Insert", "PUT": "Update", "PATCH": "Update", "DELETE": "Delete"}


def authenticate(runtime: Runtime, request: Request) -> Account:
    """The account of the request's Basic credentials or Bearer token; 401 otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    account = None
    if scheme.lower() == "basic":
        try:
            user_name, _, password = base64.b64decode(credentials).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise not_authenticated() from None
        found = runtime.instance.account_by_name(user_name)
        if found is not None and found.password and found.password == password:
            account = found
    elif scheme.lower() == "bearer":
        user_name = runtime.tokens.user_of(credentials.strip()) or ""
        account = runtime.instance.account_by_name(user_name)
    if account is None or not is_active(runtime, account):
        raise not_authenticated()
    return account


def is_active(runtime: Runtime, account: Account) -> bool:
    user = runtime.instance.row("sys_user", account.sys_id)
    return user is not None and user.get("active") == "true" and user.get("locked_out") != "true"


def query_filter(account: Account, table: str) -> str:
    """The condition a query business rule adds for this user (empty: none)."""
    if table == "incident" and not _has(account, "admin", "itil"):
        return f"caller_id={account.sys_id}^ORopened_by={account.sys_id}"
    if table == "sys_journal_field" and not _has(account, "admin", "itil"):
        return "sys_id=-1"
    return ""


def can_read(runtime: Runtime, account: Account, table: str, row: Row) -> bool:
    """Query business rule and read ACLs, for one row."""
    instance = runtime.instance
    business_rule = query_filter(account, table)
    if business_rule and not matches(parse(table, business_rule), row, resolver(instance, table)):
        return False
    if table == "sys_attachment":
        parent = instance.row(row["table_name"], row["table_sys_id"])
        if parent is None or not can_read(runtime, account, row["table_name"], parent):
            return False
    return passes_acl(runtime, account, table, row)


def passes_acl(runtime: Runtime, account: Account, table: str, row: Row) -> bool:
    hidden = runtime.hidden.get(table)
    if not hidden or _has(account, "admin"):
        return True
    return not matches(parse(table, hidden), row, resolver(runtime.instance, table))


def check_write(account: Account, table: str, method: str) -> None:
    """403 ACL Exception when the user's roles do not allow this write on the table."""
    if _has(account, "admin") or (table == "incident" and method != "DELETE"):
        return
    raise acl_denied(OPERATION.get(method, "Update"))


def _has(account: Account, *roles: str) -> bool:
    return any(r in account.roles for r in roles)
