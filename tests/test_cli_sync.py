"""`ticketbridge connections sync`: enqueues one sync per connection, and refuses a paused one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from tests.test_cli import env, invoke, runner  # noqa: F401 - `env` is a fixture
from ticketbridge.cli import app
from ticketbridge.sandboxes import jira


@pytest.fixture(scope="module")
def jira_url() -> Iterator[str]:
    """A Jira sandbox on a real socket: a connection is ACTIVE only once the vendor accepted it."""
    yield from serve_in_thread(lambda url: jira.create_app(jira.JiraSandboxConfig(base_url=url, in_process=False)))


def test_sync_enqueues_at_most_one_job_per_connection(env: Path, jira_url: str) -> None:  # noqa: F811
    invoke("db", "upgrade")
    org = invoke("orgs", "create", "Acme")
    assert isinstance(org, dict)
    connection = invoke(
        "connections", "create", org["id"], "JIRA", "--base-url", jira_url,
        "--email", jira.DEMO_EMAIL, "--api-token", jira.DEMO_API_TOKEN,
    )  # fmt: skip
    assert isinstance(connection, dict) and connection["state"] == "ACTIVE"
    first = invoke("connections", "sync", connection["id"])
    again = invoke("connections", "sync", connection["id"])
    assert isinstance(first, dict) and first == again and first["job_id"]

    invoke("connections", "pause", connection["id"])
    refused = runner.invoke(app, ["connections", "sync", connection["id"]])
    assert refused.exit_code == 2 and "paused" in refused.output
