"""The command line: migrations, provisioning, and serve's refusal to run on an old schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from tests.api.test_verification import closed_loopback_url
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from ticketbridge.cli import app
from ticketbridge.sandboxes import jira

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TICKETBRIDGE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TICKETBRIDGE_SECRETS_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("TICKETBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TICKETBRIDGE_LOG_LEVEL", "WARNING")
    return tmp_path


def invoke(*args: str) -> object:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if result.stdout.lstrip().startswith(("{", "[")) else result.stdout


def test_serve_refuses_an_unmigrated_database_when_not_auto_migrating(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETBRIDGE_AUTO_MIGRATE", "false")
    result = runner.invoke(app, ["serve", "--no-worker"])
    assert result.exit_code == 1
    assert "ticketbridge db upgrade" in result.output


def test_provisioning_end_to_end(env: Path) -> None:
    assert "database at" in str(invoke("db", "upgrade"))
    org = invoke("orgs", "create", "Acme")
    assert isinstance(org, dict)
    key = invoke("api-keys", "create", org["id"], "--name", "ci")
    assert isinstance(key, dict) and key["api_key"].startswith("tb_")
    site = closed_loopback_url()  # nothing answers there: the connection is created, not verified
    created = runner.invoke(
        app,
        [
            *("connections", "create", org["id"], "JIRA", "--base-url", site),
            *("--email", "bot@acme.example", "--api-token", "cli-SECRET-token"),
        ],
    )
    assert created.exit_code == 0, created.output
    connection = json.loads(created.stdout)
    assert connection["state"] == "PENDING" and connection["health"]["name"] == "EXECUTION_TIMEOUT"
    assert "not verified: EXECUTION_TIMEOUT" in created.stderr and site in created.stderr
    assert "cli-SECRET-token" not in created.output
    verified = runner.invoke(app, ["connections", "verify", connection["id"]])
    assert verified.exit_code == 1 and json.loads(verified.stdout)["state"] == "PENDING", verified.output
    listed = invoke("connections", "list")
    assert isinstance(listed, list) and [item["id"] for item in listed] == [connection["id"]]
    assert "cli-SECRET-token" not in json.dumps(listed)
    paused = invoke("connections", "pause", connection["id"])
    assert isinstance(paused, dict) and paused["state"] == "PAUSED"
    revoked = invoke("api-keys", "revoke", key["id"])
    assert isinstance(revoked, dict) and revoked["revoked_at"] is not None
    assert "head" in str(invoke("db", "current"))


@pytest.fixture(scope="module")
def jira_url() -> Iterator[str]:
    yield from serve_in_thread(lambda url: jira.create_app(jira.JiraSandboxConfig(base_url=url, in_process=False)))


def test_connections_create_prints_the_verification_outcome(env: Path, jira_url: str) -> None:
    invoke("db", "upgrade")
    org = invoke("orgs", "create", "Acme")
    assert isinstance(org, dict)
    credentials = ["--email", jira.DEMO_EMAIL, "--api-token", jira.DEMO_API_TOKEN]
    created = runner.invoke(app, ["connections", "create", org["id"], "JIRA", "--base-url", jira_url, *credentials])
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["state"] == "ACTIVE"
    assert created.stderr.startswith("verified:")
    wrong = ["--email", jira.DEMO_EMAIL, "--api-token", "wrong-token"]
    refused = runner.invoke(app, ["connections", "create", org["id"], "JIRA", "--base-url", jira_url, *wrong])
    assert refused.exit_code == 0, refused.output
    assert json.loads(refused.stdout)["state"] == "PENDING"
    assert "not verified: UNAUTHORIZED" in refused.stderr and "connections verify" in refused.stderr
    again = runner.invoke(app, ["connections", "verify", json.loads(created.stdout)["id"]])
    assert again.exit_code == 0 and json.loads(again.stdout)["state"] == "ACTIVE", again.output


def test_connection_with_incomplete_credentials_fails_cleanly(env: Path) -> None:
    invoke("db", "upgrade")
    org = invoke("orgs", "create", "Acme")
    assert isinstance(org, dict)
    result = runner.invoke(
        app,
        ["connections", "create", org["id"], "JIRA", "--base-url", "https://x", "--api-token", "SECRET-x"],
    )
    assert result.exit_code == 2
    assert "credentials.__root__" in result.output or "basic auth needs both" in result.output
    assert "SECRET-x" not in result.output
