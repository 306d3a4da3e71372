"""JQL clauses integrations send, one table row each, over a seeded site with a history, through `/search/jql`.

The seeded issues (all labelled `s`, created in January 2026, DEMO project):

| issue | type | history | model |
|---|---|---|---|
| Alpha | Task, assignee Mia | In Progress 01-05 (by Mia), Done 01-10 (by admin) | Backend, fix 1.0, due 01-20, Sprint 1, S1, 3 points, watched by Mia, blocks Beta |
| Beta | Bug, assignee Mia | assignee -> Emma 01-06, priority -> High 01-07 | Frontend, fix 2.0, affects 1.0, due 03-01, Sprint 2, S2, 8 points, an attachment |
| Gamma | Epic | none | |
| Delta | Story under Gamma, assignee admin | none | Sprint 2 |
| Epsilon | Sub-task under Delta | none | |
"""

# Jira's messages are compared verbatim, so some lines run long.
# ruff: noqa: E501
from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandboxes.jira.jira_support import API
from ticketbridge.sandboxes.jira.demo import DEMO_ACCOUNT_ID, MIA_ACCOUNT_ID

EMMA = "5b10a0effa615349cb016cd8"
ALL = {"Alpha", "Beta", "Gamma", "Delta", "Epsilon"}


def _issue(summary: str, **extra: Any) -> dict[str, Any]:
    return {"project": "DEMO", "summary": summary, "labels": ["s"], **extra}


SEED: dict[str, Any] = {
    "components": [{"project": "DEMO", "name": "Backend"}, {"project": "DEMO", "name": "Frontend"}],
    "versions": [{"project": "DEMO", "name": "1.0", "released": True}, {"project": "DEMO", "name": "2.0"}],
    "sprints": [
        {"id": 1, "name": "Sprint 1", "state": "closed"},
        {"id": 2, "name": "Sprint 2", "state": "active"},
        {"id": 3, "name": "Sprint 3", "state": "future"},
    ],
    "groups": {"devs": [DEMO_ACCOUNT_ID, MIA_ACCOUNT_ID]},
    "custom_fields": [
        {"name": "Severity", "type": "select", "options": ["S1", "S2"]},
        {"name": "Story Points", "type": "number"},
        {"name": "Customer", "type": "text"},
    ],
    "issues": [
        _issue(
            "Alpha",
            assignee=MIA_ACCOUNT_ID,
            created="2026-01-01T09:00:00Z",
            history=[
                {"at": "2026-01-05T10:00:00Z", "by": MIA_ACCOUNT_ID, "status": "In Progress"},
                {"at": "2026-01-10T10:00:00Z", "by": DEMO_ACCOUNT_ID, "status": "Done"},
            ],
            components=["Backend"],
            fix_versions=["1.0"],
            duedate="2026-01-20",
            sprint=1,
            watchers=[MIA_ACCOUNT_ID],
            fields={"Severity": {"value": "S1"}, "Story Points": 3, "Customer": "Acme Corp"},
        ),
        _issue(
            "Beta",
            issuetype="10002",
            assignee=MIA_ACCOUNT_ID,
            created="2026-01-02T09:00:00Z",
            history=[
                {"at": "2026-01-06T10:00:00Z", "assignee": EMMA},
                {"at": "2026-01-07T10:00:00Z", "priority": "2"},
            ],
            components=["Frontend"],
            fix_versions=["2.0"],
            affected_versions=["1.0"],
            duedate="2026-03-01",
            sprint=2,
            fields={"Severity": {"value": "S2"}, "Story Points": 8},
        ),
        _issue("Gamma", issuetype="10004", created="2026-01-03T09:00:00Z"),
    ],
}


@pytest.fixture
async def site(client: httpx.AsyncClient) -> dict[str, str]:
    """Seeds the table's issues (parents set once their keys are known); answers summary -> key."""
    response = await client.post("/__sandbox__/seed", json=SEED)
    assert response.status_code == 200, response.text
    keys = dict(zip(["Alpha", "Beta", "Gamma"], response.json()["keys"], strict=True))
    delta = _issue(
        "Delta",
        issuetype="10003",
        assignee=DEMO_ACCOUNT_ID,
        created="2026-01-04T09:00:00Z",
        sprint=2,
        parent=keys["Gamma"],
    )
    keys["Delta"] = (await client.post("/__sandbox__/seed", json={"issues": [delta]})).json()["keys"][0]
    epsilon = _issue("Epsilon", issuetype="10005", created="2026-01-04T10:00:00Z", parent=keys["Delta"])
    keys["Epsilon"] = (await client.post("/__sandbox__/seed", json={"issues": [epsilon]})).json()["keys"][0]
    link = {"type": {"name": "Blocks"}, "inwardIssue": {"key": keys["Alpha"]}, "outwardIssue": {"key": keys["Beta"]}}
    assert (await client.post(f"{API}/issueLink", json=link)).status_code == 201
    upload = await client.post(
        f"{API}/issue/{keys['Beta']}/attachments",
        files={"file": ("log.txt", b"boom", "text/plain")},
        headers={"X-Atlassian-Token": "no-check"},
    )
    assert upload.status_code == 200, upload.text
    return keys


