"""The demo site every fresh sandbox starts with, and bulk generation of issues for benchmarks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ticketbridge.sandboxes.jira.adf import paragraph
from ticketbridge.sandboxes.jira.state import (
    Issue,
    IssueType,
    LinkType,
    Priority,
    Project,
    Resolution,
    Site,
    Status,
    Transition,
    User,
    Workflow,
)

DEMO_EMAIL = "admin@demo.example"
DEMO_API_TOKEN = "demo-api-token"
DEMO_OAUTH_TOKEN = "demo-oauth-access-token"
DEMO_ACCOUNT_ID = "5b10a2844c20165700ede21g"
#: A user of the site who is not a member of the OPS project and has no bulk-change permission.
OUTSIDER_EMAIL = "outsider@demo.example"
OUTSIDER_API_TOKEN = "outsider-api-token"
OUTSIDER_ACCOUNT_ID = "5b10ac8d82e05b22cc7d4ef5"
MIA_ACCOUNT_ID = "5b109f2e9729b51b54dc274d"

DEMO_PROJECT_KEY = "DEMO"
OPS_PROJECT_KEY = "OPS"

TO_DO, IN_PROGRESS, IN_REVIEW, DONE = "10000", "3", "10001", "10002"
TASK, BUG, STORY, EPIC, SUBTASK = "10001", "10002", "10003", "10004", "10005"


def build_demo_site() -> Site:
    site = Site()
    for status in (
        Status(TO_DO, "To Do", "new"),
        Status(IN_PROGRESS, "In Progress", "indeterminate", "This issue is being actively worked on."),
        Status(IN_REVIEW, "In Review", "indeterminate"),
        Status(DONE, "Done", "done"),
    ):
        site.statuses[status.id] = status
    for issue_type in (
        IssueType(TASK, "Task", "A small, distinct piece of work."),
        IssueType(BUG, "Bug", "A problem or error."),
        IssueType(STORY, "Story", "A user story."),
        IssueType(EPIC, "Epic", "A big user story that needs to be broken down.", hierarchy_level=1),
        IssueType(SUBTASK, "Sub-task", "A small piece of a larger task.", subtask=True, hierarchy_level=-1),
    ):
        site.issue_types[issue_type.id] = issue_type
    for priority_id, name, color in (
        ("1", "Highest", "#d04437"),
        ("2", "High", "#f15C75"),
        ("3", "Medium", "#f79232"),
        ("4", "Low", "#707070"),
        ("5", "Lowest", "#999999"),
    ):
        site.priorities[priority_id] = Priority(priority_id, name, f"{name} priority.", color)
    add_site_defaults(site)
    for user in (
        User(DEMO_ACCOUNT_ID, "Demo Admin", DEMO_EMAIL, DEMO_API_TOKEN, DEMO_OAUTH_TOKEN),
        User(MIA_ACCOUNT_ID, "Mia Krystof", "mia@demo.example"),
        User("5b10a0effa615349cb016cd8", "Emma Richards", "emma@demo.example"),
        User(OUTSIDER_ACCOUNT_ID, "Olly Outsider", OUTSIDER_EMAIL, OUTSIDER_API_TOKEN, bulk_change=False),
    ):
        site.users[user.account_id] = user
    site.groups["jira-software-users"] = set(site.users)
    site.groups["site-admins"] = {DEMO_ACCOUNT_ID}
    # Not all-to-all: reaching Done from To Do takes three hops, as on a typical team workflow.
    site.workflows["software"] = Workflow(
        "software",
        "Software Simplified Workflow",
        TO_DO,
        [TO_DO, IN_PROGRESS, IN_REVIEW, DONE],
        [
            Transition(11, "Start Progress", IN_PROGRESS, (TO_DO,)),
            Transition(21, "Request Review", IN_REVIEW, (IN_PROGRESS,)),
            Transition(31, "Done", DONE, (IN_REVIEW,)),
            Transition(41, "Reopen", TO_DO, (DONE,)),
            Transition(51, "Stop Progress", TO_DO, (IN_PROGRESS,)),
            Transition(61, "Back to In Progress", IN_PROGRESS, (IN_REVIEW,)),
        ],
    )
    site.workflows["service"] = Workflow(
        "service",
        "Service Management Workflow",
        TO_DO,
        [TO_DO, IN_PROGRESS, DONE],
        [
            Transition(11, "Start Work", IN_PROGRESS, (TO_DO,)),
            Transition(21, "Resolve", DONE, (IN_PROGRESS,)),
            Transition(31, "Reopen", TO_DO, (DONE,)),
        ],
    )
    site.projects["10000"] = Project(
        "10000",
        DEMO_PROJECT_KEY,
        "Demo",
        "software",
        DEMO_ACCOUNT_ID,
        [TASK, BUG, STORY, EPIC, SUBTASK],
        "software",
    )
    site.projects["10001"] = Project(
        "10001",
        OPS_PROJECT_KEY,
        "Operations",
        "service_desk",
        DEMO_ACCOUNT_ID,
        [TASK, BUG, SUBTASK],
        "service",
        members=frozenset({DEMO_ACCOUNT_ID, MIA_ACCOUNT_ID}),
    )
    now = datetime.now(UTC)
    for summary, project_key, type_id, status_id in (
        ("Checkout page times out", DEMO_PROJECT_KEY, BUG, TO_DO),
        ("Add dark mode", DEMO_PROJECT_KEY, STORY, IN_PROGRESS),
        ("Upgrade the database", DEMO_PROJECT_KEY, TASK, DONE),
        ("VPN access for the new hire", OPS_PROJECT_KEY, TASK, TO_DO),
        ("Printer on floor 2 is jammed", OPS_PROJECT_KEY, BUG, IN_PROGRESS),
    ):
        project = site.project(project_key)
        assert project is not None
        issue_id, key = site.allocate_issue(project)
        site.add_issue(
            Issue(
                issue_id,
                key,
                project.id,
                type_id,
                summary,
                status_id,
                "3",
                MIA_ACCOUNT_ID,
                DEMO_ACCOUNT_ID,
                ("demo",),
                now,
                now,
                now,
                description=paragraph(summary + "."),
            )
        )
    return site


def add_site_defaults(site: Site) -> None:
    """What every Jira Cloud site has from the start: the default resolutions and issue link types."""
    for resolution in (
        Resolution("10000", "Done", "Work has been completed on this issue."),
        Resolution("10001", "Won't Do", "This issue won't be actioned."),
        Resolution("10002", "Duplicate", "The problem is a duplicate of an existing issue."),
        Resolution("10003", "Cannot Reproduce", "This issue could not be reproduced at this time."),
    ):
        site.resolutions.setdefault(resolution.id, resolution)
    for link_type in (
        LinkType("10000", "Blocks", "is blocked by", "blocks"),
        LinkType("10001", "Cloners", "is cloned by", "clones"),
        LinkType("10002", "Duplicate", "is duplicated by", "duplicates"),
        LinkType("10003", "Relates", "relates to", "relates to"),
    ):
        site.link_types.setdefault(link_type.id, link_type)


def generate_issues(site: Site, project: Project, count: int) -> list[Issue]:
    """Adds `count` plain issues in `project`, spread over the last days so ordering is meaningful."""
    workflow = site.workflows[project.workflow_id]
    priorities = list(site.priorities)
    types = [t for t in project.issuetype_ids if not site.issue_types[t].subtask]
    statuses = workflow.status_ids
    reporter = project.lead_account_id
    start = datetime.now(UTC) - timedelta(seconds=count)
    labels = (("generated",), ("generated", "bench"))
    created: list[Issue] = []
    for n in range(count):
        issue_id, key = site.allocate_issue(project)
        stamp = start + timedelta(seconds=n)
        issue = Issue(
            issue_id,
            key,
            project.id,
            types[n % len(types)],
            f"Generated issue {n + 1}",
            statuses[n % len(statuses)],
            priorities[n % len(priorities)],
            None,
            reporter,
            labels[n % 2],
            stamp,
            stamp,
            stamp,
        )
        site.add_issue(issue)
        created.append(issue)
    return created
