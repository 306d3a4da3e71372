"""Jira's JSON shapes for the site's objects; `base` is the site URL used in `self` links."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from html import escape
from typing import Any

from ticketbridge.sandboxes.jira.history import ChangeGroup, item_json
from ticketbridge.sandboxes.jira.state import (
    SPRINT_FIELD_ID,
    Attachment,
    Comment,
    CustomField,
    Issue,
    IssueLink,
    IssueType,
    LinkType,
    Priority,
    Project,
    Site,
    Status,
    Transition,
    User,
    Worklog,
)

API = "/rest/api/3"
#: In a field selection, stands for every custom field of the issue's project.
CUSTOM_FIELDS = "*custom"
#: Fields returned for `*all`; `*navigable` drops the comment thread.
ALL_FIELDS = (
    "summary",
    "issuetype",
    "project",
    "status",
    "priority",
    "assignee",
    "reporter",
    "creator",
    "labels",
    "description",
    "environment",
    "created",
    "updated",
    "duedate",
    "parent",
    "subtasks",
    "resolution",
    "resolutiondate",
    "statuscategorychangedate",
    "components",
    "fixVersions",
    "versions",
    "watches",
    "attachment",
    "issuelinks",
    "worklog",
    "comment",
    "*custom",
)
#: Jira's `expand` values for one issue; any other value is ignored, as Jira ignores it.
EXPANDS = frozenset(
    {
        "renderedFields",
        "names",
        "schema",
        "transitions",
        "transitions.fields",
        "operations",
        "editmeta",
        "changelog",
        "versionedRepresentations",
    }
)
#: Fields whose rendered form differs from their value (HTML, or a date for people).
_RENDERED_DATES = frozenset({"created", "updated", "resolutiondate", "statuscategorychangedate"})


def jira_datetime(value: datetime) -> str:
    """Jira's format: milliseconds and an offset without a colon, e.g. 2021-01-17T12:34:00.000+0000."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime("%z")


def avatar_urls(base: str, kind: str, ident: str) -> dict[str, str]:
    return {size: f"{base}/secure/{kind}avatar?size={size}&id={ident}" for size in ("48x48", "24x24", "16x16", "32x32")}


def user_json(base: str, user: User) -> dict[str, Any]:
    return {
        "self": f"{base}{API}/user?accountId={user.account_id}",
        "accountId": user.account_id,
        "accountType": "atlassian",
        "emailAddress": user.email,
        "avatarUrls": avatar_urls(base, "user", user.account_id),
        "displayName": user.display_name,
        "active": user.active,
        "timeZone": user.time_zone,
    }


def status_json(base: str, status: Status) -> dict[str, Any]:
    category = status.category
    return {
        "self": f"{base}{API}/status/{status.id}",
        "description": status.description,
        "iconUrl": f"{base}/images/icons/statuses/generic.png",
        "name": status.name,
        "id": status.id,
        "statusCategory": {
            "self": f"{base}{API}/statuscategory/{category.id}",
            "id": category.id,
            "key": category.key,
            "colorName": category.color_name,
            "name": category.name,
        },
    }


def priority_json(base: str, priority: Priority) -> dict[str, Any]:
    return {
        "self": f"{base}{API}/priority/{priority.id}",
        "statusColor": priority.status_color,
        "description": priority.description,
        "iconUrl": f"{base}/images/icons/priorities/{priority.name.lower()}.svg",
        "name": priority.name,
        "id": priority.id,
    }


def issuetype_json(base: str, issue_type: IssueType) -> dict[str, Any]:
    return {
        "self": f"{base}{API}/issuetype/{issue_type.id}",
        "id": issue_type.id,
        "description": issue_type.description,
        "iconUrl": f"{base}/images/icons/issuetypes/{issue_type.name.lower()}.png",
        "name": issue_type.name,
        "subtask": issue_type.subtask,
        "avatarId": 10300,
        "hierarchyLevel": issue_type.hierarchy_level,
    }


def project_json(base: str, site: Site, project: Project, expand: Collection[str] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "self": f"{base}{API}/project/{project.id}",
        "id": project.id,
        "key": project.key,
        "name": project.name,
        "avatarUrls": avatar_urls(base, "project", project.id),
        "projectTypeKey": project.project_type_key,
        "simplified": False,
        "style": "classic",
        "isPrivate": project.members is not None,
        "properties": {},
    }
    if "issueTypes" in expand or "issuetypes" in expand:
        body["issueTypes"] = [issuetype_json(base, site.issue_types[t]) for t in project.issuetype_ids]
    if "lead" in expand:
        body["lead"] = user_json(base, site.users[project.lead_account_id])
    return body


