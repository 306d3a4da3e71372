"""Each issue's change history: what a write changed, as the change groups of Jira's changelog.

Writers take a `snapshot` of the issue before they change it and call `record` afterwards; `record`
compares the two and appends one `ChangeGroup` (who, when, the items) to `Issue.history`, a tuple that
is replaced on every write, never mutated, so that the copy search keeps while it lags (index.py) keeps
the history as it was. JQL's WAS and CHANGED read it from the issue's `SearchDoc`.

Item shapes follow Jira's: single values carry the id in `from`/`to` and the name in `fromString`/
`toString` (users: account id and display name); text fields carry only the strings; labels are one
item with the labels space-separated; multi-valued fields (components, versions, multi-selects) get
one item per value added (`from` empty) or removed (`to` empty).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ticketbridge.sandboxes.jira.adf import plain_text

if TYPE_CHECKING:
    from ticketbridge.sandboxes.jira.state import Issue, Site

#: One field's value for history: (id or None, string or None) pairs, one per value of a multi field.
Values = tuple[tuple[str | None, str | None], ...]
#: Field id -> (name in the changelog, "jira" or "custom", multi-valued, its values).
Snapshot = dict[str, tuple[str, str, bool, Values]]


@dataclass(frozen=True, slots=True)
class ChangeItem:
    field: str
    field_id: str
    fieldtype: str
    from_: str | None
    from_string: str | None
    to: str | None
    to_string: str | None


@dataclass(frozen=True, slots=True)
class ChangeGroup:
    id: int
    author_account_id: str | None
    created: datetime
    items: tuple[ChangeItem, ...]


def snapshot(site: Site, issue: Issue) -> Snapshot:
    """The issue's tracked fields as history compares them; cheap enough to take on every write."""
    users = site.users
    status = site.statuses[issue.status_id]
    issue_type = site.issue_types[issue.issuetype_id]

    def user(account_id: str | None) -> Values:
        if account_id is None:
            return ()
        known = users.get(account_id)
        return ((account_id, known.display_name if known else account_id),)

    def named(ident: str | None, table: dict[str, Any]) -> Values:
        if ident is None:
            return ()
        found = table.get(ident)
        return ((ident, found.name if found else ident),)

    def many(ids: tuple[str, ...], table: dict[str, Any]) -> Values:
        return tuple((i, table[i].name if i in table else i) for i in ids)

    found: Snapshot = {
        "summary": ("summary", "jira", False, ((None, issue.summary),)),
        "issuetype": ("issuetype", "jira", False, ((issue_type.id, issue_type.name),)),
        "status": ("status", "jira", False, ((status.id, status.name),)),
        "priority": ("priority", "jira", False, named(issue.priority_id, site.priorities)),
        "resolution": ("resolution", "jira", False, named(issue.resolution_id, site.resolutions)),
        "assignee": ("assignee", "jira", False, user(issue.assignee_account_id)),
        "reporter": ("reporter", "jira", False, user(issue.reporter_account_id)),
        "description": ("description", "jira", False, _text(plain_text(issue.description))),
        "environment": ("environment", "jira", False, _text(plain_text(issue.environment))),
        "duedate": (
            "duedate",
            "jira",
            False,
            ((issue.duedate, f"{issue.duedate} 00:00:00.0"),) if issue.duedate else (),
        ),
        "labels": ("labels", "jira", False, _text(" ".join(issue.labels))),
        "components": ("Component", "jira", True, many(issue.component_ids, site.components)),
        "fixVersions": ("Fix Version", "jira", True, many(issue.fix_version_ids, site.versions)),
        "versions": ("Version", "jira", True, many(issue.affected_version_ids, site.versions)),
    }
    if issue.parent_id is not None and issue.parent_id in site.issues:
        found["parent"] = (
            "IssueParentAssociation",
            "jira",
            False,
            ((str(issue.parent_id), site.issues[issue.parent_id].key),),
        )
    if issue.sprint_ids:
        sprints = site.sprints
        names = tuple((str(s), sprints[s].name if s in sprints else str(s)) for s in issue.sprint_ids)
        found["customfield_10020"] = ("Sprint", "custom", True, names)
    for field_id, value in (issue.custom or {}).items():
        custom_field = site.custom_fields.get(field_id)
        if custom_field is not None:
            found[field_id] = (
                custom_field.name,
                "custom",
                custom_field.type == "multiselect",
                _custom(site, field_id, value),
            )
    return found


