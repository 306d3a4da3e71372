# Jira's messages are compared verbatim, one per line, so some lines run long.
# ruff: noqa: E501
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ticketbridge.sandboxes.jira.jql import CompiledQuery, JqlError, SearchDoc, compile_jql

#: A Tuesday; the week started on Sunday 2026-02-08.
NOW = datetime(2026, 2, 10, 12, 30, 15, tzinfo=UTC)
OPERATORS = "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."
DATE_FORMATS = (
    "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
    "or a period format e.g. '-5d', '4w 2d'."
)


def make_doc(key: str, **overrides: Any) -> SearchDoc:
    project, _, number = key.partition("-")
    fields: dict[str, Any] = {
        "id": (10000 if project == "ABC" else 10100) + int(number),
        "key": key,
        "project_key": project,
        "project_id": "10000" if project == "ABC" else "10100",
        "summary": f"Issue {key}",
        "text": f"Issue {key}",
        "status_name": "To Do",
        "status_id": "10000",
        "status_category_key": "new",
        "status_category_name": "To Do",
        "issuetype_name": "Bug",
        "issuetype_id": "10001",
        "assignee_account_id": None,
        "reporter_account_id": None,
        "labels": (),
        "priority_name": None,
        "priority_id": None,
        "created": NOW,
        "updated": NOW,
    }
    return SearchDoc(**(fields | overrides))


IN_PROGRESS = {"status_name": "In Progress", "status_id": "3", "status_category_key": "indeterminate"}
DONE = {
    "status_name": "Done",
    "status_id": "10001",
    "status_category_key": "done",
    "status_category_name": "Done",
}
DOCS = [
    make_doc(
        "ABC-1",
        summary="Login page crashes on submit",
        text="Login page crashes on submit. The login form throws an error when users submit.",
        assignee_account_id="alice",
        reporter_account_id="bob",
        labels=("frontend", "urgent"),
        priority_name="High",
        priority_id="2",
        created=NOW - timedelta(days=10),
        updated=NOW - timedelta(hours=1),
    ),
    make_doc(
        "ABC-2",
        **IN_PROGRESS,
        summary="Export issues to CSV",
        text="Export issues to CSV. Exporting tickets to CSV files.",
        issuetype_name="Task",
        issuetype_id="10002",
        reporter_account_id="alice",
        priority_name="Medium",
        priority_id="3",
        created=NOW - timedelta(days=5),
        updated=NOW - timedelta(days=2),
    ),
    make_doc(
        "ABC-10",
        **DONE,
        summary="Classes of service",
        text="Classes of service. Documentation for each class.",
        issuetype_name="Story",
        issuetype_id="10003",
        assignee_account_id="bob",
        reporter_account_id="alice",
        labels=("Backend",),
        created=datetime(2026, 1, 31, 14, 0, 30, tzinfo=UTC),
        updated=NOW - timedelta(minutes=30),
    ),
    make_doc(
        "XYZ-3",
        summary="Database migration failed",
        text="Database migration failed. The full screen migration failed at step 3.",
        assignee_account_id="alice",
        labels=("backend",),
        priority_name="Highest",
        priority_id="1",
        created=NOW - timedelta(weeks=3),
        updated=NOW - timedelta(days=3),
    ),
    make_doc(
        "XYZ-4",
        **IN_PROGRESS,
        summary="Update the dashboard",
        text="Update the dashboard. Requested: make the screen full width.",
        issuetype_name="Task",
        issuetype_id="10002",
        assignee_account_id="carol",
        reporter_account_id="bob",
        labels=("ui",),
        priority_name="Low",
        priority_id="4",
        created=NOW - timedelta(hours=2),
        updated=NOW - timedelta(minutes=10),
    ),
]
ALL = {doc.key for doc in DOCS}
KNOWN = {
    "project": {"abc", "10000", "xyz", "10100"},
    "status": {"to do", "10000", "in progress", "3", "done", "10001"},
    "issuetype": {"bug", "10001", "task", "10002", "story", "10003"},
    "priority": {"highest", "1", "high", "2", "medium", "3", "low", "4", "lowest", "5"},
}


def compile_query(
    jql: str, *, account: str | None = "alice", known: Mapping[str, set[str]] | None = None
) -> CompiledQuery:
    return compile_jql(jql, current_account_id=account, now=NOW, known_values=known)


