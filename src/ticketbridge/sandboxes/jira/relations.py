"""Writes to what hangs off an issue: links, watchers, attachments, worklogs. Each raises `JiraError`
as Jira answers, lags search like every write (`begin_write`) and, where Jira records it, adds to the
issue's history (links and attachments; watchers and worklogs are not in Jira's changelog).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from ticketbridge.sandboxes.jira.adf import NOT_ADF, is_adf
from ticketbridge.sandboxes.jira.errors import JiraError, issue_not_found
from ticketbridge.sandboxes.jira.history import ChangeItem, add_group
from ticketbridge.sandboxes.jira.issues import add_comment, visible_issue
from ticketbridge.sandboxes.jira.state import Attachment, Issue, IssueLink, LinkType, Site, User, Worklog

#: Jira Cloud's default attachment size limit is 1 GB; the sandbox keeps files in memory, so 10 MiB.
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
XSRF_FAILED = "XSRF check failed"
_DURATION = re.compile(r"\s*(\d+)\s*([wdhm])\s*")
#: Jira's default time tracking: a day is 8 hours, a week 5 days.
_UNIT_SECONDS = {"w": 5 * 8 * 3600, "d": 8 * 3600, "h": 3600, "m": 60}


# -- links ---------------------------------------------------------------------------------------


def link_type(site: Site, ref: Any) -> LinkType:
    ident = ref.get("id") if isinstance(ref, dict) else None
    name = ref.get("name") if isinstance(ref, dict) else None
    found = next((t for t in site.link_types.values() if t.id == ident or (ident is None and t.name == name)), None)
    if found is None:
        shown = f"id '{ident}'" if ident is not None else f"name '{name}'"
        raise JiraError(404, [f"No issue link type with {shown} found."])
    return found


def link_issues(site: Site, user: User, body: Any) -> IssueLink:
    """POST /issueLink: the inward issue <outward phrase> the outward one (with Blocks, inward blocks
    outward). Linking the same two issues again with the same type changes nothing, as in Jira."""
    if not isinstance(body, dict):
        raise JiraError(400, ["The request body must be a JSON object."])
    kind = link_type(site, body.get("type"))
    inward, outward = (_linked(site, user, body.get(side)) for side in ("inwardIssue", "outwardIssue"))
    if inward.id == outward.id:
        raise JiraError(400, ["You cannot link an issue to itself."])
    comment = body.get("comment")
    if comment is not None and not (isinstance(comment, dict) and is_adf(comment.get("body"))):
        raise JiraError(400, errors={"comment": NOT_ADF})
    existing = next(
        (
            link
            for link in site.links.values()
            if (link.type_id, link.inward_issue_id, link.outward_issue_id) == (kind.id, inward.id, outward.id)
        ),
        None,
    )
    if existing is not None:
        return existing
    for issue in (inward, outward):
        site.index.before_write(issue)
    link = IssueLink(site.next_link_id, kind.id, inward.id, outward.id)
    site.next_link_id += 1
    now = datetime.now(UTC)
    _history(site, user, inward, now, to=(outward.key, f"This issue {kind.outward} {outward.key}"))
    _history(site, user, outward, now, to=(inward.key, f"This issue {kind.inward} {inward.key}"))
    for issue in (inward, outward):
        issue.updated = now
    if comment is not None:
        add_comment(site, user, inward, comment["body"])
    site.add_link(link)
    return link


def visible_link(site: Site, user: User, link_id: str) -> IssueLink:
    link = site.links.get(int(link_id)) if link_id.isdigit() else None
    if link is None or not all(_can_see(site, user, i) for i in (link.inward_issue_id, link.outward_issue_id)):
        raise JiraError(404, [f"No issue link with id '{link_id}' exists."])
    return link


def delete_link(site: Site, user: User, link: IssueLink) -> None:
    kind = site.link_types[link.type_id]
    inward, outward = site.issues[link.inward_issue_id], site.issues[link.outward_issue_id]
    for issue in (inward, outward):
        site.index.before_write(issue)
    now = datetime.now(UTC)
    _history(site, user, inward, now, from_=(outward.key, f"This issue {kind.outward} {outward.key}"))
    _history(site, user, outward, now, from_=(inward.key, f"This issue {kind.inward} {inward.key}"))
    for issue in (inward, outward):
        issue.updated = now
    site.remove_link(link)


def _linked(site: Site, user: User, ref: Any) -> Issue:
    ident = ref.get("key") or ref.get("id") if isinstance(ref, dict) else None
    if not isinstance(ident, str | int) or isinstance(ident, bool):
        raise JiraError(400, ["The issue key or id of both issues of the link must be given."])
    return visible_issue(site, user, str(ident))


def _can_see(site: Site, user: User, issue_id: int) -> bool:
    issue = site.issues.get(issue_id)
    return issue is not None and site.projects[issue.project_id].is_visible_to(user.account_id)


def _history(
    site: Site,
    user: User,
    issue: Issue,
    now: datetime,
    *,
    to: tuple[str, str] | None = None,
    from_: tuple[str, str] | None = None,
) -> None:
    item = ChangeItem("Link", "issuelinks", "jira", *(from_ or (None, None)), *(to or (None, None)))
    add_group(site, issue, user.account_id, now, [item])


# -- watchers ------------------------------------------------------------------------------------


def add_watcher(site: Site, user: User, issue: Issue, body: Any) -> None:
    """The body is the account id as a JSON string; no body watches as the caller."""
    account_id = user.account_id if body is None else body
    if not isinstance(account_id, str):
        raise JiraError(400, ["The request body must be the account id of the user, as a JSON string."])
    watcher = site.users.get(account_id)
    if watcher is None or not site.projects[issue.project_id].is_visible_to(account_id):
        raise JiraError(404, [f"The user with account ID '{account_id}' does not exist."])
    if account_id not in issue.watcher_ids:
        site.index.before_write(issue)
        issue.watcher_ids = (*issue.watcher_ids, account_id)
        site.reindex(issue)


def remove_watcher(site: Site, issue: Issue, account_id: str | None) -> None:
    if not account_id:
        raise JiraError(400, ["The accountId query parameter is required."])
    if account_id not in site.users:
        raise JiraError(404, [f"The user with account ID '{account_id}' does not exist."])
    if account_id in issue.watcher_ids:
        site.index.before_write(issue)
        issue.watcher_ids = tuple(w for w in issue.watcher_ids if w != account_id)
        site.reindex(issue)


# -- attachments ---------------------------------------------------------------------------------


def parse_files(content_type: str, body: bytes) -> list[tuple[str, str, bytes]]:
    """The `file` parts of a multipart/form-data body: (filename, MIME type, content)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise JiraError(415, ["The request must be multipart/form-data with one or more 'file' parts."])
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(header + body)
    files = []
    for part in message.iter_parts() if message.is_multipart() else ():
        assert isinstance(part, Message)
        if part.get_param("name", header="content-disposition") != "file":
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        files.append((part.get_filename() or "file", part.get_content_type(), content))
    if not files:
        raise JiraError(400, ["No file was attached: send the file in a multipart part named 'file'."])
    return files


