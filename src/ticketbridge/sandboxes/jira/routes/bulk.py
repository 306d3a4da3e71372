"""Bulk operations: available transitions and editable fields, bulk transition and edit submissions, and task
progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.bulk_ops import (
    check_permission,
    check_size,
    edit_operation,
    editable_fields,
    parse_transition_inputs,
    resolve_issues,
    transition_operation,
)
from ticketbridge.sandboxes.jira.bulk_tasks import Operation
from ticketbridge.sandboxes.jira.bulk_transitions import available_transitions_page
from ticketbridge.sandboxes.jira.errors import BulkOperationError
from ticketbridge.sandboxes.jira.ratelimit import BURST
from ticketbridge.sandboxes.jira.routes.body import BodyDep
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import Runtime, RuntimeDep
from ticketbridge.sandboxes.jira.state import User

router = APIRouter(route_class=JiraRoute)
TOO_MANY_TASKS = "Too many concurrent bulk operations. Please wait for a running operation to finish."


@router.get("/bulk/issues/transition", operation_id="getAvailableTransitions")
async def available_transitions(
    issueIdsOrKeys: str,
    runtime: RuntimeDep,
    user: UserDep,
    startingAfter: str | None = None,
    endingBefore: str | None = None,
) -> dict[str, Any]:
    """Grouped by workflow, 50 workflows a page (`bulk_transitions.py`); only the transitions every issue
    of a group can take are listed."""
    refs = [r for r in issueIdsOrKeys.split(",") if r.strip()]
    check_size(len(refs))
    ids, invalid = resolve_issues(runtime.site, user, refs)
    if invalid or not ids:
        raise BulkOperationError(400, "Some of the issues in the issueIdsOrKeys are not valid")
    return available_transitions_page(runtime.site, ids, starting_after=startingAfter, ending_before=endingBefore)


@router.post("/bulk/issues/transition", operation_id="submitBulkTransition", status_code=201)
async def submit_transition(body: BodyDep, runtime: RuntimeDep, user: UserDep) -> dict[str, str]:
    check_permission(user)
    inputs = parse_transition_inputs(body)
    check_size(sum(len(refs) for refs, _ in inputs))
    plan: dict[int, Operation] = {}
    invalid = 0
    for refs, transition_id in inputs:
        ids, bad = resolve_issues(runtime.site, user, refs)
        invalid += bad
        operation = transition_operation(runtime.site, transition_id, user)
        plan.update(dict.fromkeys(ids, operation))
    return _submit(runtime, user, list(plan), lambda issue_id: plan[issue_id](issue_id), invalid)


@router.get("/bulk/issues/fields", operation_id="getBulkEditableFields")
async def bulk_editable_fields(
    issueIdsOrKeys: str, runtime: RuntimeDep, user: UserDep, searchText: str | None = None
) -> dict[str, Any]:
    """The first step of a bulk edit: what `POST /bulk/issues/fields` can set on these issues. The
    cursors are not served: every field fits on one page."""
    check_permission(user)
    refs = [r for r in issueIdsOrKeys.split(",") if r.strip()]
    check_size(len(refs))
    ids, invalid = resolve_issues(runtime.site, user, refs)
    if invalid or not ids:
        raise BulkOperationError(400, "Some of the issues in the issueIdsOrKeys are not valid")
    return {"fields": editable_fields(runtime.site, runtime.base, ids, searchText)}


@router.post("/bulk/issues/fields", operation_id="submitBulkEdit", status_code=201)
async def submit_edit(body: BodyDep, runtime: RuntimeDep, user: UserDep) -> dict[str, str]:
    # Bulk edit documents no 403: a caller without the permission gets its 400.
    check_permission(user, status=400)
    refs, operation = edit_operation(runtime.site, user, body)
    check_size(len(refs))
    ids, invalid = resolve_issues(runtime.site, user, refs)
    return _submit(runtime, user, ids, operation, invalid)


def _submit(runtime: Runtime, user: User, ids: list[int], operation: Operation, invalid: int) -> dict[str, str]:
    if runtime.queue.is_full():
        # A rate limit ("only 5 concurrent requests ... across all users"): Jira's 429 and its headers.
        headers = runtime.limiter.refusal_headers(BURST, runtime.queue.max_active, 1)
        raise BulkOperationError(429, TOO_MANY_TASKS, headers=headers)
    return {"taskId": runtime.queue.submit(user.account_id, ids, operation, invalid).id}


@router.get("/bulk/queue/{taskId}", operation_id="getBulkOperationProgress")
async def progress(taskId: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    task = runtime.queue.tasks.get(taskId)
    if task is None:
        # The operation documents 400 ("the request is invalid"), not 404, for a task id it cannot use.
        raise BulkOperationError(400, "The task associated with this taskId is not a bulk operation task")
    return task.progress_json()