def ordered(jql: str, docs: Sequence[SearchDoc] = DOCS, **options: Any) -> list[str]:
    return [doc.key for doc in compile_query(jql, **options).apply(docs)]


def matching(jql: str, **options: Any) -> set[str]:
    return set(ordered(jql, **options))


def refusal(jql: str, known: Mapping[str, set[str]] | None = None) -> list[str]:
    with pytest.raises(JqlError) as raised:
        compile_query(jql, known=known)
    return raised.value.messages


# Fields and operators


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("project = ABC", {"ABC-1", "ABC-2", "ABC-10"}),
        ("project = abc", {"ABC-1", "ABC-2", "ABC-10"}),
        ("project = 10100", {"XYZ-3", "XYZ-4"}),
        ("project != ABC", {"XYZ-3", "XYZ-4"}),
        ("project in (xyz, 10000)", ALL),
        ("project not in (XYZ)", {"ABC-1", "ABC-2", "ABC-10"}),
        ("project is EMPTY", set()),
        ("project is not EMPTY", ALL),
        ("status = Done", {"ABC-10"}),
        ('status = "in progress"', {"ABC-2", "XYZ-4"}),
        ("status = 10000", {"ABC-1", "XYZ-3"}),
        ("status not in (Done, 3)", {"ABC-1", "XYZ-3"}),
        ("statusCategory = done", {"ABC-10"}),
        ('statusCategory = "In Progress"', {"ABC-2", "XYZ-4"}),
        ("statusCategory in (2, 3)", {"ABC-1", "XYZ-3", "ABC-10"}),
        ('statusCategory != "To Do"', {"ABC-2", "XYZ-4", "ABC-10"}),
        ("issuetype = bug", {"ABC-1", "XYZ-3"}),
        ("type = 10002", {"ABC-2", "XYZ-4"}),
        ('"issue type" in (Story, Task)', {"ABC-2", "ABC-10", "XYZ-4"}),
        ("issuetype != Bug", {"ABC-2", "ABC-10", "XYZ-4"}),
    ],
)
def test_named_fields_match_by_name_or_id_case_insensitively(jql: str, expected: set[str]) -> None:
    assert matching(jql) == expected


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("key = abc-2", {"ABC-2"}),
        ("issuekey = 10103", {"XYZ-3"}),
        ("id in (10001, XYZ-4)", {"ABC-1", "XYZ-4"}),
        ("issue != ABC-1", ALL - {"ABC-1"}),
        ("key not in (ABC-1, ABC-2)", {"ABC-10", "XYZ-3", "XYZ-4"}),
        # Ranges compare numbers within the project named, not strings.
        ("key > ABC-2", {"ABC-10"}),
        ("key >= ABC-2", {"ABC-2", "ABC-10"}),
        ("key < ABC-10", {"ABC-1", "ABC-2"}),
        ("key <= XYZ-3", {"XYZ-3"}),
        ("id > 10100", {"XYZ-3", "XYZ-4"}),
    ],
)
def test_key_and_id_are_one_field(jql: str, expected: set[str]) -> None:
    assert matching(jql) == expected


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("assignee = currentUser()", {"ABC-1", "XYZ-3"}),
        ("assignee = bob", {"ABC-10"}),
        ("assignee in (bob, carol)", {"ABC-10", "XYZ-4"}),
        ("assignee is EMPTY", {"ABC-2"}),
        ("assignee = null", {"ABC-2"}),
        ("assignee is not EMPTY", ALL - {"ABC-2"}),
        ("assignee != EMPTY", ALL - {"ABC-2"}),
        ("assignee in (EMPTY, bob)", {"ABC-2", "ABC-10"}),
        # Jira's != and NOT IN never match an empty field.
        ("assignee != alice", {"ABC-10", "XYZ-4"}),
        ("assignee not in (currentUser(), bob)", {"XYZ-4"}),
        ("reporter = currentUser()", {"ABC-2", "ABC-10"}),
        ("reporter is EMPTY", {"XYZ-3"}),
        ("reporter != bob", {"ABC-2", "ABC-10"}),
    ],
)
def test_user_fields(jql: str, expected: set[str]) -> None:
    assert matching(jql) == expected