def transition_json(base: str, site: Site, transition: Transition, with_fields: bool = False) -> dict[str, Any]:
    """`with_fields` (`expand=transitions.fields`): the transition screen's fields; no transition has a
    screen (`hasScreen: false`), so they are always none."""
    body: dict[str, Any] = {
        "id": str(transition.id),
        "name": transition.name,
        "to": status_json(base, site.statuses[transition.to_status_id]),
        "hasScreen": False,
        "isGlobal": not transition.from_status_ids,
        "isInitial": False,
        "isAvailable": True,
        "isConditional": False,
        # Live Cloud answers carry `isLooped`, although the schema names it `looped`.
        "isLooped": False,
    }
    if with_fields:
        body["fields"] = {}
    return body


def comment_json(base: str, site: Site, issue: Issue, comment: Comment) -> dict[str, Any]:
    author = user_json(base, site.users[comment.author_account_id])
    return {
        "self": f"{base}{API}/issue/{issue.id}/comment/{comment.id}",
        "id": str(comment.id),
        "author": author,
        "updateAuthor": author,
        "body": comment.body,
        "created": jira_datetime(comment.created),
        "updated": jira_datetime(comment.updated),
        "jsdPublic": True,
    }


def select_fields(requested: list[str] | None, default: str) -> set[str]:
    """Resolves Jira's `fields` parameter: names, `*all`, `*navigable` and `-name` exclusions."""
    items = [f.strip() for raw in (requested or [default]) for f in raw.split(",") if f.strip()]
    chosen: set[str] = set()
    for item in items:
        if item == "*all":
            chosen.update(ALL_FIELDS)
        elif item == "*navigable":
            chosen.update(f for f in ALL_FIELDS if f != "comment")
    chosen.update(f for f in items if not f.startswith(("*", "-")))
    chosen.difference_update(f[1:] for f in items if f.startswith("-"))
    return chosen


def parse_expand(raw: str | list[str] | None) -> frozenset[str]:
    """Jira's `expand`: a comma-separated string (also in POST bodies), or a list of them."""
    items = [raw] if isinstance(raw, str) else raw or []
    return frozenset(e.strip() for item in items for e in item.split(",") if e.strip())


def field_names(site: Site, issue: Issue, fields: Collection[str]) -> list[str]:
    """The selected fields the issue has, in a stable order; `*custom` stands for every custom field."""
    names = [name for name in ALL_FIELDS if name in fields and name != CUSTOM_FIELDS]
    custom = [f for f in site.custom_fields if CUSTOM_FIELDS in fields or f in fields]
    if site.sprints and (CUSTOM_FIELDS in fields or SPRINT_FIELD_ID in fields):
        custom.append(SPRINT_FIELD_ID)
    applicable = site.projects[issue.project_id].id
    return names + [f for f in custom if f == SPRINT_FIELD_ID or site.custom_fields[f].applies_to(applicable)]


def issue_json(
    base: str,
    site: Site,
    issue: Issue,
    fields: set[str],
    expand: Collection[str] = (),
    viewer: str | None = None,
) -> dict[str, Any]:
    """An IssueBean with the selected `fields` and the `expand`s this module renders (changelog,
    renderedFields, transitions, operations, versionedRepresentations); names, schema and editmeta
    are added by `catalog.issue_view`. `viewer` is the caller, for `watches.isWatching`."""
    body: dict[str, Any] = {
        "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
        "id": str(issue.id),
        "self": f"{base}{API}/issue/{issue.id}",
        "key": issue.key,
    }
    if "versionedRepresentations" in expand:
        # Jira ignores `fields` here and answers every field, each keyed by its representation version.
        every = field_names(site, issue, set(ALL_FIELDS))
        body["versionedRepresentations"] = {n: {"1": _field_value(base, site, issue, n, viewer)} for n in every}
    else:
        values = {name: _field_value(base, site, issue, name, viewer) for name in field_names(site, issue, fields)}
        if values:
            body["fields"] = values
    if "renderedFields" in expand:
        body["renderedFields"] = {name: _rendered(base, site, issue, name) for name in field_names(site, issue, fields)}
    if "transitions" in expand or "transitions.fields" in expand:
        available = site.workflow_of(issue).available(issue.status_id)
        with_fields = "transitions.fields" in expand
        body["transitions"] = [transition_json(base, site, t, with_fields) for t in available]
    if "operations" in expand:
        body["operations"] = {"linkGroups": []}
    if "changelog" in expand:
        histories = [changelog_json(base, site, g) for g in issue.history[-MAX_EXPANDED_HISTORIES:]]
        body["changelog"] = {
            "startAt": 0,
            "maxResults": len(histories),
            "total": len(issue.history),
            "histories": histories,
        }
    return body


