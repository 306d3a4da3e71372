"""The site model: custom fields with contexts and required-field configuration, components, versions,
resolutions, issue links, watchers, attachments and worklogs, over HTTP and through the PyPI client."""

# ruff: noqa: E501
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jira import JIRA, JIRAError

from tests.sandboxes.jira.jira_support import API, adf, create_issue, issue_fields
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from ticketbridge.sandboxes.jira import DEMO_API_TOKEN, DEMO_EMAIL, JiraSandboxConfig, create_app
from ticketbridge.sandboxes.jira.demo import DEMO_ACCOUNT_ID, MIA_ACCOUNT_ID, OUTSIDER_ACCOUNT_ID
from ticketbridge.sandboxes.jira.relations import ATTACHMENT_MAX_BYTES

NO_CHECK = {"X-Atlassian-Token": "no-check"}
CUSTOM_FIELDS = [
    {"name": "Severity", "type": "select", "options": ["S1", "S2"], "required": [{"project": "DEMO", "issuetype": "Task"}]},
    {"name": "Customer", "type": "text"},
    {"name": "Notes", "type": "textarea"},
    {"name": "Story Points", "type": "number"},
    {"name": "Platforms", "type": "multiselect", "options": ["iOS", "Android"]},
    {"name": "Owner", "type": "user"},
    {"name": "Go live", "type": "date"},
    {"name": "Cutover", "type": "datetime"},
    {"name": "Tags", "type": "labels"},
    {"name": "Queue", "type": "text", "projects": ["OPS"]},
]  # fmt: skip