def test_current_user_matches_nothing_for_an_anonymous_caller() -> None:
    assert matching("assignee = currentUser()", account=None) == set()
    assert matching("assignee in (currentUser(), EMPTY)", account=None) == {"ABC-2"}


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("labels = backend", {"ABC-10", "XYZ-3"}),
        ("labels in (urgent, ui)", {"ABC-1", "XYZ-4"}),
        ("labels != backend", {"ABC-1", "XYZ-4"}),
        ("labels not in (frontend, ui)", {"ABC-10", "XYZ-3"}),
        ("labels is EMPTY", {"ABC-2"}),
        ("labels is not EMPTY", ALL - {"ABC-2"}),
        ("labels in (EMPTY, ui)", {"ABC-2", "XYZ-4"}),
    ],
)
def test_labels(jql: str, expected: set[str]) -> None:
    assert matching(jql) == expected


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("priority = high", {"ABC-1"}),
        ("priority in (1, Low)", {"XYZ-3", "XYZ-4"}),
        ("priority != Medium", {"ABC-1", "XYZ-3", "XYZ-4"}),
        ("priority is EMPTY", {"ABC-10"}),
        ("priority = EMPTY", {"ABC-10"}),
        ("priority > Medium", {"ABC-1", "XYZ-3"}),
        ("priority >= medium", {"ABC-1", "ABC-2", "XYZ-3"}),
        ("priority < 3", {"XYZ-4"}),
        ("priority <= High", {"ABC-1", "ABC-2", "XYZ-4"}),
    ],
)
def test_priority_by_name_id_and_rank(jql: str, expected: set[str]) -> None:
    assert matching(jql) == expected


# Dates


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ('created = "2026-01-31 14:00"', {"ABC-10"}),  # 14:00:30 is inside the minute
        ('created = "2026/01/31 14:00"', {"ABC-10"}),
        ('created != "2026-01-31 14:00"', ALL - {"ABC-10"}),
        ('created > "2026-01-31 14:00"', {"ABC-2", "XYZ-4"}),
        ('created <= "2026-01-31 14:00"', {"ABC-1", "ABC-10", "XYZ-3"}),
        ("created >= 2026-01-31", {"ABC-1", "ABC-2", "ABC-10", "XYZ-4"}),
        ('created < "2026/01/31"', {"XYZ-3"}),
        ('created in ("2026-01-31 14:00", "2026-02-10 10:30")', {"ABC-10", "XYZ-4"}),
        ('created not in ("2026-01-31 14:00")', ALL - {"ABC-10"}),
        ("createdDate >= -1w", {"ABC-2", "XYZ-4"}),
        ("created < -2w", {"XYZ-3"}),
        ("created >= -4d", {"XYZ-4"}),
        ("created >= -3h", {"XYZ-4"}),
        ("created >= -90m", set()),
        ("created >= -150m", {"XYZ-4"}),
        ('created >= "-1w 3d"', {"ABC-1", "ABC-2", "ABC-10", "XYZ-4"}),
        ("created > 1d", set()),
        ("updated >= -15m", {"XYZ-4"}),
        ("updatedDate < -1d", {"ABC-2", "XYZ-3"}),
    ],
)
def test_dates_absolute_and_relative(jql: str, expected: set[str]) -> None:
    assert matching(jql) == expected


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("created >= startOfDay()", {"XYZ-4"}),
        ("created >= startOfDay(-5)", {"ABC-2", "XYZ-4"}),
        ('created >= startOfDay("-5d")', {"ABC-2", "XYZ-4"}),
        ("created < endOfDay(-1d)", ALL - {"XYZ-4"}),
        ("updated >= startOfWeek()", ALL - {"XYZ-3"}),  # weeks start on Sunday
        ("created >= startOfMonth()", {"ABC-2", "XYZ-4"}),
        ("created >= startOfMonth(-1M)", ALL),
        ("created < startOfMonth(-1)", set()),
        ("created <= endOfMonth()", ALL),
        ("created >= startOfYear()", ALL),
        ("created > endOfYear(-1y)", ALL),
        ("created > now()", set()),
        ("created <= now()", ALL),
    ],
)
def test_date_functions(jql: str, expected: set[str]) -> None:
    assert matching(jql) == expected


