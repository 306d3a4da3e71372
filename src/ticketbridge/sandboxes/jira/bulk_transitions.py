"""getAvailableTransitions: the asked issues grouped by workflow, each group with the transitions common to
all its issues, served 50 workflows a page ("This API uses pagination to return responses, delivering 50
workflows at a time").

The document names the cursors (`startingAfter`, `endingBefore`, in the query and in the answer) but not
their meaning; the sandbox reads them as cursor APIs usually do. Workflows come in the order their first
issue was asked for. A page's `startingAfter` is there only when a later page is, and asking with it gives
the workflows after the page's last one; its `endingBefore`, there only when an earlier page is, gives the
workflows before its first one. A cursor names a workflow (opaque: its id, base64url-encoded), so it is
only valid with issues that include one of that workflow.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ticketbridge.sandboxes.jira.errors import BulkOperationError
from ticketbridge.sandboxes.jira.state import Site, Workflow

WORKFLOWS_PER_PAGE = 50
BOTH_CURSORS = "Only one of startingAfter and endingBefore can be given."


def available_transitions_page(
    site: Site, issue_ids: list[int], *, starting_after: str | None, ending_before: str | None
) -> dict[str, Any]:
    """The BulkTransitionGetAvailableTransitions answer for one page; raises the bulk 400 for a bad cursor."""
    if starting_after is not None and ending_before is not None:
        raise BulkOperationError(400, BOTH_CURSORS)
    groups = _groups(site, issue_ids)
    order = list(groups)
    if starting_after is not None:
        start = _position(order, starting_after, "startingAfter") + 1
        end = min(len(order), start + WORKFLOWS_PER_PAGE)
    elif ending_before is not None:
        end = _position(order, ending_before, "endingBefore")
        start = max(0, end - WORKFLOWS_PER_PAGE)
    else:
        start, end = 0, min(len(order), WORKFLOWS_PER_PAGE)
    page: dict[str, Any] = {
        "availableTransitions": [_render(site, site.workflows[w], groups[w]) for w in order[start:end]]
    }
    # An empty page (before the first workflow) has nothing to be after or before.
    if start < end < len(order):
        page["startingAfter"] = _cursor(order[end - 1])
    if 0 < start < end:
        page["endingBefore"] = _cursor(order[start])
    return page


def _groups(site: Site, issue_ids: list[int]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for issue_id in issue_ids:
        groups.setdefault(site.workflow_of(site.issues[issue_id]).id, []).append(issue_id)
    return groups


def _render(site: Site, workflow: Workflow, members: list[int]) -> dict[str, Any]:
    per_issue = [{t.id for t in workflow.available(site.issues[i].status_id)} for i in members]
    common = set.intersection(*per_issue)
    return {
        "isTransitionsFiltered": common != set().union(*per_issue),
        "issues": [site.issues[i].key for i in members],
        "transitions": [
            {
                "transitionId": t.id,
                "transitionName": t.name,
                "to": {"statusId": int(t.to_status_id), "statusName": site.statuses[t.to_status_id].name},
            }
            for t in workflow.transitions
            if t.id in common
        ],
    }


def _cursor(workflow_id: str) -> str:
    return base64.urlsafe_b64encode(workflow_id.encode()).decode().rstrip("=")


def _position(order: list[str], cursor: str, name: str) -> int:
    """Where the workflow `cursor` names sits among the asked issues' workflows."""
    try:
        workflow_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        workflow_id = None
    if workflow_id not in order:
        # Jira's wording for a bad cursor is not documented.
        raise BulkOperationError(400, f"The {name} cursor is not valid for these issues.")
    return order.index(workflow_id)
