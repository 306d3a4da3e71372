"""The demo data every fresh sandbox starts with, and the ids tests and `make demo` rely on.

Tenant "demo" has two teams, three users, two ticket types (Service Request REQ-, Incident INC-)
and four tickets. Tenant "acme" exists only so that a demo token sent with acme's x-tenantid
gets "Tenant not found". Field UUIDs are fixed so that scripts can name them; the Service Request
description UUID is the one in the seed's example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ticketbridge.sandboxes.rezolve.models import (
    Actor,
    ActorType,
    Client,
    FieldDef,
    FieldKind,
    FieldOption,
    Store,
    Team,
    Tenant,
    TicketType,
    TicketTypeProperties,
    Transition,
    User,
    Workflow,
    WorkflowStatus,
)
from ticketbridge.sandboxes.rezolve.tickets import create_ticket
from ticketbridge.sandboxes.rezolve.validation import TICKET_DATA_SOURCE

DEMO_TENANT_ID = "c644c4a5-df9e-4763-93b0-f701b0268d9e"
DEMO_REALM = "demo"
#: Read and write: roles ticket_agent, scopes tickets:read and tickets:write.
DEMO_CLIENT_ID = "sa-tenant-demo-1"
DEMO_CLIENT_SECRET = "demo-writer-secret"
#: Carries both scopes but only the `requestor` role: it may read, and writes get 401.
DEMO_READONLY_CLIENT_ID = "sa-tenant-demo-readonly"
DEMO_READONLY_CLIENT_SECRET = "demo-reader-secret"

OTHER_TENANT_ID = "5fdb7025-7677-4c1d-a39f-3b1b303b336b"
OTHER_REALM = "acme"
OTHER_CLIENT_ID = "sa-tenant-acme-1"
OTHER_CLIENT_SECRET = "acme-writer-secret"

SERVICE_REQUEST_TYPE_ID = "16910"
INCIDENT_TYPE_ID = "16911"
IT_TEAM = "it"
HR_TEAM = "hr"
AGENT_ALEX_ID = "822a1979-fb47-4f17-bf85-62daee85dc0e"
AGENT_PRIYA_ID = "652f7854-24be-40f1-afd4-cd87cf01602c"
REQUESTER_SAM_ID = "c9e37dd6-ef80-44e4-9ddb-78e1941f0195"

WRITER_ROLES = ["ticket_agent", "offline_access", "uma_authorization"]
BOTH_SCOPES = ["tickets:read", "tickets:write"]
AGENT_ROLES = ["ticket_agent", "tenant_admin"]


@dataclass(frozen=True)
class TypeFields:
    """The field UUIDs of one ticket type, by field name."""

    summary: str
    description: str
    status: str
    priority: str
    assignee: str
    dueDate: str
    parent: str
    tags: str
    externalReference: str


REQUEST_FIELDS = TypeFields(
    summary="55e5afbf-a0d9-470d-ad69-7598d94da4e8",
    description="459cf0c6-ae1c-4ba2-8116-3b8b38207528",
    status="4b3e885c-1d42-4f96-b7ac-842f0274a037",
    priority="bd2900bd-14be-43d5-bd14-0f17863cb630",
    assignee="4292d6b4-22bb-42ea-af3d-7fa1d90f9177",
    dueDate="81300a42-ddde-40c1-a08b-2daf2317f9c6",
    parent="52d50fc2-03ec-4339-93ae-e03fafae60b5",
    tags="b6fb1a49-8c0b-4eb1-bb2c-a2e42beee8df",
    externalReference="6821d69c-d86b-4389-b2c1-939428b3f935",
)
INCIDENT_FIELDS = TypeFields(
    summary="43bf1a0a-1cd0-4f88-99bb-700cb5e7bb24",
    description="8d3a7356-a2b2-4f58-9982-5da297a7615c",
    status="53374431-80b8-4db6-a6c9-72076a23ddbb",
    priority="a24ff342-7625-4b0c-b4b4-e06380947c43",
    assignee="dd0059c0-f766-4c11-85c1-2baca68c6cde",
    dueDate="25db8e56-78c5-417c-81a2-ddfb9f7dbd8a",
    parent="c6135798-e653-44a8-93da-c6c28afdbc77",
    tags="b1fd57fe-f032-4310-b25f-74caeb92fc9b",
    externalReference="0ff09246-e8c1-4fbf-be3f-9f1d14480057",
)

PRIORITIES = [
    FieldOption(value="low", label="Low"),
    FieldOption(value="medium", label="Medium"),
    FieldOption(value="high", label="High"),
    FieldOption(value="critical", label="Critical"),
]

REQUEST_WORKFLOW = Workflow(
    statuses=[
        WorkflowStatus(key="submitted", name="Submitted", isInitial=True),
        WorkflowStatus(key="in_progress", name="In Progress"),
        WorkflowStatus(key="resolved", name="Resolved", isTerminal=True),
        WorkflowStatus(key="cancelled", name="Cancelled", isTerminal=True),
    ],
    transitions=[
        Transition(from_=["submitted"], to="in_progress", allowedRoles=AGENT_ROLES),
        Transition(from_=["in_progress"], to="resolved", allowedRoles=AGENT_ROLES),
        Transition(from_=["resolved"], to="in_progress", allowedRoles=AGENT_ROLES),
        Transition(from_=["submitted", "in_progress"], to="cancelled", allowedRoles=[*AGENT_ROLES, "ticket_user"]),
    ],
)
INCIDENT_WORKFLOW = Workflow(
    statuses=[
        WorkflowStatus(key="new", name="New", isInitial=True),
        WorkflowStatus(key="in_progress", name="In Progress"),
        WorkflowStatus(key="resolved", name="Resolved"),
        WorkflowStatus(key="closed", name="Closed", isTerminal=True),
    ],
    transitions=[
        Transition(from_=["new"], to="in_progress", allowedRoles=AGENT_ROLES),
        Transition(from_=["new", "in_progress"], to="resolved", allowedRoles=AGENT_ROLES),
        Transition(from_=["resolved"], to="in_progress", allowedRoles=AGENT_ROLES),
        Transition(from_=["resolved"], to="closed", allowedRoles=AGENT_ROLES),
    ],
)


def build_demo_store(*, with_tickets: bool = True) -> Store:
    """Both tenants with their clients, teams, users and ticket types; the demo tickets if asked."""
    demo = Tenant(
        id=DEMO_TENANT_ID,
        name="Demo Corp",
        realm=DEMO_REALM,
        clients=[
            Client(
                clientId=DEMO_CLIENT_ID,
                secret=DEMO_CLIENT_SECRET,
                subject=DEMO_CLIENT_ID,
                roles=WRITER_ROLES,
                scopes=BOTH_SCOPES,
            ),
            Client(
                clientId=DEMO_READONLY_CLIENT_ID,
                secret=DEMO_READONLY_CLIENT_SECRET,
                subject=DEMO_READONLY_CLIENT_ID,
                roles=["requestor", "offline_access", "uma_authorization"],
                scopes=BOTH_SCOPES,
            ),
        ],
        teams=[Team(id="team-001", name="IT", key=IT_TEAM), Team(id="team-002", name="HR", key=HR_TEAM)],
        users=[
            _user(AGENT_ALEX_ID, "alex", "Alex", "Agent", ["ticket_agent"], [IT_TEAM]),
            _user(AGENT_PRIYA_ID, "priya", "Priya", "Patel", ["ticket_agent"], [HR_TEAM, IT_TEAM]),
            _user(REQUESTER_SAM_ID, "sam", "Sam", "Requester", ["requestor"], [IT_TEAM]),
        ],
        ticketTypes=[
            _ticket_type(SERVICE_REQUEST_TYPE_ID, "Service Request", "REQ", REQUEST_FIELDS, REQUEST_WORKFLOW),
            _ticket_type(INCIDENT_TYPE_ID, "Incident", "INC", INCIDENT_FIELDS, INCIDENT_WORKFLOW),
        ],
    )
    if with_tickets:
        _add_demo_tickets(demo)
    acme = Tenant(
        id=OTHER_TENANT_ID,
        name="Acme",
        realm=OTHER_REALM,
        clients=[
            Client(
                clientId=OTHER_CLIENT_ID,
                secret=OTHER_CLIENT_SECRET,
                subject=OTHER_CLIENT_ID,
                roles=WRITER_ROLES,
                scopes=BOTH_SCOPES,
            )
        ],
        teams=[Team(id="team-101", name="Operations", key="ops")],
        ticketTypes=[_ticket_type(SERVICE_REQUEST_TYPE_ID, "Service Request", "REQ", REQUEST_FIELDS, REQUEST_WORKFLOW)],
    )
    return Store(tenants={demo.id: demo, acme.id: acme})


def seed_tickets(tenant: Tenant, count: int) -> list[str]:
    """Adds `count` Service Requests to the tenant's first team; returns their display IDs."""
    team_key = tenant.teams[0].key
    actor = Actor(id=REQUESTER_SAM_ID, type=ActorType.USER)
    created = [
        create_ticket(
            tenant,
            team_key=team_key,
            type_id=SERVICE_REQUEST_TYPE_ID,
            values={},
            summary=f"Seeded request {n + 1}",
            source="sandbox",
            actor=actor,
        )
        for n in range(count)
    ]
    return [ticket.object_id for ticket in created]