# Text


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("summary ~ login", {"ABC-1"}),
        ("summary ~ LOGIN", {"ABC-1"}),
        ("summary ~ crash", {"ABC-1"}),  # "crashes"
        ('summary ~ "issue"', {"ABC-2"}),  # "issues"
        ("summary ~ class", {"ABC-10"}),  # "Classes"
        ("summary ~ port", set()),  # whole words, not substrings of "Export"
        ('summary ~ "dash*"', {"XYZ-4"}),
        ('summary ~ "d?shboard"', {"XYZ-4"}),
        ('summary ~ "crashes login"', {"ABC-1"}),  # every word, in any order
        ('summary ~ "login dashboard"', set()),
        ('summary ~ "a dashboard"', {"XYZ-4"}),  # stop words are ignored
        ("summary !~ login", ALL - {"ABC-1"}),
        ("summary ~ form", set()),
        ("text ~ form", {"ABC-1"}),
        ("text ~ documentation", {"ABC-10"}),
        ('text ~ "full screen"', {"XYZ-3", "XYZ-4"}),
        ('text ~ "\\"full screen\\""', {"XYZ-3"}),  # a phrase: the words in sequence
        ("text ~ '\"screen full\"'", {"XYZ-4"}),
    ],
)
def test_text_search_is_word_based(jql: str, expected: set[str]) -> None:
    assert matching(jql) == expected


# Boolean structure


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        # AND binds tighter than OR.
        ("project = XYZ OR project = ABC AND assignee = alice", {"ABC-1", "XYZ-3", "XYZ-4"}),
        ("(project = XYZ OR project = ABC) AND assignee = alice", {"ABC-1", "XYZ-3"}),
        # NOT binds tighter than AND.
        ("NOT project = ABC AND assignee = alice", {"XYZ-3"}),
        # NOT reaches the clauses, so != leaves out the unassigned ABC-2.
        ("NOT (project = ABC AND assignee = alice)", {"ABC-10", "XYZ-3", "XYZ-4"}),
        ("not (status = Done or priority is EMPTY)", ALL - {"ABC-10"}),
        ("NOT NOT project = XYZ", {"XYZ-3", "XYZ-4"}),
        ("NOT created > -1w", {"ABC-1", "ABC-10", "XYZ-3"}),
        ("NOT summary ~ login", ALL - {"ABC-1"}),
        ("project = ABC && !(assignee = alice) || key = XYZ-4", {"ABC-10", "XYZ-4"}),
        ("project = ABC & labels is EMPTY | priority = Highest", {"ABC-2", "XYZ-3"}),
        ("((project = ABC) and ((status = Done)))", {"ABC-10"}),
    ],
)
def test_precedence_and_parentheses(jql: str, expected: set[str]) -> None:
    assert matching(jql) == expected


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("project = \"ABC\" AND status = 'to do'", {"ABC-1"}),
        ('"Project" = abc and "STATUS" = "Done"', {"ABC-10"}),
        ("PROJECT IN (abc) AnD Status Not In (done) oR KEY = xyz-4", {"ABC-1", "ABC-2", "XYZ-4"}),
        ("status = 'To\\u0020Do'", {"ABC-1", "XYZ-3"}),
        ("status = To\\ Do", {"ABC-1", "XYZ-3"}),
        ('status = "In\\tProgress"', set()),
        ("status in ('In Progress', \"Done\")", {"ABC-2", "ABC-10", "XYZ-4"}),
        ('labels = "front\\u0065nd"', {"ABC-1"}),
        ("project=ABC AND status!=Done AND summary~login", {"ABC-1"}),
        ("project = ABC\nAND\tassignee = bob", {"ABC-10"}),
    ],
)
def test_quoting_escapes_and_case(jql: str, expected: set[str]) -> None:
    assert matching(jql) == expected


def test_matches_agrees_with_apply() -> None:
    query = compile_query("assignee = currentUser() OR labels = ui")
    assert {doc.key for doc in DOCS if query.matches(doc)} == {"ABC-1", "XYZ-3", "XYZ-4"}
    assert compile_query("").matches(DOCS[0])


# Ordering


def test_no_order_by_is_newest_first_then_key_descending() -> None:
    twins = [make_doc("ABC-2"), make_doc("ABC-10"), make_doc("XYZ-1"), make_doc("ABC-9")]
    assert ordered("") == ["XYZ-4", "ABC-2", "ABC-10", "ABC-1", "XYZ-3"]
    assert ordered("project = ABC") == ["ABC-2", "ABC-10", "ABC-1"]
    assert ordered("", twins) == ["XYZ-1", "ABC-10", "ABC-9", "ABC-2"]
    assert compile_query("project = ABC").order_by == [("created", True), ("key", True)]


