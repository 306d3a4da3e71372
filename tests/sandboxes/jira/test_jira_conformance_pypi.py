"""Conformance: the PyPI `jira` client (3.10.5), in its default configuration, through every operation the
sandbox serves that the client has a method for; every answer validated against Atlassian's document.

Default configuration: `JIRA(server, basic_auth=(email, api_token))`, REST v2 (descriptions and comment
bodies are strings), `assign_issue` on `/rest/api/latest`, searches on `/search/jql` (enhanced search:
the client sees a Cloud site and uses it for `search_issues` too). The sandbox runs with its defaults
(Jira's rate limits on) except the search lag.

Client call -> request: what it does here (one row per call group).

- `JIRA(...)`, `server_info`, `myself` -> `GET /serverInfo`, `GET /myself`: a Cloud site, the demo admin
- `create_issue` -> `POST /issue` (+ `GET /issue/{key}` to prefetch): creates; a missing summary: 400 as in Jira
- `issue` (`fields`, `expand`) -> `GET /issue/{key}`: fields, changelog, renderedFields, names, schema, transitions,
  editmeta
- `Issue.update` -> `PUT /issue/{key}` (+ `GET` to reload): edits fields, labels by `update` verbs, the parent
- `Issue.delete` -> `DELETE /issue/{key}`: deletes; the issue then answers 404 as in Jira
- `assign_issue` -> `PUT /rest/api/latest/issue/{key}/assignee`: an account, `None` (unassign), `"-1"` (default
  assignee)
- `transitions`, `find_transitionid_by_name`, `transition_issue` -> `GET`/`POST /issue/{key}/transitions`: by id and
  by name, with a comment; one not available: 400 as in Jira
- `add_comment`, `comments`, `comment`, `Comment.update`, `Comment.delete` -> `/issue/{key}/comment[/{id}]`:
  string bodies (v2); a deleted comment answers 404 as in Jira
- `search_issues`, `enhanced_search_issues` -> `GET /search/jql`: token paging, `maxResults=False` fetches everything,
  `*all` fields, `expand`; bad JQL: 400
- `approximate_issue_count` -> `POST /search/approximate-count`: the count
- `createmeta` -> `GET /issue/createmeta?projectKeys=`: the deprecated, still documented createmeta
- `editmeta` -> `GET /issue/{key}/editmeta`: the edit screen
- `fields` -> `GET /field`: system and custom fields
- `projects`, `project`, `project_components`, `project_versions` -> `GET /project[/{key}[/components|/versions]]`:
  the seeded site
- `issue_types`, `issue_types_for_project`, `issue_type_by_name` -> `GET /issuetype`, `GET /issuetype/project`: types
- `priorities`, `statuses`, `statuscategories`, `resolutions` -> `GET /priority`, `/status`, `/statuscategory`,
  `/resolution`: the site's
- `priority`, `status`, `resolution`, `issue_type`, `component`, `version` -> `GET /priority/{id}`,
  `/status/{idOrName}`, `/resolution/{id}`, `/issuetype/{id}`, `/component/{id}`, `/version/{id}`: one of them
- `create_issue_link`, `issue_link`, `delete_issue_link`, `issue_link_types`, `issue_link_type` -> `/issueLink`,
  `/issueLinkType`: links both ways; the issue shows them
- `watchers`, `add_watcher`, `remove_watcher` -> `/issue/{key}/watchers`: the reporter watches; add and remove
- `add_attachment`, `attachment`, `Attachment.get`, `delete_attachment` -> `/issue/{key}/attachments`,
  `/attachment/{id}`, content: upload, meta, content, delete
- `add_worklog`, `worklogs` -> `POST`/`GET /issue/{key}/worklog`: time spent, started, comment
- `search_users`, `search_assignable_users_for_projects`, `search_assignable_users_for_issues` -> `/user/search`,
  `/user/assignable/multiProjectSearch`, `/user/assignable/search`: by query, projects, issue
- `create_issues` -> `POST /issue/bulk`: partial failures mapped to inputs; empty and over 50 refused per input
  (CreatedIssues 400)

The client refuses Cloud itself (before any request) for the paged createmeta: `createmeta_issuetypes`,
`createmeta_fieldtypes`, `project_issue_types`, `project_issue_fields` ("Use 'createmeta' instead");
atlassian-python-api's suite drives those operations.

Not served by the sandbox, so not driven here (they answer 404 `null for uri`): `worklog(issue, id)` and
worklog edits, `remote_links`, `votes`, and the client's Server-only calls (see the sandbox README).
"""