def _add_demo_tickets(tenant: Tenant) -> None:
    actor = Actor(id=REQUESTER_SAM_ID, type=ActorType.USER)
    req, inc = REQUEST_FIELDS, INCIDENT_FIELDS
    rows: list[tuple[str, str, str, dict[str, Any]]] = [
        (
            IT_TEAM,
            SERVICE_REQUEST_TYPE_ID,
            "VPN access for a new hire",
            {
                req.description: "<p>Starts Monday.</p>",
                req.assignee: AGENT_ALEX_ID,
                req.tags: ["vpn"],
            },
        ),
        (
            IT_TEAM,
            SERVICE_REQUEST_TYPE_ID,
            "Replace laptop battery",
            {
                req.status: "in_progress",
                req.priority: "high",
                req.dueDate: "2026-12-01",
            },
        ),
        (
            IT_TEAM,
            INCIDENT_TYPE_ID,
            "Email delivery delayed",
            {
                inc.priority: "high",
                inc.assignee: AGENT_PRIYA_ID,
            },
        ),
        (
            HR_TEAM,
            INCIDENT_TYPE_ID,
            "Payroll portal returns errors",
            {
                inc.parent: "INC-0001",
                inc.externalReference: "HR-42",
            },
        ),
    ]
    for team_key, type_id, summary, values in rows:
        create_ticket(
            tenant,
            team_key=team_key,
            type_id=type_id,
            values=values,
            summary=summary,
            source="portal",
            actor=actor,
        )