@pytest.mark.parametrize(
    ("jql", "expected"),
    [
        ("ORDER BY key", ["ABC-1", "ABC-2", "ABC-10", "XYZ-3", "XYZ-4"]),
        ("order by issuekey desc", ["XYZ-4", "XYZ-3", "ABC-10", "ABC-2", "ABC-1"]),
        ("ORDER BY id DESC", ["XYZ-4", "XYZ-3", "ABC-10", "ABC-2", "ABC-1"]),
        ("ORDER BY created ASC", ["XYZ-3", "ABC-1", "ABC-10", "ABC-2", "XYZ-4"]),
        ("ORDER BY updated", ["XYZ-4", "ABC-10", "ABC-1", "ABC-2", "XYZ-3"]),  # dates default to DESC
        ("ORDER BY priority", ["XYZ-3", "ABC-1", "ABC-2", "XYZ-4", "ABC-10"]),  # highest first, empty last
        ("ORDER BY priority ASC", ["ABC-10", "XYZ-4", "ABC-2", "ABC-1", "XYZ-3"]),
        ("ORDER BY status ASC, key DESC", ["ABC-10", "XYZ-4", "ABC-2", "XYZ-3", "ABC-1"]),
        ("ORDER BY statusCategory, key", ["ABC-1", "XYZ-3", "ABC-2", "XYZ-4", "ABC-10"]),
        ("ORDER BY summary", ["ABC-10", "XYZ-3", "ABC-2", "ABC-1", "XYZ-4"]),
        ("ORDER BY type, project DESC, key", ["XYZ-3", "ABC-1", "ABC-10", "XYZ-4", "ABC-2"]),
        ("ORDER BY assignee, key", ["ABC-2", "ABC-1", "XYZ-3", "ABC-10", "XYZ-4"]),  # unassigned first
        ("ORDER BY reporter DESC, key", ["ABC-1", "XYZ-4", "ABC-2", "ABC-10", "XYZ-3"]),
        ("assignee is not EMPTY ORDER BY updatedDate ASC", ["XYZ-3", "ABC-1", "ABC-10", "XYZ-4"]),
    ],
)
def test_order_by(jql: str, expected: list[str]) -> None:
    assert ordered(jql) == expected


def test_order_by_reports_the_effective_directions() -> None:
    query = compile_query("project = ABC ORDER BY priority, key DESC, summary, createdDate")
    assert query.order_by == [("priority", True), ("key", True), ("summary", False), ("created", True)]