from __future__ import annotations

from io import BytesIO

import httpx
import pytest
from jira import JIRA, JIRAError

from tests.sandboxes.jira.conformance_support import Served, task
from ticketbridge.sandboxes.jira import DEMO_ACCOUNT_ID, DEMO_API_TOKEN, DEMO_EMAIL
from ticketbridge.sandboxes.jira.demo import MIA_ACCOUNT_ID

SEED = {
    "components": [{"project": "DEMO", "name": "Backend"}, {"project": "DEMO", "name": "Frontend"}],
    "versions": [{"project": "DEMO", "name": "1.0", "released": True}, {"project": "DEMO", "name": "2.0"}],
}


pytestmark = pytest.mark.usefixtures("conformant")


@pytest.fixture
def jira(served: Served) -> JIRA:
    httpx.post(f"{served.url}/__sandbox__/seed", json=SEED).raise_for_status()
    return JIRA(server=served.url, basic_auth=(DEMO_EMAIL, DEMO_API_TOKEN))


def test_the_client_sees_a_cloud_site_on_v2(jira: JIRA) -> None:
    assert jira._is_cloud
    assert jira._options["rest_api_version"] == "2"
    assert jira.server_info()["deploymentType"] == "Cloud"
    assert jira.myself()["accountId"] == DEMO_ACCOUNT_ID


def test_issue_create_read_edit_delete(jira: JIRA) -> None:
    issue = jira.create_issue(fields=task("From jira", description="Plain text", labels=["one"]))
    issue.update(summary="Renamed", update={"labels": [{"add": "two"}, {"remove": "one"}]})
    expanded = jira.issue(issue.key, expand="changelog,renderedFields,names,schema,transitions,editmeta")
    some = jira.issue(issue.key, fields="summary,labels")
    issue.delete()

    assert expanded.fields.summary == "Renamed"
    assert expanded.fields.description == "Plain text"
    assert expanded.fields.labels == ["two"]
    assert [h.items[0].field for h in expanded.changelog.histories] == ["summary"]
    assert expanded.raw["names"]["summary"] == "Summary"
    assert "summary" in expanded.raw["editmeta"]["fields"]
    assert {t["id"] for t in expanded.raw["transitions"]} == {"11"}
    assert set(some.raw["fields"]) == {"summary", "labels"}
    with pytest.raises(JIRAError) as gone:  # Jira too: a deleted issue is not found
        jira.issue(issue.key)
    assert gone.value.status_code == 404
    assert gone.value.text == "Issue does not exist or you do not have permission to see it."


def test_a_create_without_summary_is_refused_as_jira_refuses_it(jira: JIRA) -> None:
    with pytest.raises(JIRAError) as refused:  # Jira too: summary is required
        jira.create_issue(fields=task(""))

    assert refused.value.status_code == 400
    assert refused.value.response.json()["errors"] == {"summary": "You must specify a summary of the issue."}


def test_parent_is_editable_and_recorded(jira: JIRA) -> None:
    epic = jira.create_issue(fields=task("Epic", issuetype={"name": "Epic"}))
    story = jira.create_issue(fields=task("Story"))
    story.update(fields={"parent": {"key": epic.key}})
    subtask = jira.create_issue(fields=task("Sub", issuetype={"name": "Sub-task"}, parent={"key": story.key}))

    with pytest.raises(JIRAError) as refused:  # Jira too: a sub-task's parent is a standard issue
        subtask.update(fields={"parent": {"key": epic.key}})
    changed = jira.issue(story.key, expand="changelog")

    assert changed.fields.parent.key == epic.key
    assert refused.value.status_code == 400
    assert refused.value.response.json()["errors"]["parent"] == (
        "Given parent issue does not belong to appropriate hierarchy."
    )
    assert [(i.field, i.toString) for h in changed.changelog.histories for i in h.items] == [
        ("IssueParentAssociation", epic.key)
    ]


