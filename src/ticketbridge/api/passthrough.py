"""Passthrough endpoints under /v1/itsm/passthrough: real time from the vendor, for pickers and
ad-hoc search. Vendor ids in the answers work in the `*_vendor_id` fields of ticket creates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ticketbridge.api.deps import ConnectionDep, RuntimeDep
from ticketbridge.api.models.errors import error_responses
from ticketbridge.api.models.passthrough import (
    PassthroughIssueTypeListModel,
    PassthroughIssueTypeModel,
    PassthroughProjectListModel,
    PassthroughProjectModel,
    PassthroughTicketModel,
    PassthroughTicketSearchRespModel,
    PassthroughUserListModel,
    PassthroughUserModel,
)
from ticketbridge.domain.inputs import MAX_OFFSET, MAX_SHORT_TEXT, SafeStr
from ticketbridge.services import passthrough

router = APIRouter(
    prefix="/v1/itsm/passthrough",
    tags=["ITSM", "Passthrough"],
    responses=error_responses(401, 404, 409, 422, 429, 500, 502, 503),
)
ProjectKey = Annotated[
    SafeStr,
    Path(max_length=MAX_SHORT_TEXT, description="vendor_id of a project (Jira project key, Rezolve team id)"),
]


@router.get("/projects", operation_id="passthrough_list_projects", summary="Passthrough: List Projects")
async def list_projects(
    connection: ConnectionDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    include_issue_types: Annotated[bool, Query(description="Embed each project's issue types")] = False,
) -> PassthroughProjectListModel:
    page = await passthrough.list_projects(
        runtime.vendor_access, connection, limit=limit, offset=offset, include_issue_types=include_issue_types
    )
    return PassthroughProjectListModel(
        items=[PassthroughProjectModel.of(p) for p in page.items],
        total=page.total,
        limit=limit,
        offset=offset,
    )


@router.get(
    "/projects/{project_key}/issue-types",
    operation_id="passthrough_list_issue_types",
    summary="Passthrough: List Issue Types",
)
async def list_issue_types(
    project_key: ProjectKey, connection: ConnectionDep, runtime: RuntimeDep
) -> PassthroughIssueTypeListModel:
    """The types one can create in the project; each vendor_id works as type_vendor_id."""
    types = await passthrough.list_issue_types(runtime.vendor_access, connection, project_key)
    return PassthroughIssueTypeListModel(items=[PassthroughIssueTypeModel.of(t) for t in types], total=len(types))


@router.get(
    "/projects/{project_key}/assignable-users",
    operation_id="passthrough_list_assignable_users",
    summary="Passthrough: List Assignable Users",
)
async def list_assignable_users(
    project_key: ProjectKey,
    connection: ConnectionDep,
    runtime: RuntimeDep,
    query: Annotated[
        SafeStr | None, Query(max_length=200, description="Name or email (Jira: prefix; Rezolve: contains)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> PassthroughUserListModel:
    users = await passthrough.list_assignable_users(
        runtime.vendor_access, connection, project_key, query=query, limit=limit
    )
    return PassthroughUserListModel(items=[PassthroughUserModel.of(u) for u in users], total=None)


@router.get(
    "/tickets/search",
    operation_id="passthrough_search_tickets",
    summary="Passthrough: Search Tickets",
    responses=error_responses(400),
)
async def search_tickets(
    connection: ConnectionDep,
    runtime: RuntimeDep,
    jql: Annotated[
        SafeStr,
        Query(
            min_length=1,
            max_length=passthrough.MAX_QUERY_LENGTH,
            description="The vendor-native query. JIRA: JQL (run on /rest/api/3/search/jql). REZOLVE: "
            'whitespace-separated terms such as `status=open priority=high name~"vpn access"` '
            "(field=value, !=, <, >, ~ contains; other words are free text).",
        ),
    ],
    # Vendor page tokens are opaque but printable ASCII (Jira's nextPageToken, Rezolve's offset).
    cursor: Annotated[str | None, Query(max_length=2000, pattern="^[!-~]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> PassthroughTicketSearchRespModel:
    """One page of the vendor's search; a query the vendor refuses answers 400 with its message."""
    page = await passthrough.search_tickets(runtime.vendor_access, connection, jql, cursor=cursor, limit=limit)
    return PassthroughTicketSearchRespModel(
        items=[PassthroughTicketModel.of(t) for t in page.items], next_cursor=page.next_cursor
    )