# Refusals


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = ABC status", "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'status'. (line 1, character 15)"),
        ("project = ABC AND", "Error in the JQL Query: Expecting a field name at the end of the query."),
        ("project = ABC AND )", "Error in the JQL Query: Expecting a field name but got ')'. You must surround ')' in quotation marks to use it as a field name. (line 1, character 19)"),
        ("project", f"Error in the JQL Query: Expecting operator before the end of the query. {OPERATORS}"),
        ("project ABC", f"Error in the JQL Query: Expecting operator but got 'ABC'. {OPERATORS} (line 1, character 9)"),
        ("project =", "Error in JQL Query: Expecting either a value, list or function before the end of the query."),
        ("project = ABC AND status = = Done", "Error in JQL Query: Expecting either a value, list or function but got '='. You must surround '=' in quotation marks to use it as a value. (line 1, character 28)"),
        ("project = OR", "Error in JQL Query: Expecting either a value, list or function but got 'OR'. You must surround 'OR' in quotation marks to use it as a value. (line 1, character 11)"),
        ("project = ABC\nAND status = )", "Error in JQL Query: Expecting either a value, list or function but got ')'. You must surround ')' in quotation marks to use it as a value. (line 2, character 14)"),
        ("(project = ABC", "Error in the JQL Query: Expecting ')' before the end of the query."),
        ("(project = ABC) )", "Error in the JQL Query: Expecting either 'OR' or 'AND' but got ')'. (line 1, character 17)"),
        ("project in (ABC, XYZ", "Error in the JQL Query: Expecting ')' before the end of the query."),
        ("project in (ABC XYZ)", "Error in the JQL Query: Expecting either ',' or ')' but got 'XYZ'. (line 1, character 17)"),
        ('summary ~ "abc', "Error in the JQL Query: The quoted string 'abc' has not been completed. (line 1, character 11)"),
        ("labels = foo@bar", "Error in the JQL Query: The character '@' is a reserved JQL character. You must enclose it in a string or use the escape '\\u0040' instead. (line 1, character 13)"),
        ("project = for", "Error in the JQL Query: 'for' is a reserved JQL word. You must surround it in quotation marks to use it in a query. (line 1, character 11)"),
        ("select = 1", "Error in the JQL Query: 'select' is a reserved JQL word. You must surround it in quotation marks to use it in a query. (line 1, character 1)"),
        ('labels = "a\\qb"', "Error in the JQL Query: '\\q' is an illegal JQL escape sequence. The valid escape sequences are \\', \\\", \\t, \\n, \\r, \\\\, '\\ ' and \\uXXXX. (line 1, character 12)"),
        ("project = ABC ORDER key", "Error in the JQL Query: Expecting 'BY' but got 'key'. (line 1, character 21)"),
        ("project = ABC ORDER BY", "Error in the JQL Query: Expecting a field name at the end of the query."),
        ("ORDER BY key foo", "Error in the JQL Query: Expecting either 'ASC' or 'DESC' but got 'foo'. (line 1, character 14)"),
        ("ORDER BY key ASC foo", "Error in the JQL Query: Expecting ',' but got 'foo'. (line 1, character 18)"),
        ("status was", "Error in JQL Query: Expecting either a value, list or function before the end of the query."),
    ],
)  # fmt: skip
def test_syntax_errors_carry_jira_wording_and_position(jql: str, message: str) -> None:
    assert refusal(jql) == [message]


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("colour = red", "Field 'colour' does not exist or you do not have permission to view it."),
        ("project = ABC ORDER BY labels", "Not able to sort using field 'labels'."),
        ("ORDER BY text", "Not able to sort using field 'text'."),
        ("project ~ ABC", "The operator '~' is not supported by the 'project' field."),
        ("summary = login", "The operator '=' is not supported by the 'summary' field."),
        ("text !~ login", "The operator '!~' is not supported by the 'text' field."),
        ("status is EMPTY", "The operator 'is' is not supported by the 'status' field."),
        ("summary in test", "Operator 'in' does not support the non-list value '\"test\"' for field 'summary'."),
        ("project = (ABC, XYZ)", "Operator '=' does not support the list value '(\"ABC\", \"XYZ\")' for field 'project'."),
        ("assignee is bob", "The operator 'is' only supports searching for EMPTY values."),
        ("status = EMPTY", "The field 'status' does not support searching for EMPTY values."),
        ("key in (ABC-1, null)", "The field 'key' does not support searching for EMPTY values."),
        ("summary ~ EMPTY", "The field 'summary' does not support searching for EMPTY values."),
        ("created > EMPTY", "The operator '>' does not support searching for EMPTY values on the field 'created'."),
        ("key = 12abc", "The issue key '12abc' for field 'key' is invalid."),
        ("assignee = membersOf(devs)", "Function 'membersOf' can not generate a list of usernames for group 'devs'; the group does not exist."),
        ("assignee = issueHistory()", "Unable to find JQL function 'issueHistory()'."),
        ("status = currentUser()", "A value provided by the function 'currentUser' is invalid for the field 'status'."),
        ("summary ~ now()", "A value provided by the function 'now' is invalid for the field 'summary'."),
        ("created > currentUser()", "A value provided by the function 'currentUser' is invalid for the field 'created'."),
        ("created > now(1)", "Function 'now' expected '0' arguments but received '1'."),
        ("created > startOfDay(1, 2)", "Function 'startOfDay' expected between '0' and '1' arguments but received '2'."),
        ('created > startOfMonth("soon")', "Duration for function 'startOfMonth' should have the format (+/-)n(y|M|w|d|h|m), e.g. -1M for one month earlier."),
        ("created > yesterday", f"Date value 'yesterday' for field 'created' is invalid. {DATE_FORMATS}"),
        ("updated < 2026-02-30", f"Date value '2026-02-30' for field 'updated' is invalid. {DATE_FORMATS}"),
        ('created > "4w 2y"', f"Date value '4w 2y' for field 'created' is invalid. {DATE_FORMATS}"),
        ('summary ~ "*port"', "The text query '*port' for field 'summary' is not valid: probably your use of wild cards is incorrect."),
        ('summary ~ ""', "The field 'summary' does not support searching for an empty string."),
    ],
)  # fmt: skip
def test_validation_errors(jql: str, message: str) -> None:
    assert refusal(jql) == [message]


