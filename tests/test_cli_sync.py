"""`ticketbridge connections sync`: enqueues one sync per connection, and refuses a paused one."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import env, invoke, runner  # noqa: F401 - `env` is a fixture
from ticketbridge.cli import app


def test_sync_enqueues_at_most_one_job_per_connection(env: Path) -> None:  # noqa: F811
    invoke("db", "upgrade")
    org = invoke("orgs", "create", "Acme")
    assert isinstance(org, dict)
    connection = invoke(
        "connections", "create", org["id"], "JIRA", "--base-url", "https://acme.atlassian.net",
        "--email", "bot@acme.example", "--api-token", "token",
    )  # fmt: skip
    assert isinstance(connection, dict)
    first = invoke("connections", "sync", connection["id"])
    again = invoke("connections", "sync", connection["id"])
    assert isinstance(first, dict) and first == again and first["job_id"]

    invoke("connections", "pause", connection["id"])
    refused = runner.invoke(app, ["connections", "sync", connection["id"]])
    assert refused.exit_code == 2 and "paused" in refused.output
