"""Attachments (multipart upload with Jira's XSRF header, metadata, content, removal) and worklogs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from ticketbridge.sandboxes.jira.auth import UserDep
from ticketbridge.sandboxes.jira.errors import JiraError
from ticketbridge.sandboxes.jira.issues import visible_issue
from ticketbridge.sandboxes.jira.relations import (
    ATTACHMENT_MAX_BYTES,
    XSRF_FAILED,
    add_attachments,
    add_worklog,
    parse_files,
    remove_attachment,
    visible_attachment,
)
from ticketbridge.sandboxes.jira.render import attachment_json, worklog_json
from ticketbridge.sandboxes.jira.routes.body import BodyDep
from ticketbridge.sandboxes.jira.routing import JiraRoute
from ticketbridge.sandboxes.jira.runtime import RuntimeDep

router = APIRouter(route_class=JiraRoute)


@router.post("/issue/{issueIdOrKey}/attachments", operation_id="addAttachment")
async def attach(issueIdOrKey: str, request: Request, runtime: RuntimeDep, user: UserDep) -> list[dict[str, Any]]:
    """Jira refuses uploads without `X-Atlassian-Token: no-check` (its XSRF guard) with 403."""
    if request.headers.get("x-atlassian-token", "").lower() != "no-check":
        raise JiraError(403, [XSRF_FAILED])
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    files = parse_files(request.headers.get("content-type", ""), await request.body())
    added = add_attachments(runtime.site, user, issue, files)
    return [attachment_json(runtime.base, runtime.site, a) for a in added]


@router.get("/attachment/meta", operation_id="getAttachmentMeta")
async def attachment_settings(runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    return {"enabled": True, "uploadLimit": ATTACHMENT_MAX_BYTES}


@router.get("/attachment/content/{id}", operation_id="getAttachmentContent")
async def attachment_content(id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    attachment = visible_attachment(runtime.site, user, id)
    disposition = f'attachment; filename="{attachment.filename}"'
    return Response(attachment.content, media_type=attachment.mime_type, headers={"Content-Disposition": disposition})


@router.get("/attachment/{id}", operation_id="getAttachment")
async def attachment(id: str, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    """AttachmentMetadata, whose `id` is a number (the issue's `attachment` field has strings)."""
    found = visible_attachment(runtime.site, user, id)
    return attachment_json(runtime.base, runtime.site, found) | {"id": found.id}


@router.delete("/attachment/{id}", operation_id="removeAttachment", status_code=204)
async def delete_attachment(id: str, runtime: RuntimeDep, user: UserDep) -> Response:
    remove_attachment(runtime.site, user, visible_attachment(runtime.site, user, id))
    return Response(status_code=204)


@router.get("/issue/{issueIdOrKey}/worklog", operation_id="getIssueWorklog")
async def worklogs(
    issueIdOrKey: str, runtime: RuntimeDep, user: UserDep, startAt: int = 0, maxResults: int = 5000
) -> dict[str, Any]:
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    page = issue.worklogs[startAt : startAt + max(0, maxResults)]
    return {
        "startAt": startAt,
        "maxResults": maxResults,
        "total": len(issue.worklogs),
        "worklogs": [worklog_json(runtime.base, runtime.site, issue, w) for w in page],
    }


@router.post("/issue/{issueIdOrKey}/worklog", operation_id="addWorklog", status_code=201)
async def log_work(issueIdOrKey: str, body: BodyDep, runtime: RuntimeDep, user: UserDep) -> dict[str, Any]:
    issue = visible_issue(runtime.site, user, issueIdOrKey)
    return worklog_json(runtime.base, runtime.site, issue, add_worklog(runtime.site, user, issue, body))