def add_attachments(site: Site, user: User, issue: Issue, files: list[tuple[str, str, bytes]]) -> list[Attachment]:
    for filename, _, content in files:
        if len(content) > ATTACHMENT_MAX_BYTES:
            raise JiraError(
                413,
                [f"The file '{filename}' is too large to attach: the limit is {ATTACHMENT_MAX_BYTES} bytes."],
            )
    site.index.before_write(issue)
    now = datetime.now(UTC)
    added = []
    for filename, mime_type, content in files:
        attachment = Attachment(site.next_attachment_id, issue.id, filename, mime_type, user.account_id, now, content)
        site.next_attachment_id += 1
        site.attachments[attachment.id] = attachment
        added.append(attachment)
    issue.attachment_ids = (*issue.attachment_ids, *(a.id for a in added))
    items = [ChangeItem("Attachment", "attachment", "jira", None, None, str(a.id), a.filename) for a in added]
    add_group(site, issue, user.account_id, now, items)
    issue.updated = now
    site.reindex(issue)
    return added


def visible_attachment(site: Site, user: User, attachment_id: str) -> Attachment:
    attachment = site.attachments.get(int(attachment_id)) if attachment_id.isdigit() else None
    if attachment is None or not _can_see(site, user, attachment.issue_id):
        raise JiraError(404, [f"The attachment with id '{attachment_id}' does not exist."])
    return attachment


def remove_attachment(site: Site, user: User, attachment: Attachment) -> None:
    issue = site.issues.get(attachment.issue_id)
    if issue is None:
        raise issue_not_found()
    site.index.before_write(issue)
    now = datetime.now(UTC)
    del site.attachments[attachment.id]
    issue.attachment_ids = tuple(a for a in issue.attachment_ids if a != attachment.id)
    item = ChangeItem("Attachment", "attachment", "jira", str(attachment.id), attachment.filename, None, None)
    add_group(site, issue, user.account_id, now, [item])
    issue.updated = now
    site.reindex(issue)


# -- worklogs ------------------------------------------------------------------------------------


def add_worklog(site: Site, user: User, issue: Issue, body: Any) -> Worklog:
    if not isinstance(body, dict):
        raise JiraError(400, ["The request body must be a JSON object."])
    seconds = body.get("timeSpentSeconds")
    if isinstance(seconds, str) and seconds.isdigit():  # Jira's JSON reader takes numbers in strings
        seconds = int(seconds)
    if seconds is None and isinstance(body.get("timeSpent"), str):
        seconds = _duration(body["timeSpent"])
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds <= 0:
        raise JiraError(400, errors={"timeLogged": "You must indicate the time spent working."})
    now = datetime.now(UTC)
    started = now
    if body.get("started") is not None:
        try:
            started = datetime.strptime(str(body["started"]), "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            raise JiraError(400, errors={"started": "Invalid date format."}) from None
    comment = body.get("comment")
    if comment is not None and not is_adf(comment):
        raise JiraError(400, errors={"comment": NOT_ADF})
    site.index.before_write(issue)
    worklog = Worklog(site.next_worklog_id, user.account_id, started, seconds, now, now, comment)
    site.next_worklog_id += 1
    issue.worklogs = (*issue.worklogs, worklog)
    issue.updated = now
    site.reindex(issue)
    return worklog


def _duration(text: str) -> int | None:
    """Jira's "1d 2h 30m" (a bare number is minutes)."""
    if text.strip().isdigit():
        return int(text) * 60
    terms = _DURATION.findall(text)
    if not terms or "".join(f"{n}{u}" for n, u in terms) != re.sub(r"\s+", "", text):
        return None
    return sum(int(count) * _UNIT_SECONDS[unit] for count, unit in terms)