def _user(user_id: str, username: str, first: str, last: str, roles: list[str], teams: list[str]) -> User:
    return User(
        id=user_id,
        username=username,
        firstName=first,
        lastName=last,
        email=f"{username}@demo.example",
        roles=roles,
        teams=teams,
        defaultTeam=teams[0],
    )


def _ticket_type(type_id: str, name: str, prefix: str, ids: TypeFields, workflow: Workflow) -> TicketType:
    statuses = [FieldOption(value=status.key, label=status.name) for status in workflow.statuses]
    initial = next(status.key for status in workflow.statuses if status.isInitial)
    text, richtext, select = FieldKind.TEXT, FieldKind.RICHTEXT, FieldKind.SELECT
    fields = [
        FieldDef(id=ids.summary, name="summary", label="Summary", type=text, required=True, system=True),
        FieldDef(id=ids.description, name="description", label="Description", type=richtext, system=True),
        FieldDef(
            id=ids.status,
            name="status",
            label="Status",
            type=select,
            required=True,
            options=statuses,
            defaultValue=initial,
            system=True,
        ),
        FieldDef(
            id=ids.priority,
            name="priority",
            label="Priority",
            type=select,
            options=PRIORITIES,
            defaultValue="medium",
        ),
        FieldDef(id=ids.assignee, name="assignee", label="Assigned To", type=FieldKind.USER),
        FieldDef(id=ids.dueDate, name="dueDate", label="Due Date", type=FieldKind.DATE),
        FieldDef(id=ids.parent, name="parent", label="Parent Ticket", type=text, dataSource=TICKET_DATA_SOURCE),
        FieldDef(id=ids.tags, name="tags", label="Tags", type=FieldKind.ARRAY),
        FieldDef(id=ids.externalReference, name="externalReference", label="External Reference", type=text),
    ]
    return TicketType(
        id=type_id,
        name=name,
        v1_name=name.lower().replace(" ", "_"),
        properties=TicketTypeProperties(prefix=prefix),
        fields=fields,
        workflow=workflow,
    )
