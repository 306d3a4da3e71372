"""The `/__sandbox__/` control API (no auth): reset, seed, faults, rate limits, search consistency, call
counts, inspection, and the OAuth server's controls (oauth_control.py, under `/__sandbox__/oauth`).

Kept apart from the Jira surface, like moto's `/moto-api/`: tests and benchmarks drive the sandbox
through it instead of reaching into its state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.sandboxes.faults import FaultConfig, FaultMiddleware
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

router = APIRouter(prefix="/__sandbox__")
router.include_router(oauth_control.router)


class ResetRequest(BaseModel):
    seed_demo: bool | None = None


class Consistency(BaseModel):
    """How far `/search/jql` lags behind writes, in milliseconds; 0 is read-after-write consistent."""

    model_config = ConfigDict(extra="forbid")

    search_lag_ms: float = Field(ge=0, strict=True, allow_inf_nan=False)


class UiEdit(BaseModel):
    """A change made by a person in the Jira UI: Jira-shaped `fields`, and a status by name or id."""

    fields: dict[str, Any] = Field(default_factory=dict)
    status: str | None = None
    #: Who makes the change; the project lead when omitted.
    account_id: str | None = None


@router.post("/reset")
async def reset(runtime: RuntimeDep, request: ResetRequest | None = None) -> dict[str, int]:
    """Fresh site (the demo unless told otherwise), no tasks, no call counts, no OAuth grants, codes or
    tokens; faults, limits, the search lag, the OAuth settings and clock, and hosted sites stay."""
    seed_demo = runtime.config.seed_demo if request is None or request.seed_demo is None else request.seed_demo
    runtime.replace_site(build_demo_site() if seed_demo else Site())
    runtime.queue = new_queue(runtime.config)
    runtime.calls.clear()
    runtime.oauth.clear()
    runtime.search_cache.clear()
    runtime.limiter.configure(runtime.limiter.config)
    if runtime.store is not None:
        runtime.store.clear()
        runtime.store.save(runtime.site)
    return {"issues": len(runtime.site.issues)}


@router.post("/seed")
async def seed_site(request: SeedRequest, runtime: RuntimeDep) -> dict[str, Any]:
    try:
        keys = seed(runtime.site, request)
    except SeedError as exc:
        raise JiraError(400, [str(exc)]) from None
    runtime.save()
    return {
        "created": len(keys),
        "first_key": keys[0] if keys else None,
        "last_key": keys[-1] if keys else None,
        "keys": keys if len(keys) <= 100 else None,
    } | ({"custom_fields": custom_field_ids(runtime.site, request)} if request.custom_fields else {})


@router.get("/faults")
async def get_faults(runtime: RuntimeDep) -> FaultConfig:
    return _faults(runtime).config


@router.put("/faults")
async def put_faults(config: FaultConfig, runtime: RuntimeDep) -> FaultConfig:
    _faults(runtime).configure(config)
    return config


@router.get("/faults/injected")
async def injected_faults(runtime: RuntimeDep) -> dict[str, int]:
    return dict(_faults(runtime).counts)


@router.get("/rate-limits")
async def get_rate_limits(runtime: RuntimeDep) -> RateLimitConfig:
    return runtime.limiter.config


@router.put("/rate-limits")
async def put_rate_limits(config: RateLimitConfig, runtime: RuntimeDep) -> RateLimitConfig:
    runtime.limiter.configure(config)
    return config


@router.get("/consistency")
async def get_consistency(runtime: RuntimeDep) -> Consistency:
    return Consistency(search_lag_ms=runtime.search_lag_ms)


@router.put("/consistency")
async def put_consistency(consistency: Consistency, runtime: RuntimeDep) -> Consistency:
    """Sets the search lag of later writes; 0 also makes every earlier write searchable at once."""
    runtime.search_lag_ms = consistency.search_lag_ms
    return consistency


@router.get("/calls")
async def calls(runtime: RuntimeDep) -> dict[str, int]:
    """Requests that reached each Jira operation, keyed by Jira's operationId."""
    return dict(runtime.calls)


@router.delete("/calls", status_code=204)
async def clear_calls(runtime: RuntimeDep) -> Response:
    runtime.calls.clear()
    return Response(status_code=204)


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


def _faults(runtime: Runtime) -> FaultMiddleware:
    assert runtime.faults is not None, "the middleware stack is built before any request is served"
    return runtime.faults
