"""The Jira sandbox's part of the `/__sandbox__/` control plane: `JiraControls` (what the shared router
of sandboxes/control.py resets, seeds, throttles and lags) and the Jira-only control routes: inspection,
a person's edits in the UI, and the OAuth server's controls (oauth_control.py, under `/__sandbox__/oauth`).

Kept apart from the Jira surface, like moto's `/moto-api/`: tests and benchmarks drive the sandbox
through it instead of reaching into its state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ticketbridge.sandboxes.control import PREFIX, Controls, seed_result
from ticketbridge.sandboxes.jira import oauth_control
from ticketbridge.sandboxes.jira.config import RateLimitConfig
from ticketbridge.sandboxes.jira.demo import build_demo_site
from ticketbridge.sandboxes.jira.errors import JiraError, issue_not_found
from ticketbridge.sandboxes.jira.fields import parse_changes
from ticketbridge.sandboxes.jira.issues import apply_changes, begin_write, jump_to_status
from ticketbridge.sandboxes.jira.render import issue_json, select_fields
from ticketbridge.sandboxes.jira.runtime import Runtime, RuntimeDep, new_queue
from ticketbridge.sandboxes.jira.seeding import SeedError, SeedRequest, custom_field_ids, seed
from ticketbridge.sandboxes.jira.state import Site

router = APIRouter(prefix=PREFIX)
router.include_router(oauth_control.router)


class JiraControls(Controls[SeedRequest, RateLimitConfig]):
    """The site's reset, seed format (seeding.py) and search lag; the shared plane serves the rest."""

    search_lags = True

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, seed_model=SeedRequest, rate_limit_model=RateLimitConfig)
        self.runtime = runtime

    def reset(self, seed_demo: bool) -> int:
        """Fresh site, no tasks, no OAuth grants, codes or tokens; the OAuth settings and clock, and the
        hosted sites stay."""
        runtime = self.runtime
        runtime.replace_site(build_demo_site() if seed_demo else Site())
        runtime.queue = new_queue(runtime.config)
        runtime.oauth.clear()
        runtime.search_cache.clear()
        if runtime.store is not None:
            runtime.store.clear()
            runtime.store.save(runtime.site)
        return len(runtime.site.issues)

    def seed(self, request: SeedRequest) -> dict[str, Any]:
        runtime = self.runtime
        try:
            keys = seed(runtime.site, request)
        except SeedError as exc:
            raise JiraError(400, [str(exc)]) from None
        runtime.save()
        extra = {"custom_fields": custom_field_ids(runtime.site, request)} if request.custom_fields else {}
        return seed_result(keys, **extra)

    def search_lag_ms(self) -> float:
        return self.runtime.search_lag_ms

    def set_search_lag_ms(self, lag_ms: float) -> None:
        self.runtime.search_lag_ms = lag_ms


class UiEdit(BaseModel):
    """A change made by a person in the Jira UI: Jira-shaped `fields`, and a status by name or id."""

    fields: dict[str, Any] = Field(default_factory=dict)
    status: str | None = None
    #: Who makes the change; the project lead when omitted.
    account_id: str | None = None


@router.get("/issues/count")
async def count_issues(runtime: RuntimeDep, project: str | None = None, label: str | None = None) -> dict[str, int]:
    site = runtime.site
    target = site.project(project) if project else None
    if project and target is None:
        raise JiraError(404, [f"No project could be found with key '{project}'."])
    count = sum(
        1
        for i in site.issues.values()
        if (target is None or i.project_id == target.id) and (label is None or label in i.labels)
    )
    return {"count": count}


@router.get("/issues/{issueIdOrKey}")
async def inspect_issue(issueIdOrKey: str, runtime: RuntimeDep) -> dict[str, Any]:
    issue = runtime.site.issue(issueIdOrKey)
    if issue is None:
        raise issue_not_found()
    return issue_json(runtime.base, runtime.site, issue, select_fields(None, "*all"))


@router.post("/issues/{issueIdOrKey}/ui-edit", status_code=204)
async def ui_edit(issueIdOrKey: str, edit: UiEdit, runtime: RuntimeDep) -> Response:
    """Changes fields and/or jumps to a status of the workflow, bumping `updated` like any Jira write."""
    site = runtime.site
    issue = site.issue(issueIdOrKey)
    if issue is None:
        raise issue_not_found()
    account_id = edit.account_id or site.projects[issue.project_id].lead_account_id
    user = site.users.get(account_id)
    if user is None:
        raise JiraError(400, [f"unknown user {account_id!r}"])
    changes = parse_changes(site, user, {"fields": edit.fields}, issue=issue)
    workflow = site.workflow_of(issue)
    status = issue.status_id
    if edit.status is not None:
        found = next((s for s in workflow.status_ids if edit.status in (s, site.statuses[s].name)), None)
        if found is None:
            changes.errors["status"] = f"Status '{edit.status}' is not in the issue's workflow."
        status = found or status
    if changes.errors:
        raise JiraError(400, errors=changes.errors)
    before = begin_write(site, issue)
    if status != issue.status_id:
        jump_to_status(site, issue, status, datetime.now(UTC))
    apply_changes(site, user, issue, changes, before)
    runtime.save()
    return Response(status_code=204)