def test_every_validation_error_is_reported_at_once() -> None:
    assert refusal("foo = 1 AND (status = EMPTY OR bar ~ x) ORDER BY baz") == [
        "Field 'foo' does not exist or you do not have permission to view it.",
        "The field 'status' does not support searching for EMPTY values.",
        "Field 'bar' does not exist or you do not have permission to view it.",
        "Not able to sort using field 'baz'.",
    ]


@pytest.mark.parametrize(
    ("jql", "message"),
    [
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ('status in ("To Do", Shipped)', "The value 'Shipped' does not exist for the field 'status'."),
        ("type = Epic", "The value 'Epic' does not exist for the field 'type'."),
        ("priority = Critical", "The value 'Critical' does not exist for the field 'priority'."),
        ("priority > Critical", "The value 'Critical' does not exist for the field 'priority'."),
        ("statusCategory = Blocked", "The value 'Blocked' does not exist for the field 'statusCategory'."),
    ],
)
def test_values_are_checked_against_known_values(jql: str, message: str) -> None:
    assert refusal(jql, known=KNOWN) == [message]


def test_known_values_accept_names_and_ids_in_any_case() -> None:
    jql = "project in (abc, 10100) AND status != DONE AND type in (bug, 10002) AND priority = HIGH"
    assert matching(jql, known=KNOWN) == {"ABC-1"}
    assert matching("labels = anything OR assignee = anyone", known=KNOWN) == set()


def test_users_and_keys_are_checked_when_their_sets_are_given() -> None:
    known = {"user": {"alice", "bob"}, "key": {"abc-1", "abc-2"}}
    assert refusal("assignee in (alice, mallory)", known) == [
        "The value 'mallory' does not exist for the field 'assignee'."
    ]
    assert refusal("key = ABC-99", known) == ["An issue with key 'ABC-99' does not exist for field 'key'."]
    assert matching("key = abc-1 AND assignee = alice AND status = Anything", known=known) == set()


def test_without_known_values_unknown_values_match_nothing() -> None:
    assert matching("project = NOPE OR status = Shipped OR statusCategory = Blocked OR priority > Critical") == set()


# Scale


def test_apply_over_a_hundred_thousand_documents() -> None:
    statuses = [dict(IN_PROGRESS), dict(DONE), {}]
    docs = [
        make_doc(
            f"P{number % 7}-{number}",
            id=number,
            project_id=str(number % 7),
            summary=f"Synthetic issue {number} about {'billing' if number % 10 == 0 else 'login'}",
            assignee_account_id="alice" if number % 3 == 0 else None,
            created=NOW - timedelta(minutes=number),
            **statuses[number % 3],
        )
        for number in range(1, 100_001)
    ]
    simple = compile_query("project = P3 AND status = Done ORDER BY key").apply(docs)
    expected = [doc for doc in docs if doc.project_key == "P3" and doc.status_name == "Done"]
    assert len(simple) == len(expected) > 4000
    assert [doc.key for doc in simple[:2]] == ["P3-10", "P3-31"]
    texts = compile_query("summary ~ billing AND assignee = currentUser() AND created >= -1w").apply(docs)
    assert [doc.id for doc in texts[:3]] == [30, 60, 90]
    assert len(texts) == len([n for n in range(30, 10_081, 30)])
    assert len(compile_query("").apply(docs)) == 100_000


def test_search_doc_keeps_the_documented_fields() -> None:
    assert [field.name for field in dataclasses.fields(SearchDoc)] == [
        "id", "key", "project_key", "project_id", "summary", "text", "status_name", "status_id",
        "status_category_key", "status_category_name", "issuetype_name", "issuetype_id",
        "assignee_account_id", "reporter_account_id", "labels", "priority_name", "priority_id",
        "created", "updated", "resolution_id", "resolution_name", "resolved", "duedate", "components",
        "fix_versions", "affected_versions", "parent_id", "parent_key", "epic_key", "watcher_ids",
        "has_attachments", "links", "sprint_ids", "custom", "rank", "history",
    ]  # fmt: skip