def record(site: Site, issue: Issue, account_id: str | None, before: Snapshot, now: datetime) -> ChangeGroup | None:
    """Appends what changed since `before` to the issue's history; None when nothing did."""
    after = snapshot(site, issue)
    items = list(_diff(before, after))
    return add_group(site, issue, account_id, now, items) if items else None


def add_group(site: Site, issue: Issue, account_id: str | None, now: datetime, items: list[ChangeItem]) -> ChangeGroup:
    """Appends one change group with `items` (for changes no snapshot covers, such as links)."""
    group = ChangeGroup(site.next_changelog_id, account_id, now, tuple(items))
    site.next_changelog_id += 1
    issue.history = (*issue.history, group)
    return group


def _diff(before: Snapshot, after: Snapshot) -> Iterator[ChangeItem]:
    for field_id in dict.fromkeys([*before, *after]):
        name, kind, multi, old = before.get(field_id) or (*after[field_id][:3], ())
        new = after[field_id][3] if field_id in after else ()
        if old == new:
            continue
        if not multi:
            (old_id, old_text), (new_id, new_text) = (old or ((None, None),))[0], (new or ((None, None),))[0]
            yield ChangeItem(name, field_id, kind, old_id, old_text, new_id, new_text)
            continue
        for value_id, text in old:
            if (value_id, text) not in new:
                yield ChangeItem(name, field_id, kind, value_id, text, None, None)
        for value_id, text in new:
            if (value_id, text) not in old:
                yield ChangeItem(name, field_id, kind, None, None, value_id, text)


def _text(text: str) -> Values:
    return ((None, text),) if text else ()


def _custom(site: Site, field_id: str, value: Any) -> Values:
    custom_field = site.custom_fields[field_id]
    if value is None:
        return ()
    match custom_field.type:
        case "select" | "multiselect":
            ids = value if isinstance(value, tuple) else (value,)
            return tuple((i, o.value if (o := custom_field.option(i)) else i) for i in ids)
        case "user":
            known = site.users.get(value)
            return ((value, known.display_name if known else value),)
        case "textarea":
            return _text(plain_text(value))
        case "labels":
            return _text(" ".join(value))
        case "number":
            return ((None, f"{value:g}"),)
        case _:
            return ((None, str(value)),)


# -- JSON ----------------------------------------------------------------------------------------


def item_json(item: ChangeItem) -> dict[str, Any]:
    return {
        "field": item.field,
        "fieldtype": item.fieldtype,
        "fieldId": item.field_id,
        "from": item.from_,
        "fromString": item.from_string,
        "to": item.to,
        "toString": item.to_string,
    }


def to_json(history: tuple[ChangeGroup, ...]) -> list[dict[str, Any]]:
    """The history in the persisted form (see persistence.py)."""
    return [
        {
            "id": g.id,
            "author": g.author_account_id,
            "created": g.created.isoformat(),
            "items": [[i.field, i.field_id, i.fieldtype, i.from_, i.from_string, i.to, i.to_string] for i in g.items],
        }
        for g in history
    ]


def from_json(data: list[dict[str, Any]]) -> tuple[ChangeGroup, ...]:
    return tuple(
        ChangeGroup(
            g["id"], g["author"], datetime.fromisoformat(g["created"]), tuple(ChangeItem(*i) for i in g["items"])
        )
        for g in data
    )