async def found(client: httpx.AsyncClient, keys: dict[str, str], jql: str, order: str = "") -> list[str]:
    response = await client.post(
        f"{API}/search/jql", json={"jql": f"labels = s AND ({jql}) {order}", "fields": ["summary"], "maxResults": 100}
    )
    assert response.status_code == 200, response.text
    return [issue["fields"]["summary"] for issue in response.json()["issues"]]


CLAUSES = [
    # resolution
    ("resolution = Unresolved", {"Beta", "Gamma", "Delta", "Epsilon"}),
    ("resolution = Done", {"Alpha"}),
    ("resolution is EMPTY", {"Beta", "Gamma", "Delta", "Epsilon"}),
    ('resolution in (Done, "Won\'t Do")', {"Alpha"}),
    ("resolution != Unresolved", {"Alpha"}),
    # due dates
    ("duedate < 2026-02-01", {"Alpha"}),
    ("due >= 2026-02-01", {"Beta"}),
    ('duedate = "2026-01-20"', {"Alpha"}),
    ("duedate is EMPTY", {"Gamma", "Delta", "Epsilon"}),
    ("duedate < now()", {"Alpha", "Beta"}),
    # components and versions
    ("component = Backend", {"Alpha"}),
    ("component in (Backend, Frontend)", {"Alpha", "Beta"}),
    ("component is EMPTY", {"Gamma", "Delta", "Epsilon"}),
    ('fixVersion = "1.0"', {"Alpha"}),
    ('fixVersion != "1.0"', {"Beta"}),
    ('affectedVersion = "1.0"', {"Beta"}),
    ("affectedVersion is EMPTY", {"Alpha", "Gamma", "Delta", "Epsilon"}),
    # hierarchy
    ("parent = {Gamma}", {"Delta"}),
    ("parent in ({Gamma}, {Delta})", {"Delta", "Epsilon"}),
    ("parentEpic = {Gamma}", {"Gamma", "Delta", "Epsilon"}),
    # people
    (f"watcher = {MIA_ACCOUNT_ID}", {"Alpha"}),
    ("watcher is EMPTY", {"Beta", "Gamma", "Delta", "Epsilon"}),
    ("assignee in membersOf(devs)", {"Alpha", "Delta"}),
    ("assignee = currentUser()", {"Delta"}),
    ("assignee not in membersOf(devs)", {"Beta"}),
    # attachments
    ("attachments IS NOT EMPTY", {"Beta"}),
    ("attachments is EMPTY", {"Alpha", "Gamma", "Delta", "Epsilon"}),
    # custom fields, by name and by number
    ("Severity = S1", {"Alpha"}),
    ('"Severity" = S1', {"Alpha"}),
    ("cf[{Severity}] is EMPTY", {"Gamma", "Delta", "Epsilon"}),
    ("cf[{Severity}] in (S1, S2)", {"Alpha", "Beta"}),
    ("Severity is EMPTY", {"Gamma", "Delta", "Epsilon"}),
    ('"Story Points" > 5', {"Beta"}),
    ('"Story Points" <= 3', {"Alpha"}),
    ('"story points" in (3, 8)', {"Alpha", "Beta"}),
    ("Customer ~ acme", {"Alpha"}),
    ("Customer is not EMPTY", {"Alpha"}),
    # sprints
    ("sprint = 2", {"Beta", "Delta"}),
    ('sprint = "Sprint 1"', {"Alpha"}),
    ("sprint in openSprints()", {"Beta", "Delta"}),
    ("sprint in closedSprints()", {"Alpha"}),
    ("sprint in futureSprints()", set()),
    ("sprint is EMPTY", {"Gamma", "Epsilon"}),
    # links
    ("issue in linkedIssues({Alpha})", {"Beta"}),
    ('issue in linkedIssues({Beta}, "is blocked by")', {"Alpha"}),
    ('issue in linkedIssues({Alpha}, "blocks")', {"Beta"}),
    ('issue in linkedIssues({Alpha}, "is blocked by")', set()),
    ("issueLinkType = blocks", {"Alpha"}),
    ('issueLinkType = "is blocked by"', {"Beta"}),
    # issue type functions
    ("issuetype in standardIssueTypes()", {"Alpha", "Beta", "Gamma", "Delta"}),
    ("issuetype in subTaskIssueTypes()", {"Epsilon"}),
    ("issuetype not in subTaskIssueTypes()", {"Alpha", "Beta", "Gamma", "Delta"}),
    # date functions and relative dates
    ("created < startOfDay()", ALL),
    ("created >= startOfMonth()", set()),
    ("created < endOfWeek(-1w)", ALL),
    ("created < endOfDay()", ALL),
    ("created < startOfWeek(1w)", ALL),
    ("created < endOfMonth()", ALL),
    ("created <= endOfYear()", ALL),
    ('created < startOfDay("-1d")', ALL),
    ('created > "-2w"', set()),
    ("updated > -1d", {"Alpha", "Beta"}),
    ('created >= "2026-01-03" AND created < startOfYear(1)', {"Gamma", "Delta", "Epsilon"}),
    # WAS
    ('status WAS "In Progress"', {"Alpha"}),
    ('status WAS "To Do"', ALL),
    ("status WAS Done", {"Alpha"}),
    ('status WAS NOT "In Progress"', {"Beta", "Gamma", "Delta", "Epsilon"}),
    ('status WAS IN ("In Progress", Done)', {"Alpha"}),
    ('status WAS NOT IN ("In Progress", Done)', {"Beta", "Gamma", "Delta", "Epsilon"}),
    (f'status WAS "In Progress" BY {MIA_ACCOUNT_ID}', {"Alpha"}),
    ('status WAS "In Progress" BY currentUser()', set()),
    ('status WAS "In Progress" BEFORE "2026-01-05"', set()),
    ('status WAS "In Progress" BEFORE "2026-01-06"', {"Alpha"}),
    ('status WAS "In Progress" ON "2026-01-07"', {"Alpha"}),
    ('status WAS "In Progress" AFTER "2026-01-11"', set()),
    ('status WAS "In Progress" DURING ("2026-01-01", "2026-01-05 09:00")', set()),
    ('status WAS "In Progress" DURING ("2026-01-01", "2026-01-06")', {"Alpha"}),
    ('status WAS "To Do" AFTER "2026-01-11"', {"Beta", "Gamma", "Delta", "Epsilon"}),
    (f"assignee WAS {MIA_ACCOUNT_ID}", {"Alpha", "Beta"}),
    (f"assignee WAS {MIA_ACCOUNT_ID} AFTER 2026-01-07", {"Alpha"}),
    ("assignee WAS EMPTY", {"Gamma", "Epsilon"}),
    (f"assignee WAS IN ({EMMA}, {DEMO_ACCOUNT_ID})", {"Beta", "Delta"}),
    ("priority WAS Medium", ALL),
    ("priority WAS High BEFORE 2026-01-07", set()),
    ('fixVersion WAS "1.0"', {"Alpha"}),
    ("resolution WAS Done", {"Alpha"}),
    ("NOT status WAS Done", {"Beta", "Gamma", "Delta", "Epsilon"}),
    # CHANGED
    ("status CHANGED", {"Alpha"}),
    ('status CHANGED FROM "In Progress" TO Done', {"Alpha"}),
    ('status CHANGED FROM "To Do"', {"Alpha"}),
    ('status CHANGED TO "In Progress" BY ' + MIA_ACCOUNT_ID, {"Alpha"}),
    ("status CHANGED TO Done BY currentUser()", {"Alpha"}),
    ("status CHANGED BY (" + EMMA + ")", set()),
    ('status CHANGED AFTER "2026-01-11"', set()),
    ('status CHANGED DURING ("2026-01-04", "2026-01-06")', {"Alpha"}),
    ('status CHANGED ON "2026-01-10"', {"Alpha"}),
    ('status CHANGED BEFORE "2026-01-05"', set()),
    (f"assignee CHANGED FROM {MIA_ACCOUNT_ID} TO {EMMA}", {"Beta"}),
    ("assignee CHANGED", {"Beta"}),
    ("priority CHANGED TO High", {"Beta"}),
    ("resolution CHANGED TO Done", {"Alpha"}),
    ("resolution CHANGED FROM EMPTY", {"Alpha"}),
    ("NOT status CHANGED", {"Beta", "Gamma", "Delta", "Epsilon"}),
]


