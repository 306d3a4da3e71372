"""Single-issue transitions, driven by the issue's project workflow."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.issues import transition_issue, visible_issue
from ticketbridge.sandboxes.jira.render import transition_json
from ticketbridge.sandboxes.jira.routes.body import BodyDep
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import RuntimeDep

router = APIRouter(route_class=JiraRoute)


@router.get("/issue/{issueIdOrKey}/transitions", operation_id="getTransitions")
async def transitions(
    issueIdOrKey: str,
    runtime: RuntimeDep,
    user: UserDep,
    transitionId: str | None = None,
    expand: str | None = None,
) -> dict[str, Any]:
    """Transitions available from the current status; an unknown `transitionId` gives an empty list.
    `expand=transitions.fields` adds each transition's screen fields (none: no transition has a screen)."""
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    available = runtime.site.workflow_of(issue).available(issue.status_id)
    if transitionId is not None:
        available = [t for t in available if str(t.id) == transitionId]
    with_fields = "transitions.fields" in (expand or "").split(",")
    return {
        "expand": "transitions",
        "transitions": [transition_json(runtime.base, runtime.site, t, with_fields) for t in available],
    }


@router.post("/issue/{issueIdOrKey}/transitions", operation_id="doTransition", status_code=204)
async def transition(issueIdOrKey: str, body: BodyDep, runtime: RuntimeDep, user: UserDep) -> Response:
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    transition_issue(runtime.site, user, issue, body)
    return Response(status_code=204)
