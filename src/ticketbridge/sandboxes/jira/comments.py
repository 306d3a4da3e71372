"""One comment of an issue: found by id, edited, deleted. Adding comments is in issues.py (a create and
an edit can add them too)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ticketbridge.sandboxes.jira.adf import NOT_ADF, is_adf
from ticketbridge.sandboxes.jira.errors import JiraError
from ticketbridge.sandboxes.jira.state import Comment, Issue, Site


def find_comment(issue: Issue, comment_id: str) -> Comment:
    found = next((c for c in issue.comments or () if str(c.id) == comment_id), None)
    if found is None:
        raise JiraError(404, [f"Can not find a comment for the id: {comment_id}."])
    return found


def edit_comment(site: Site, issue: Issue, comment: Comment, body: Any) -> None:
    """A new body (ADF, as when adding); the comment's and the issue's `updated` move, as in Jira."""
    document = body.get("body") if isinstance(body, dict) else None
    if not is_adf(document):
        raise JiraError(400, errors={"comment": NOT_ADF})
    assert isinstance(document, dict)
    site.index.before_write(issue)
    now = datetime.now(UTC)
    comment.body, comment.updated = document, now
    issue.updated = now
    site.reindex(issue)


def delete_comment(site: Site, issue: Issue, comment: Comment) -> None:
    site.index.before_write(issue)
    issue.comments = [c for c in issue.comments or () if c.id != comment.id] or None
    issue.updated = datetime.now(UTC)
    site.reindex(issue)