async def seed_fields(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post("/__sandbox__/seed", json={"custom_fields": CUSTOM_FIELDS})
    assert response.status_code == 200, response.text
    ids: dict[str, str] = response.json()["custom_fields"]
    return ids


async def create(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    return await client.post(f"{API}/issue", json={"fields": issue_fields(**fields)})


# -- custom fields -------------------------------------------------------------------------------


async def test_seeding_custom_fields_answers_their_ids_and_is_idempotent(client: httpx.AsyncClient) -> None:
    ids = await seed_fields(client)
    again = await seed_fields(client)

    assert ids == again
    assert ids["Severity"] == "customfield_10100"
    assert all(i.startswith("customfield_") for i in ids.values()) and len(set(ids.values())) == len(CUSTOM_FIELDS)
    listed = {f["id"]: f for f in (await client.get(f"{API}/field")).json()}
    severity = listed[ids["Severity"]]
    assert severity["custom"] is True
    assert severity["clauseNames"] == ["cf[10100]", "Severity"]
    assert severity["schema"] == {
        "type": "option", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select", "customId": 10100,
    }  # fmt: skip


async def test_a_required_field_must_be_given_on_create(client: httpx.AsyncClient) -> None:
    ids = await seed_fields(client)

    missing = await create(client)
    bug = await create(client, issuetype={"id": "10002"})  # required for Tasks only
    given = await create(client, **{ids["Severity"]: {"value": "S1"}})

    assert missing.status_code == 400
    assert missing.json() == {"errorMessages": [], "errors": {ids["Severity"]: "Severity is required."}}
    assert bug.status_code == 201 and given.status_code == 201
    issue = (await client.get(f"{API}/issue/{given.json()['key']}")).json()
    assert issue["fields"][ids["Severity"]]["value"] == "S1"
    cleared = await client.put(f"{API}/issue/{given.json()['key']}", json={"fields": {ids["Severity"]: None}})
    assert cleared.json()["errors"] == {ids["Severity"]: "Severity is required."}


BAD_VALUES = [
    ("Severity", {"value": "S9"}, "Option value 'S9' is not valid"),
    ("Severity", {"id": "99"}, "Option id '99' is not valid"),
    ("Severity", "S1", "Could not find valid 'id' or 'value' in the Parent Option object."),
    ("Customer", 42, "Operation value must be a string"),
    ("Customer", "x" * 256, "The entered text is too long. It exceeds the allowed limit of 255 characters."),
    ("Notes", "plain text", "Operation value must be an Atlassian Document (see the Atlassian Document Format)"),
    ("Story Points", "five", "Operation value must be a number"),
    ("Platforms", [{"value": "Windows"}], "Option value 'Windows' is not valid"),
    ("Owner", {"accountId": "nobody"}, "Specified user does not exist or you do not have required permissions"),
    ("Go live", "24/12/2026", "Error parsing date string: 24/12/2026"),
    ("Cutover", "tomorrow", "Invalid date format. Please enter the date in the format \"yyyy-MM-dd'T'HH:mm:ss.SSSZ\"."),
    ("Tags", ["has space"], "The label 'has space' contains spaces which is invalid."),
    ("Queue", "outside its context", "Field '{id}' cannot be set. It is not on the appropriate screen, or unknown."),
]


@pytest.mark.parametrize(("name", "value", "message"), BAD_VALUES, ids=[f"{b[0]}-{b[2][:30]}" for b in BAD_VALUES])
async def test_custom_values_are_validated_with_jiras_messages(
    client: httpx.AsyncClient, name: str, value: Any, message: str
) -> None:
    ids = await seed_fields(client)

    response = await create(client, **{ids["Severity"]: {"value": "S1"}} | {ids[name]: value})

    assert response.status_code == 400
    assert response.json()["errors"] == {ids[name]: message.format(id=ids[name])}


async def test_every_custom_type_round_trips(client: httpx.AsyncClient) -> None:
    ids = await seed_fields(client)
    values = {
        "Severity": {"value": "S2"},
        "Customer": "Acme",
        "Notes": adf("Call back"),
        "Story Points": 5,
        "Platforms": [{"value": "iOS"}, {"value": "Android"}],
        "Owner": {"accountId": MIA_ACCOUNT_ID},
        "Go live": "2026-12-24",
        "Cutover": "2026-12-24T10:00:00.000+0000",
        "Tags": ["a", "b"],
    }
    key = (await create(client, **{ids[n]: v for n, v in values.items()})).json()["key"]

    fields = (await client.get(f"{API}/issue/{key}")).json()["fields"]

    assert fields[ids["Severity"]]["value"] == "S2"
    assert fields[ids["Customer"]] == "Acme"
    assert fields[ids["Notes"]] == adf("Call back")
    assert fields[ids["Story Points"]] == 5.0
    assert [o["value"] for o in fields[ids["Platforms"]]] == ["iOS", "Android"]
    assert fields[ids["Owner"]]["accountId"] == MIA_ACCOUNT_ID
    assert fields[ids["Go live"]] == "2026-12-24"
    assert fields[ids["Cutover"]] == "2026-12-24T10:00:00.000+0000"
    assert fields[ids["Tags"]] == ["a", "b"]
    assert ids["Queue"] not in fields  # not in DEMO's contexts
    edited = await client.put(f"{API}/issue/{key}", json={"fields": {ids["Customer"]: "Globex"}})
    assert edited.status_code == 204
    changelog = (await client.get(f"{API}/issue/{key}/changelog")).json()["values"]
    assert [(i["field"], i["fieldtype"], i["fromString"], i["toString"]) for i in changelog[0]["items"]] == [
        ("Customer", "custom", "Acme", "Globex")
    ]


async def test_createmeta_and_editmeta_report_custom_fields(client: httpx.AsyncClient) -> None:
    ids = await seed_fields(client)

    task = (await client.get(f"{API}/issue/createmeta/DEMO/issuetypes/10001")).json()["fields"]
    bug = (await client.get(f"{API}/issue/createmeta/DEMO/issuetypes/10002")).json()["fields"]
    ops = (await client.get(f"{API}/issue/createmeta/OPS/issuetypes/10001")).json()["fields"]
    severity = next(f for f in task if f["fieldId"] == ids["Severity"])

    assert severity["required"] is True
    assert [v["value"] for v in severity["allowedValues"]] == ["S1", "S2"]
    assert next(f for f in bug if f["fieldId"] == ids["Severity"])["required"] is False
    assert ids["Queue"] not in {f["fieldId"] for f in task} and ids["Queue"] in {f["fieldId"] for f in ops}
    key = (await create(client, **{ids["Severity"]: {"value": "S1"}})).json()["key"]
    editmeta = (await client.get(f"{API}/issue/{key}", params={"expand": "editmeta"})).json()["editmeta"]["fields"]
    assert editmeta[ids["Severity"]]["required"] is True
    assert editmeta[ids["Platforms"]]["operations"] == ["set"]  # only `set` is emulated for custom fields


async def test_a_bad_custom_field_seed_is_refused(client: httpx.AsyncClient) -> None:
    no_options = await client.post("/__sandbox__/seed", json={"custom_fields": [{"name": "X", "type": "select"}]})
    bad_type = await client.post("/__sandbox__/seed", json={"custom_fields": [{"name": "X", "type": "cascade"}]})
    bad_project = await client.post(
        "/__sandbox__/seed", json={"custom_fields": [{"name": "X", "type": "text", "required": [{"project": "NOPE"}]}]}
    )

    assert no_options.status_code == 400 and "needs options" in no_options.text
    assert bad_type.status_code in (400, 422)
    assert bad_project.status_code == 400 and "NOPE" in bad_project.text


# -- components, versions, resolutions -----------------------------------------------------------


async def test_components_versions_and_resolutions(client: httpx.AsyncClient) -> None:
    seed = {
        "components": [{"project": "DEMO", "name": "Backend"}],
        "versions": [{"project": "DEMO", "name": "1.0", "released": True, "release_date": "2026-11-01"}],
    }
    await client.post("/__sandbox__/seed", json=seed)
    components = (await client.get(f"{API}/project/DEMO/components")).json()
    versions = (await client.get(f"{API}/project/DEMO/versions")).json()

    key = (
        await create(client, components=[{"name": "Backend"}], fixVersions=[{"id": versions[0]["id"]}], versions=[])
    ).json()["key"]
    unknown = await create(client, components=[{"name": "Nope"}])
    fields = (await client.get(f"{API}/issue/{key}", params={"fields": "components,fixVersions,versions"})).json()

    assert [c["name"] for c in components] == ["Backend"]
    assert versions[0]["released"] is True and versions[0]["releaseDate"] == "2026-11-01"
    assert fields["fields"]["components"][0]["name"] == "Backend"
    assert fields["fields"]["fixVersions"][0]["name"] == "1.0"
    assert fields["fields"]["versions"] == []
    assert unknown.json()["errors"] == {"components": "Component name 'Nope' is not valid"}
    assert [r["name"] for r in (await client.get(f"{API}/resolution")).json()] == [
        "Done", "Won't Do", "Duplicate", "Cannot Reproduce",
    ]  # fmt: skip
    assert (await client.get(f"{API}/project/OPS/components")).json() == []


async def test_a_transition_screen_sets_the_resolution(client: httpx.AsyncClient) -> None:
    for transition in ("11", "21"):
        await client.post(f"{API}/issue/DEMO-1/transitions", json={"transition": {"id": transition}})
    body = {"transition": {"id": "31"}, "fields": {"resolution": {"name": "Won't Do"}}}
    assert (await client.post(f"{API}/issue/DEMO-1/transitions", json=body)).status_code == 204

    fields = (await client.get(f"{API}/issue/DEMO-1", params={"fields": "resolution"})).json()["fields"]
    refused = await client.put(f"{API}/issue/DEMO-1", json={"fields": {"resolution": {"name": "Done"}}})

    assert fields["resolution"]["name"] == "Won't Do"
    assert refused.json()["errors"] == {
        "resolution": "Field 'resolution' cannot be set. It is not on the appropriate screen, or unknown."
    }


# -- links -----------------------------------------------------------------------------------------


async def test_issue_links_create_read_delete(client: httpx.AsyncClient) -> None:
    body = {"type": {"name": "Blocks"}, "inwardIssue": {"key": "DEMO-1"}, "outwardIssue": {"key": "DEMO-2"}}
    created = await client.post(f"{API}/issueLink", json=body)
    again = await client.post(f"{API}/issueLink", json=body)

    inward = (await client.get(f"{API}/issue/DEMO-1", params={"fields": "issuelinks"})).json()["fields"]["issuelinks"]
    outward = (await client.get(f"{API}/issue/DEMO-2", params={"fields": "issuelinks"})).json()["fields"]["issuelinks"]
    link_id = inward[0]["id"]
    link = (await client.get(f"{API}/issueLink/{link_id}")).json()

    assert created.status_code == 201 and created.content == b"" and again.status_code == 201
    assert len(inward) == 1 and inward[0]["outwardIssue"]["key"] == "DEMO-2" and "inwardIssue" not in inward[0]
    assert outward[0]["inwardIssue"]["key"] == "DEMO-1" and outward[0]["type"]["inward"] == "is blocked by"
    assert (link["inwardIssue"]["key"], link["outwardIssue"]["key"], link["type"]["name"]) == (
        "DEMO-1",
        "DEMO-2",
        "Blocks",
    )
    changelog = (await client.get(f"{API}/issue/DEMO-2/changelog")).json()["values"]
    assert changelog[0]["items"][0]["toString"] == "This issue is blocked by DEMO-1"
    assert (await client.delete(f"{API}/issueLink/{link_id}")).status_code == 204
    assert (await client.get(f"{API}/issueLink/{link_id}")).status_code == 404
    assert (await client.get(f"{API}/issue/DEMO-1", params={"fields": "issuelinks"})).json()["fields"][
        "issuelinks"
    ] == []


async def test_link_refusals(client: httpx.AsyncClient) -> None:
    unknown_type = {"type": {"name": "Causes"}, "inwardIssue": {"key": "DEMO-1"}, "outwardIssue": {"key": "DEMO-2"}}
    itself = {"type": {"id": "10003"}, "inwardIssue": {"key": "DEMO-1"}, "outwardIssue": {"key": "DEMO-1"}}
    missing = {"type": {"id": "10003"}, "inwardIssue": {"key": "DEMO-1"}, "outwardIssue": {"key": "DEMO-99"}}

    assert (await client.post(f"{API}/issueLink", json=unknown_type)).json()["errorMessages"] == [
        "No issue link type with name 'Causes' found."
    ]
    assert (await client.post(f"{API}/issueLink", json=itself)).status_code == 400
    assert (await client.post(f"{API}/issueLink", json=missing)).status_code == 404
    types = (await client.get(f"{API}/issueLinkType")).json()["issueLinkTypes"]
    assert [t["name"] for t in types] == ["Blocks", "Cloners", "Duplicate", "Relates"]
    assert (await client.get(f"{API}/issueLinkType/10003")).json()["outward"] == "relates to"
    assert (await client.get(f"{API}/issueLinkType/1")).status_code == 404


async def test_deleting_an_issue_removes_its_links(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)
    body = {"type": {"name": "Relates"}, "inwardIssue": {"key": key}, "outwardIssue": {"key": "DEMO-2"}}
    await client.post(f"{API}/issueLink", json=body)

    await client.delete(f"{API}/issue/{key}")

    links = (await client.get(f"{API}/issue/DEMO-2", params={"fields": "issuelinks"})).json()["fields"]["issuelinks"]
    assert links == []


# -- watchers --------------------------------------------------------------------------------------


async def test_watchers(client: httpx.AsyncClient) -> None:
    key = await create_issue(client)

    created = (await client.get(f"{API}/issue/{key}/watchers")).json()
    added = await client.post(f"{API}/issue/{key}/watchers", json=MIA_ACCOUNT_ID)
    outsider = await client.post("/rest/api/3/issue/OPS-1/watchers", json=OUTSIDER_ACCOUNT_ID)
    after = (await client.get(f"{API}/issue/{key}/watchers")).json()
    removed = await client.delete(f"{API}/issue/{key}/watchers", params={"accountId": DEMO_ACCOUNT_ID})
    no_id = await client.delete(f"{API}/issue/{key}/watchers")
    watches = (await client.get(f"{API}/issue/{key}", params={"fields": "watches"})).json()["fields"]["watches"]

    assert (created["watchCount"], created["isWatching"]) == (1, True)  # the reporter watches
    assert added.status_code == 204 and outsider.status_code == 404
    assert [w["accountId"] for w in after["watchers"]] == [DEMO_ACCOUNT_ID, MIA_ACCOUNT_ID]
    assert removed.status_code == 204 and no_id.status_code == 400
    assert watches == {"self": f"http://jira.test{API}/issue/{key}/watchers", "watchCount": 1, "isWatching": False}


# -- attachments ---------------------------------------------------------------------------------


async def test_attachments_upload_read_download_delete(client: httpx.AsyncClient) -> None:
    files = [("file", ("a.txt", b"hello", "text/plain")), ("file", ("b.png", b"\x89PNG", "image/png"))]

    no_token = await client.post(f"{API}/issue/DEMO-1/attachments", files=files)
    uploaded = await client.post(f"{API}/issue/DEMO-1/attachments", files=files, headers=NO_CHECK)
    first = uploaded.json()[0]
    meta = (await client.get(f"{API}/attachment/{first['id']}")).json()
    content = await client.get(f"{API}/attachment/content/{first['id']}")
    listed = (await client.get(f"{API}/issue/DEMO-1", params={"fields": "attachment"})).json()["fields"]["attachment"]

    assert no_token.status_code == 403 and no_token.json()["errorMessages"] == ["XSRF check failed"]
    assert uploaded.status_code == 200
    assert [(a["filename"], a["size"], a["mimeType"]) for a in uploaded.json()] == [
        ("a.txt", 5, "text/plain"), ("b.png", 4, "image/png"),
    ]  # fmt: skip
    assert meta["content"] == f"http://jira.test{API}/attachment/content/{first['id']}"
    assert content.content == b"hello" and content.headers["content-type"].startswith("text/plain")
    assert len(listed) == 2
    assert (await client.delete(f"{API}/attachment/{first['id']}")).status_code == 204
    assert (await client.get(f"{API}/attachment/{first['id']}")).status_code == 404
    history = (await client.get(f"{API}/issue/DEMO-1/changelog")).json()["values"]
    assert [(i["field"], i["toString"]) for i in history[0]["items"]] == [
        ("Attachment", "a.txt"),
        ("Attachment", "b.png"),
    ]
    assert history[1]["items"][0]["fromString"] == "a.txt"
    assert (await client.get(f"{API}/attachment/meta")).json() == {"enabled": True, "uploadLimit": ATTACHMENT_MAX_BYTES}


async def test_attachment_limits_and_shapes(client: httpx.AsyncClient) -> None:
    too_big = [("file", ("big.bin", b"x" * (ATTACHMENT_MAX_BYTES + 1), "application/octet-stream"))]

    big = await client.post(f"{API}/issue/DEMO-1/attachments", files=too_big, headers=NO_CHECK)
    json_body = await client.post(f"{API}/issue/DEMO-1/attachments", json={}, headers=NO_CHECK)
    wrong_part = await client.post(
        f"{API}/issue/DEMO-1/attachments", files=[("upload", ("a.txt", b"x", "text/plain"))], headers=NO_CHECK
    )
    missing = await client.post(f"{API}/issue/DEMO-99/attachments", files=[("file", ("a", b"x"))], headers=NO_CHECK)

    assert big.status_code == 413
    assert json_body.status_code == 415
    assert wrong_part.status_code == 400
    assert missing.status_code == 404


# -- worklogs --------------------------------------------------------------------------------------


async def test_worklogs(client: httpx.AsyncClient) -> None:
    logged = await client.post(
        f"{API}/issue/DEMO-1/worklog",
        json={"timeSpent": "1d 2h", "started": "2026-11-30T09:00:00.000+0000", "comment": adf("Debugging")},
    )
    seconds = await client.post(f"{API}/issue/DEMO-1/worklog", json={"timeSpentSeconds": 1800})
    nothing = await client.post(f"{API}/issue/DEMO-1/worklog", json={"timeSpent": "soon"})
    page = (await client.get(f"{API}/issue/DEMO-1/worklog")).json()

    assert logged.status_code == 201
    assert (logged.json()["timeSpent"], logged.json()["timeSpentSeconds"]) == ("1d 2h", 36000)
    assert logged.json()["started"] == "2026-11-30T09:00:00.000+0000"
    assert seconds.json()["timeSpent"] == "30m"
    assert nothing.json()["errors"] == {"timeLogged": "You must indicate the time spent working."}
    assert page["total"] == 2 and [w["timeSpentSeconds"] for w in page["worklogs"]] == [36000, 1800]


async def test_the_site_model_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "site.db"
    config = JiraSandboxConfig(base_url="http://jira.test", search_lag_ms=0, persist_path=path)
    for attempt in range(2):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(create_app(config)),
            base_url="http://jira.test",
            auth=(DEMO_EMAIL, DEMO_API_TOKEN),
        ) as client:
            if attempt == 0:
                ids = await seed_fields(client)
                await create(client, **{ids["Severity"]: {"value": "S2"}, ids["Platforms"]: [{"value": "iOS"}]})
                body = {"type": {"name": "Blocks"}, "inwardIssue": {"key": "DEMO-1"}, "outwardIssue": {"key": "DEMO-4"}}
                await client.post(f"{API}/issueLink", json=body)
                await client.post(
                    f"{API}/issue/DEMO-4/attachments", files={"file": ("a.txt", b"kept")}, headers=NO_CHECK
                )
                await client.post(f"{API}/issue/DEMO-4/worklog", json={"timeSpentSeconds": 60})
                continue
            fields = (await client.get(f"{API}/issue/DEMO-4")).json()["fields"]
            assert fields[ids["Severity"]]["value"] == "S2"
            assert [o["value"] for o in fields[ids["Platforms"]]] == ["iOS"]
            assert fields["issuelinks"][0]["inwardIssue"]["key"] == "DEMO-1"
            assert (await client.get(fields["attachment"][0]["content"])).content == b"kept"
            assert fields["worklog"]["total"] == 1
            found = await client.post(
                f"{API}/search/jql", json={"jql": "Severity = S2 AND issue in linkedIssues(DEMO-1)"}
            )
            assert [i["key"] for i in found.json()["issues"]] == ["DEMO-4"]


# -- the PyPI client -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    yield from serve_in_thread(
        lambda url: create_app(JiraSandboxConfig(base_url=url, in_process=False, search_lag_ms=0))
    )


