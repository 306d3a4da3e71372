"""The seed format of `POST /__sandbox__/seed`, and how it is added to an instance."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ticketbridge.sandboxes.servicenow import records
from ticketbridge.sandboxes.servicenow.errors import ServiceNowError
from ticketbridge.sandboxes.servicenow.state import Account, Instance, Row


class SeedUser(BaseModel):
    user_name: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    #: Without a password the user exists but cannot log in.
    password: str | None = None
    roles: list[str] = Field(default_factory=list)


class SeedGroup(BaseModel):
    name: str
    description: str = ""
    #: user_names of the members
    members: list[str] = Field(default_factory=list)


class SeedRequest(BaseModel):
    #: A number of generated incidents, or incident bodies as the Table API takes them.
    incidents: int | list[dict[str, Any]] = 0
    users: list[SeedUser] = Field(default_factory=list)
    groups: list[SeedGroup] = Field(default_factory=list)


def seed(instance: Instance, request: SeedRequest, admin: Account) -> list[Row]:
    """Adds the users, groups and incidents as `admin`; answers the incidents created, in order.
    Raises a 400 `ServiceNowError` on an unknown member or an incident the instance refuses."""
    for user in request.users:
        body = user.model_dump(include={"user_name", "first_name", "last_name", "email"})
        row = records.insert(instance, "sys_user", body, admin)
        instance.accounts[user.user_name] = Account(row["sys_id"], user.user_name, user.password or "", user.roles)
    for group in request.groups:
        row = records.insert(instance, "sys_user_group", {"name": group.name, "description": group.description}, admin)
        for member in group.members:
            user_row = account(instance, member)
            records.insert(instance, "sys_user_grmember", {"user": user_row.sys_id, "group": row["sys_id"]}, admin)
    bodies = request.incidents
    if isinstance(bodies, int):
        bodies = [
            {"short_description": f"Generated incident {i + 1}", "impact": "3", "urgency": "3"} for i in range(bodies)
        ]
    created: list[Row] = []
    for body in bodies:
        try:
            created.append(records.insert(instance, "incident", body, admin, hold_reason_required=False))
        except ServiceNowError as exc:
            raise ServiceNowError(400, exc.message, exc.detail) from None
    return created


def account(instance: Instance, user_name: str) -> Account:
    """The account of `user_name`, or one that cannot log in for a sys_user without credentials."""
    found = instance.account_by_name(user_name)
    if found is None:
        row = next((r for r in instance.rows("sys_user").values() if r["user_name"] == user_name), None)
        if row is None:
            raise ServiceNowError(400, f"unknown user {user_name!r}")
        return Account(row["sys_id"], user_name, "")
    return found