#: `expand=changelog` carries the most recent 100 change groups; the changelog endpoint pages all.
MAX_EXPANDED_HISTORIES = 100


def changelog_json(base: str, site: Site, group: ChangeGroup) -> dict[str, Any]:
    body: dict[str, Any] = {"id": str(group.id)}
    if group.author_account_id is not None and group.author_account_id in site.users:
        body["author"] = user_json(base, site.users[group.author_account_id])
    body["created"] = jira_datetime(group.created)
    body["items"] = [item_json(item) for item in group.items]
    return body


def resolution_json(base: str, site: Site, resolution_id: str) -> dict[str, Any]:
    resolution = site.resolutions[resolution_id]
    return {
        "self": f"{base}{API}/resolution/{resolution.id}",
        "id": resolution.id,
        "description": resolution.description,
        "name": resolution.name,
    }


def component_json(base: str, site: Site, component_id: str) -> dict[str, Any]:
    component = site.components[component_id]
    return {
        "self": f"{base}{API}/component/{component.id}",
        "id": component.id,
        "name": component.name,
        "description": component.description,
    }


def version_json(base: str, site: Site, version_id: str) -> dict[str, Any]:
    version = site.versions[version_id]
    body: dict[str, Any] = {
        "self": f"{base}{API}/version/{version.id}",
        "id": version.id,
        "name": version.name,
        "archived": version.archived,
        "released": version.released,
        "projectId": int(version.project_id),
    }
    if version.release_date:
        body["releaseDate"] = version.release_date
    return body


def link_type_json(base: str, link_type: LinkType) -> dict[str, Any]:
    return {
        "id": link_type.id,
        "name": link_type.name,
        "inward": link_type.inward,
        "outward": link_type.outward,
        "self": f"{base}{API}/issueLinkType/{link_type.id}",
    }


def linked_issue_json(base: str, site: Site, issue_id: int) -> dict[str, Any]:
    return _parent_json(base, site, issue_id)


def issue_link_json(base: str, site: Site, link: IssueLink, seen_from: Issue | None = None) -> dict[str, Any]:
    """An IssueLink; seen from one of its issues (the `issuelinks` field) it names only the other one."""
    body: dict[str, Any] = {
        "id": str(link.id),
        "self": f"{base}{API}/issueLink/{link.id}",
        "type": link_type_json(base, site.link_types[link.type_id]),
    }
    if seen_from is None or seen_from.id != link.inward_issue_id:
        body["inwardIssue"] = linked_issue_json(base, site, link.inward_issue_id)
    if seen_from is None or seen_from.id != link.outward_issue_id:
        body["outwardIssue"] = linked_issue_json(base, site, link.outward_issue_id)
    return body


def attachment_json(base: str, site: Site, attachment: Attachment) -> dict[str, Any]:
    return {
        "self": f"{base}{API}/attachment/{attachment.id}",
        "id": str(attachment.id),
        "filename": attachment.filename,
        "author": user_json(base, site.users[attachment.author_account_id]),
        "created": jira_datetime(attachment.created),
        "size": attachment.size,
        "mimeType": attachment.mime_type,
        "content": f"{base}{API}/attachment/content/{attachment.id}",
    }


def worklog_json(base: str, site: Site, issue: Issue, worklog: Worklog) -> dict[str, Any]:
    author = user_json(base, site.users[worklog.author_account_id])
    body: dict[str, Any] = {
        "self": f"{base}{API}/issue/{issue.id}/worklog/{worklog.id}",
        "author": author,
        "updateAuthor": author,
        "created": jira_datetime(worklog.created),
        "updated": jira_datetime(worklog.updated),
        "started": jira_datetime(worklog.started),
        "timeSpent": duration_text(worklog.time_spent_seconds),
        "timeSpentSeconds": worklog.time_spent_seconds,
        "id": str(worklog.id),
        "issueId": str(issue.id),
    }
    if worklog.comment is not None:
        body["comment"] = worklog.comment
    return body


