"""An issue's changelog, paged (PageBeanChangelog) or by ids; `expand=changelog` is served by render.py."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.errors import JiraError
from ticketbridge.sandboxes.jira.issues import visible_issue
from ticketbridge.sandboxes.jira.render import API, changelog_json
from ticketbridge.sandboxes.jira.routes.body import BodyDep
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import RuntimeDep

router = APIRouter(route_class=JiraRoute)
#: Jira pages the changelog by 100 at most.
CHANGELOG_PAGE_MAX = 100
CHANGELOG_IDS_MAX = 1000


@router.get("/issue/{issueIdOrKey}/changelog", operation_id="getChangeLogs")
async def changelog(
    issueIdOrKey: str, runtime: RuntimeDep, user: UserDep, startAt: int = 0, maxResults: int = 100
) -> dict[str, Any]:
    """Oldest first; `maxResults` above 100 means 100."""
    site = runtime.site
    issue = visible_issue(site, user, issueIdOrKey)
    size = min(max(maxResults, 0), CHANGELOG_PAGE_MAX)
    start = max(startAt, 0)
    groups = issue.history[start : start + size]
    link = f"{runtime.base}{API}/issue/{issue.key}/changelog?"
    body: dict[str, Any] = {
        "self": link + urlencode({"startAt": start, "maxResults": size}),
        "maxResults": size,
        "startAt": start,
        "total": len(issue.history),
        "isLast": start + size >= len(issue.history),
        "values": [changelog_json(runtime.base, site, g) for g in groups],
    }
    if not body["isLast"]:
        body["nextPage"] = link + urlencode({"startAt": start + size, "maxResults": size})
    return body


@router.post("/issue/{issueIdOrKey}/changelog/list", operation_id="getChangeLogsByIds")
async def changelog_by_ids(issueIdOrKey: str, body: BodyDep, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    site = runtime.site
    issue = visible_issue(site, user, issueIdOrKey)
    ids = body.get("changelogIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(type(i) is int for i in ids):
        raise JiraError(400, ["changelogIds must be a non-empty array of changelog ids."])
    if len(ids) > CHANGELOG_IDS_MAX:
        raise JiraError(400, [f"changelogIds must not contain more than {CHANGELOG_IDS_MAX} ids."])
    wanted = set(ids)
    histories = [changelog_json(runtime.base, site, g) for g in issue.history if g.id in wanted]
    return {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories}