@pytest.fixture
def jira(server_url: str) -> JIRA:
    httpx.post(f"{server_url}/__sandbox__/reset").raise_for_status()
    return JIRA(server=server_url, basic_auth=(DEMO_EMAIL, DEMO_API_TOKEN), options={"rest_api_version": "3"})


def test_the_client_links_watches_and_attaches(jira: JIRA, tmp_path: Path) -> None:
    jira.create_issue_link("Blocks", "DEMO-1", "DEMO-2")
    jira.add_watcher("DEMO-1", MIA_ACCOUNT_ID)
    path = tmp_path / "report.txt"
    path.write_bytes(b"report body")
    attachment = jira.add_attachment("DEMO-1", str(path))

    issue = jira.issue("DEMO-1")
    watchers = jira.watchers("DEMO-1")

    assert [t.name for t in jira.issue_link_types()] == ["Blocks", "Cloners", "Duplicate", "Relates"]
    assert issue.fields.issuelinks[0].outwardIssue.key == "DEMO-2"
    assert [w.accountId for w in watchers.watchers] == [MIA_ACCOUNT_ID]
    assert attachment.filename == "report.txt" and attachment.size == len(b"report body")
    assert jira.attachment(attachment.id).get() == b"report body"  # type: ignore[no-untyped-call]
    jira.remove_watcher("DEMO-1", MIA_ACCOUNT_ID)
    assert jira.watchers("DEMO-1").watchCount == 0
    jira.delete_issue_link(issue.fields.issuelinks[0].id)
    assert jira.issue("DEMO-1").fields.issuelinks == []
    with pytest.raises(JIRAError) as refused:
        jira.create_issue_link("Causes", "DEMO-1", "DEMO-2")
    assert refused.value.status_code == 404