def test_assign_to_someone_nobody_and_the_default(jira: JIRA) -> None:
    jira.assign_issue("DEMO-1", MIA_ACCOUNT_ID)
    mia = jira.issue("DEMO-1").fields.assignee.accountId
    jira.assign_issue("DEMO-1", None)
    nobody = jira.issue("DEMO-1").fields.assignee
    jira.assign_issue("DEMO-1", "-1")

    assert (mia, nobody) == (MIA_ACCOUNT_ID, None)
    assert jira.issue("DEMO-1").fields.assignee.accountId == DEMO_ACCOUNT_ID


def test_transitions_by_id_and_name(jira: JIRA) -> None:
    available = jira.transitions("DEMO-1", expand="transitions.fields")
    by_id = jira.transitions("DEMO-1", id="11")
    start = jira.find_transitionid_by_name("DEMO-1", "Start Progress")
    jira.transition_issue("DEMO-1", "11", comment="Started")
    jira.transition_issue("DEMO-1", "Request Review")

    assert [t["id"] for t in available] == ["11"]
    assert "fields" in available[0]
    assert [t["id"] for t in by_id] == ["11"]
    assert start == "11"
    assert jira.issue("DEMO-1").fields.status.name == "In Review"
    with pytest.raises(JIRAError) as refused:  # Jira too: a transition not available from this status
        jira.transition_issue("DEMO-1", "11")
    assert refused.value.status_code == 400


def test_comments_in_plain_text(jira: JIRA) -> None:
    added = jira.add_comment("DEMO-2", "Seen from the client")
    second = jira.add_comment("DEMO-2", "To be removed")
    fetched = jira.comment("DEMO-2", added.id)
    fetched.update(body="Edited from the client")
    second.delete()

    assert added.body == "Seen from the client"
    assert [c.body for c in jira.comments("DEMO-2")] == ["Edited from the client"]
    with pytest.raises(JIRAError) as gone:  # Jira too: a deleted comment is not found
        jira.comment("DEMO-2", second.id)
    assert gone.value.status_code == 404


def test_search_pages_fields_and_count(jira: JIRA) -> None:
    jql = "project = DEMO ORDER BY key ASC"

    first = jira.enhanced_search_issues(jql, maxResults=2)
    second = jira.enhanced_search_issues(jql, maxResults=2, nextPageToken=first.nextPageToken)
    everything = jira.search_issues(jql, maxResults=False, fields="summary,status", expand="names")
    raw = jira.enhanced_search_issues(jql, maxResults=1, json_result=True)
    count = jira.approximate_issue_count("project = DEMO")

    assert [i.key for i in first] == ["DEMO-1", "DEMO-2"]
    assert [i.key for i in second] == ["DEMO-3"]
    assert [i.key for i in everything] == ["DEMO-1", "DEMO-2", "DEMO-3"]
    assert "comment" in raw["issues"][0]["fields"]  # the client asks for *all
    assert count == 3
    with pytest.raises(JIRAError) as refused:  # Jira too: JQL that does not parse
        jira.search_issues("project = = DEMO")
    assert refused.value.status_code == 400


def test_create_and_edit_metadata_and_fields(jira: JIRA) -> None:
    createmeta = jira.createmeta(projectKeys="DEMO", expand="projects.issuetypes.fields")
    editmeta = jira.editmeta("DEMO-1")
    fields = jira.fields()

    assert [p["key"] for p in createmeta["projects"]] == ["DEMO"]
    assert "summary" in createmeta["projects"][0]["issuetypes"][0]["fields"]
    assert editmeta["fields"]["summary"]["required"] is True
    assert {"summary", "parent", "priority"} <= {f["id"] for f in fields}