@pytest.mark.parametrize(("jql", "expected"), CLAUSES, ids=[c[0] for c in CLAUSES])
async def test_clause(client: httpx.AsyncClient, site: dict[str, str], jql: str, expected: set[str]) -> None:
    custom = (await client.post("/__sandbox__/seed", json={"custom_fields": SEED["custom_fields"][:1]})).json()
    number = custom["custom_fields"]["Severity"].removeprefix("customfield_")
    query = jql.replace("{Severity}", number)
    for summary, key in site.items():
        query = query.replace("{" + summary + "}", key)
    assert set(await found(client, site, query)) == expected


async def test_order_by_rank_is_the_backlog_order(client: httpx.AsyncClient, site: dict[str, str]) -> None:
    assert await found(client, site, "issuetype != Sub-task", "ORDER BY Rank") == ["Alpha", "Beta", "Gamma", "Delta"]
    assert await found(client, site, "issuetype != Sub-task", "ORDER BY rank DESC") == [
        "Delta",
        "Gamma",
        "Beta",
        "Alpha",
    ]
    assert await found(client, site, "duedate is not EMPTY", "ORDER BY duedate DESC") == ["Beta", "Alpha"]


REFUSALS = [
    ("colour = red", "Field 'colour' does not exist or you do not have permission to view it."),
    ('"Not A Field" = 1', "Field 'Not A Field' does not exist or you do not have permission to view it."),
    ("cf[99999] = 1", "Field 'cf[99999]' does not exist or you do not have permission to view it."),
    ("summary WAS x", "The operator 'was' is not supported by the 'summary' field."),
    ("labels CHANGED", "The operator 'changed' is not supported by the 'labels' field."),
    ("Severity WAS S1", "The operator 'was' is not supported by the 'Severity' field."),
    ("status WAS Nope", "The value 'Nope' does not exist for the field 'status'."),
    ("status CHANGED TO Nope", "The value 'Nope' does not exist for the field 'status'."),
    ("status WAS Done FROM Done", "The predicate 'FROM' is not supported by the 'WAS' operator."),
    (
        'status WAS Done DURING ("2026-01-01")',
        "The 'DURING' predicate of the field 'status' takes a list of two dates.",
    ),
    ("status WAS (Done)", "Operator 'was' does not support the list value '(\"Done\")' for field 'status'."),
    ("status WAS IN Done", "Operator 'was in' does not support the non-list value '\"Done\"' for field 'status'."),
    ("Severity = S9", "The option 'S9' for field 'Severity' is not valid."),
    ("Severity ~ S1", "The operator '~' is not supported by the 'Severity' field."),
    ("component = Nope", "The value 'Nope' does not exist for the field 'component'."),
    ('fixVersion = "9.9"', "The value '9.9' does not exist for the field 'fixVersion'."),
    ("resolution = Fixed", "The value 'Fixed' does not exist for the field 'resolution'."),
    ("sprint = 42", "The value '42' does not exist for the field 'sprint'."),
    (
        "assignee in membersOf(nobody)",
        "Function 'membersOf' can not generate a list of usernames for group 'nobody'; the group does not exist.",
    ),
    ("issue in linkedIssues(abc)", "Issue 'abc' could not be found in function 'linkedIssues'."),
    ("issuetype in fooTypes()", "Unable to find JQL function 'fooTypes()'."),
    ("fixVersion in releasedVersions()", "Unable to find JQL function 'releasedVersions()'."),
    ("issue in updatedBy(x)", "Unable to find JQL function 'updatedBy()'."),
    (
        "status in subTaskIssueTypes()",
        "A value provided by the function 'subTaskIssueTypes' is invalid for the field 'status'.",
    ),
    ("sprint in openSprints(1)", "Function 'openSprints' expected '0' arguments but received '1'."),
    ("attachments = x", "The operator '=' is not supported by the 'attachments' field."),
    ("project = DEMO ORDER BY watcher", "Not able to sort using field 'watcher'."),
]


@pytest.mark.parametrize(("jql", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
async def test_refusal_names_the_clause(client: httpx.AsyncClient, jql: str, message: str) -> None:
    await client.post(
        "/__sandbox__/seed", json={k: SEED[k] for k in ("components", "versions", "sprints", "custom_fields")}
    )
    response = await client.post(f"{API}/search/jql", json={"jql": jql})

    assert response.status_code == 400, response.text
    assert response.json() == {"errorMessages": [message], "errors": {}}
