"""The sandbox's entities, named and shaped as they appear on Rezolve's wire (camelCase included).

One `Store` holds every tenant; each tenant owns its realm's clients, its teams, users, ticket types
and tickets. The whole store is a pydantic model so that persistence is one JSON dump.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FieldKind(StrEnum):
    TEXT = "text"
    RICHTEXT = "richtext"
    SELECT = "select"
    #: A user UUID of the tenant.
    USER = "user"
    #: ISO-8601 date or date-time.
    DATE = "date"
    #: A list of strings, restricted to `options` when the field has any.
    ARRAY = "array"


class ActorType(StrEnum):
    SERVICE_ACCOUNT = "service_account"
    USER = "user"


class FieldOption(BaseModel):
    value: str
    label: str


class FieldDef(BaseModel):
    id: str
    name: str
    label: str
    type: FieldKind
    required: bool = False
    options: list[FieldOption] | None = None
    defaultValue: Any = None
    #: "ticket" marks a text field that holds another ticket's display ID (a parent link).
    dataSource: str | None = None
    system: bool = False

    def option_values(self) -> set[str]:
        return {option.value for option in self.options or []}


class WorkflowStatus(BaseModel):
    key: str
    name: str
    isInitial: bool = False
    isTerminal: bool = False


class Transition(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: list[str] = Field(alias="from")
    to: str
    allowedRoles: list[str]
    #: UUIDs of the fields that must hold a value once the ticket moves along this transition.
    requiredFields: list[str] = Field(default_factory=list)


class Workflow(BaseModel):
    statuses: list[WorkflowStatus]
    transitions: list[Transition]


class TicketTypeProperties(BaseModel):
    prefix: str
    digits: int = 4
    startAt: int = 1


class TicketType(BaseModel):
    id: str
    name: str
    v1_name: str
    properties: TicketTypeProperties
    fields: list[FieldDef]
    workflow: Workflow

    def field_named(self, name: str) -> FieldDef | None:
        return next((field for field in self.fields if field.name == name), None)


class Team(BaseModel):
    id: str
    name: str
    key: str


class User(BaseModel):
    id: str
    username: str
    firstName: str
    lastName: str
    email: str
    roles: list[str]
    teams: list[str]
    defaultTeam: str
    status: str = "active"


class Client(BaseModel):
    """A Keycloak confidential client with a service account (client-credentials grant)."""

    clientId: str
    secret: str
    #: The service account's subject, `sa-tenant-…` as the seed shows in audit trails.
    subject: str
    roles: list[str]
    scopes: list[str]


class Actor(BaseModel):
    id: str
    type: ActorType


class Ticket(BaseModel):
    id: str
    object_id: str
    ticketTypeId: str
    teamId: str
    etag: str
    #: Values keyed by field UUID.
    data: dict[str, Any]
    source: str
    createdAt: str
    createdBy: Actor
    updatedAt: str
    lastUpdatedBy: Actor


class Tenant(BaseModel):
    id: str
    name: str
    realm: str
    clients: list[Client] = Field(default_factory=list)
    teams: list[Team] = Field(default_factory=list)
    users: list[User] = Field(default_factory=list)
    ticketTypes: list[TicketType] = Field(default_factory=list)
    #: Keyed by display ID (`object_id`), the only ID the ticket paths accept.
    tickets: dict[str, Ticket] = Field(default_factory=dict)
    #: Last sequence number issued per ticket type id.
    sequences: dict[str, int] = Field(default_factory=dict)

    def team(self, key: str) -> Team | None:
        return next((team for team in self.teams if team.key == key), None)

    def ticket_type(self, type_id: str) -> TicketType | None:
        return next((ticket_type for ticket_type in self.ticketTypes if ticket_type.id == type_id), None)

    def user(self, user_id: str) -> User | None:
        return next((user for user in self.users if user.id == user_id), None)

    def client(self, client_id: str) -> Client | None:
        return next((client for client in self.clients if client.clientId == client_id), None)


class Store(BaseModel):
    tenants: dict[str, Tenant] = Field(default_factory=dict)

    def tenant_of_realm(self, realm: str) -> Tenant | None:
        return next((tenant for tenant in self.tenants.values() if tenant.realm == realm), None)
