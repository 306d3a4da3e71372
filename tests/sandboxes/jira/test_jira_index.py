"""`SearchIndex`: which version of an issue search sees while the index lags, on a clock the test moves."""

from __future__ import annotations

from ticketbridge.sandboxes.jira.demo import build_demo_site
from ticketbridge.sandboxes.jira.index import SearchIndex
from ticketbridge.sandboxes.jira.state import Issue, Site


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lagging_site(clock: Clock, lag_ms: float = 1000) -> tuple[Site, Issue]:
    site = build_demo_site()
    site.index = SearchIndex(lag_ms, clock=clock)
    issue = site.issues[next(iter(site.issues))]
    return site, issue


def rename(site: Site, issue: Issue, summary: str) -> None:
    site.index.before_write(issue)
    issue.summary = summary
    site.reindex(issue)


def seen(site: Site, issue: Issue) -> str | None:
    site.index.settle()
    version = site.index.view(issue)
    return None if version is None else version.summary


def test_writes_reach_search_in_order_each_after_the_lag() -> None:
    clock = Clock()
    site, issue = lagging_site(clock)
    original = issue.summary

    rename(site, issue, "first")
    clock.now += 0.5
    rename(site, issue, "second")

    assert seen(site, issue) == original
    clock.now += 0.5
    assert seen(site, issue) == "first"
    clock.now += 0.5
    assert seen(site, issue) == "second"
    assert site.index.is_current(issue.id) and not site.index.is_behind


def test_the_old_version_keeps_its_search_row() -> None:
    clock = Clock()
    site, issue = lagging_site(clock)
    old_doc = issue.doc

    rename(site, issue, "renamed")
    site.index.settle()
    version = site.index.view(issue)

    assert version is not None and version is not issue
    assert version.doc is old_doc and issue.doc is not old_doc


def test_a_new_issue_is_unseen_until_due_and_settling_bumps_the_version() -> None:
    clock = Clock()
    site, issue = lagging_site(clock)
    site.index.before_write(issue, created=True)
    before = site.index.version

    assert seen(site, issue) is None
    clock.now += 1
    assert seen(site, issue) == issue.summary
    assert site.index.version == before + 1


def test_shortening_the_lag_keeps_write_order_and_zero_catches_up() -> None:
    clock = Clock()
    site, issue = lagging_site(clock, lag_ms=10_000)
    rename(site, issue, "slow")
    site.index.set_lag(1)
    rename(site, issue, "fast")

    clock.now += 1
    assert seen(site, issue) != "fast"  # still queued behind the slow write
    site.index.set_lag(0)
    assert seen(site, issue) == "fast"


def test_no_lag_records_nothing_and_a_deleted_issue_is_forgotten() -> None:
    clock = Clock()
    site, issue = lagging_site(clock, lag_ms=0)
    rename(site, issue, "instant")
    assert not site.index.is_behind

    site.index.set_lag(1000)
    rename(site, issue, "lagging")
    site.remove_issue(issue)

    assert not site.index.is_behind