def duration_text(seconds: int) -> str:
    """Jira's "1d 2h 30m" (a day is 8 hours and a week 5 days, Jira's default time tracking)."""
    parts, rest = [], seconds // 60
    for unit, minutes in (("w", 5 * 8 * 60), ("d", 8 * 60), ("h", 60), ("m", 1)):
        count, rest = divmod(rest, minutes)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts) or "0m"


def option_json(base: str, custom_field: CustomField, option_id: str) -> dict[str, Any]:
    option = custom_field.option(option_id)
    value = option.value if option else option_id
    return {"self": f"{base}{API}/customFieldOption/{option_id}", "value": value, "id": option_id}


def _custom_value(base: str, site: Site, issue: Issue, field_id: str) -> Any:
    if field_id == SPRINT_FIELD_ID:
        sprints = [site.sprints[s] for s in issue.sprint_ids if s in site.sprints]
        return [{"id": s.id, "name": s.name, "state": s.state, "boardId": 1, "goal": s.goal} for s in sprints] or None
    value = (issue.custom or {}).get(field_id)
    custom_field = site.custom_fields[field_id]
    if value is None:
        return None
    match custom_field.type:
        case "select":
            return option_json(base, custom_field, value)
        case "multiselect":
            return [option_json(base, custom_field, v) for v in value]
        case "user":
            return _user_or_none(base, site, value)
        case "labels":
            return list(value)
        case "datetime":
            return jira_datetime(datetime.fromisoformat(value))
        case _:
            return value