def test_projects_components_versions_types_and_lookups(jira: JIRA) -> None:
    projects = jira.projects()
    demo = jira.project("DEMO")
    components = jira.project_components("DEMO")
    versions = jira.project_versions("DEMO")
    issue_types = jira.issue_types()
    for_project = jira.issue_types_for_project("10000")
    bug = jira.issue_type_by_name("Bug", project="10000")

    assert [p.key for p in projects] == ["DEMO", "OPS"]
    assert demo.name == "Demo"
    assert [c.name for c in components] == ["Backend", "Frontend"]
    assert [(v.name, v.released) for v in versions] == [("1.0", True), ("2.0", False)]
    assert "Epic" in [t.name for t in issue_types]
    assert "Sub-task" in [t.name for t in for_project]
    assert bug.id == "10002"
    assert [p.name for p in jira.priorities()][:2] == ["Highest", "High"]
    assert "In Progress" in [s.name for s in jira.statuses()]
    assert {c.key for c in jira.statuscategories()} >= {"new", "indeterminate", "done"}
    assert "Done" in [r.name for r in jira.resolutions()]
    assert (jira.priority("2").name, jira.status("3").name, jira.resolution("10001").name) == (
        "High",
        "In Progress",
        "Won't Do",
    )
    assert jira.issue_type("10004").name == "Epic"
    assert (jira.component(components[0].id).name, jira.version(versions[1].id).name) == ("Backend", "2.0")


def test_issue_links_and_link_types(jira: JIRA) -> None:
    types = jira.issue_link_types()
    blocks = jira.issue_link_type(next(t.id for t in types if t.name == "Blocks"))
    jira.create_issue_link("Blocks", "DEMO-1", "DEMO-2")
    link_id = jira.issue("DEMO-1").fields.issuelinks[0].id
    link = jira.issue_link(link_id)
    jira.delete_issue_link(link_id)

    assert blocks.outward == "blocks"
    assert (link.outwardIssue.key, link.inwardIssue.key) == ("DEMO-2", "DEMO-1")
    assert jira.issue("DEMO-2").fields.issuelinks == []


def test_watchers(jira: JIRA) -> None:
    jira.add_watcher("DEMO-1", MIA_ACCOUNT_ID)
    watching = {w.accountId for w in jira.watchers("DEMO-1").watchers}
    jira.remove_watcher("DEMO-1", MIA_ACCOUNT_ID)

    assert MIA_ACCOUNT_ID in watching
    assert MIA_ACCOUNT_ID not in {w.accountId for w in jira.watchers("DEMO-1").watchers}


def test_attachments(jira: JIRA) -> None:
    added = jira.add_attachment("DEMO-1", BytesIO(b"log line\n"), filename="log.txt")
    meta = jira.attachment(added.id)
    content = meta.get()
    jira.delete_attachment(added.id)

    assert (meta.filename, meta.size) == ("log.txt", 9)
    assert content == b"log line\n"
    assert jira.issue("DEMO-1").fields.attachment == []


def test_worklogs(jira: JIRA) -> None:
    jira.add_worklog("DEMO-1", timeSpent="1h 30m", comment="Worked")
    jira.add_worklog("DEMO-1", timeSpentSeconds="600")

    assert [w.timeSpentSeconds for w in jira.worklogs("DEMO-1")] == [5400, 600]


def test_user_searches(jira: JIRA) -> None:
    found = jira.search_users(query="Mia")
    for_project = jira.search_assignable_users_for_projects("", "DEMO")
    for_issue = jira.search_assignable_users_for_issues(query="Demo", issueKey="DEMO-1")

    assert [u.accountId for u in found] == [MIA_ACCOUNT_ID]
    assert DEMO_ACCOUNT_ID in {u.accountId for u in for_project}
    assert DEMO_ACCOUNT_ID in {u.accountId for u in for_issue}


def test_bulk_create_partial_empty_and_over_50(jira: JIRA) -> None:
    partial = jira.create_issues([task("fine"), task(""), task("also fine")])
    empty = jira.create_issues([])
    over = jira.create_issues([task(f"n{n}") for n in range(51)])

    assert [r["status"] for r in partial] == ["Success", "Error", "Success"]
    assert partial[0]["issue"].fields.summary == "fine"
    assert "summary" in partial[1]["error"]
    assert empty == []
    assert [r["status"] for r in over] == ["Error"] * 51