def _rendered(base: str, site: Site, issue: Issue, name: str) -> Any:
    """renderedFields: rich text as HTML, dates as people read them, comments with HTML bodies."""
    if name in ("description", "environment"):
        value = getattr(issue, name)
        return adf_html(value) if value else None
    if name in site.custom_fields and site.custom_fields[name].type == "textarea":
        value = (issue.custom or {}).get(name)
        return adf_html(value) if value else None
    if name in _RENDERED_DATES:
        moment = {"created": issue.created, "updated": issue.updated, "statuscategorychangedate": issue.status_changed}
        moment["resolutiondate"] = issue.resolved  # type: ignore[assignment]
        found = moment[name]
        return found.strftime("%d/%b/%y %I:%M %p") if found else None
    if name == "duedate":
        return datetime.fromisoformat(issue.duedate).strftime("%d/%b/%y") if issue.duedate else None
    if name == "comment":
        comments = [comment_json(base, site, issue, c) | {"body": adf_html(c.body)} for c in issue.comments or ()]
        return {"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0}
    return None


_MARKS = {"strong": "b", "em": "em", "code": "tt", "strike": "del", "underline": "ins", "subsup": "sup"}
_BLOCKS = {
    "paragraph": "p",
    "bulletList": "ul",
    "orderedList": "ol",
    "listItem": "li",
    "blockquote": "blockquote",
    "table": "table",
    "tableRow": "tr",
    "tableHeader": "th",
    "tableCell": "td",
}


def adf_html(node: dict[str, Any]) -> str:
    """Atlassian Document Format as simple HTML, close to what Jira's renderer gives."""
    kind = node.get("type")
    children = "".join(adf_html(c) for c in node.get("content") or () if isinstance(c, dict))
    attrs = node.get("attrs") or {}
    if kind == "text":
        text = escape(str(node.get("text", "")))
        for mark in node.get("marks") or ():
            mark_type = mark.get("type") if isinstance(mark, dict) else None
            if mark_type == "link":
                href = escape(str((mark.get("attrs") or {}).get("href", "")), quote=True)
                text = f'<a href="{href}" class="external-link" rel="nofollow">{text}</a>'
            elif mark_type in _MARKS:
                tag = _MARKS[mark_type]
                text = f"<{tag}>{text}</{tag}>"
        return text
    if kind == "heading":
        level = attrs.get("level", 1)
        return f"<h{level}>{children}</h{level}>"
    if kind == "codeBlock":
        return f'<div class="code panel"><div class="codeContent panelContent"><pre>{children}</pre></div></div>'
    if kind == "hardBreak":
        return "<br/>"
    if kind == "rule":
        return "<hr/>"
    if kind == "mention":
        return (
            f'<a class="user-hover" rel="{escape(str(attrs.get("id", "")))}">{escape(str(attrs.get("text", "")))}</a>'
        )
    if kind == "emoji":
        return escape(str(attrs.get("text") or attrs.get("shortName", "")))
    if kind in _BLOCKS:
        tag = _BLOCKS[kind]
        return f"<{tag}>{children}</{tag}>"
    return children


def _field_value(base: str, site: Site, issue: Issue, name: str, viewer: str | None = None) -> Any:
    if name.startswith("customfield_"):
        return _custom_value(base, site, issue, name)
    status = site.statuses[issue.status_id]
    match name:
        case "summary":
            return issue.summary
        case "issuetype":
            return issuetype_json(base, site.issue_types[issue.issuetype_id])
        case "project":
            return project_json(base, site, site.projects[issue.project_id])
        case "status":
            return status_json(base, status)
        case "priority":
            return priority_json(base, site.priorities[issue.priority_id]) if issue.priority_id else None
        case "assignee":
            return _user_or_none(base, site, issue.assignee_account_id)
        case "reporter" | "creator":
            return _user_or_none(base, site, issue.reporter_account_id)
        case "labels":
            return list(issue.labels)
        case "description":
            return issue.description
        case "environment":
            return issue.environment
        case "created":
            return jira_datetime(issue.created)
        case "updated":
            return jira_datetime(issue.updated)
        case "statuscategorychangedate":
            return jira_datetime(issue.status_changed)
        case "duedate":
            return issue.duedate
        case "resolution":
            if issue.resolution_id is not None and issue.resolution_id in site.resolutions:
                return resolution_json(base, site, issue.resolution_id)
            return _resolution(base) if status.category_key == "done" and not site.resolutions else None
        case "resolutiondate":
            if issue.resolved is not None:
                return jira_datetime(issue.resolved)
            return (
                jira_datetime(issue.status_changed) if status.category_key == "done" and not site.resolutions else None
            )
        case "components":
            return [component_json(base, site, c) for c in issue.component_ids if c in site.components]
        case "fixVersions":
            return [version_json(base, site, v) for v in issue.fix_version_ids if v in site.versions]
        case "versions":
            return [version_json(base, site, v) for v in issue.affected_version_ids if v in site.versions]
        case "watches":
            return {
                "self": f"{base}{API}/issue/{issue.key}/watchers",
                "watchCount": len(issue.watcher_ids),
                "isWatching": viewer in issue.watcher_ids,
            }
        case "attachment":
            return [attachment_json(base, site, site.attachments[a]) for a in issue.attachment_ids]
        case "issuelinks":
            return [issue_link_json(base, site, site.links[i], issue) for i in issue.link_ids]
        case "worklog":
            logs = [worklog_json(base, site, issue, w) for w in issue.worklogs[-20:]]
            return {"startAt": 0, "maxResults": 20, "total": len(issue.worklogs), "worklogs": logs}
        case "parent":
            return _parent_json(base, site, issue.parent_id) if issue.parent_id else None
        case "subtasks":
            return [_parent_json(base, site, child_id) for child_id in site.subtask_ids.get(issue.id, ())]
        case "comment":
            comments = [comment_json(base, site, issue, c) for c in issue.comments or ()]
            return {"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0}
    raise AssertionError(name)


def _user_or_none(base: str, site: Site, account_id: str | None) -> dict[str, Any] | None:
    return user_json(base, site.users[account_id]) if account_id else None


def _resolution(base: str) -> dict[str, Any]:
    return {
        "self": f"{base}{API}/resolution/10000",
        "id": "10000",
        "description": "Work has been completed.",
        "name": "Done",
    }


def _parent_json(base: str, site: Site, issue_id: int) -> dict[str, Any]:
    parent = site.issues[issue_id]
    return {
        "id": str(parent.id),
        "key": parent.key,
        "self": f"{base}{API}/issue/{parent.id}",
        "fields": {
            "summary": parent.summary,
            "status": status_json(base, site.statuses[parent.status_id]),
            "priority": priority_json(base, site.priorities[parent.priority_id]) if parent.priority_id else None,
            "issuetype": issuetype_json(base, site.issue_types[parent.issuetype_id]),
        },
    }
