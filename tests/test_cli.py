"""The command line: migrations, provisioning, and serve's refusal to run on an old schema."""

from __future__ import annotations

import asyncio
import json
import sys
import webbrowser
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from starlette.types import ASGIApp
from typer.testing import CliRunner

from tests.api.test_verification import closed_loopback_url
from tests.conftest import SECRETS_KEY, empty_tables
from tests.sandboxes.jira.test_jira_pypi_client import serve_in_thread
from tests.support.processes import free_port
from tests.support.vendor_cases import VENDOR_CASES, VendorCase, cases
from ticketbridge.cli import app
from ticketbridge.enums import Vendor
from ticketbridge.sandboxes import jira, servicenow
from ticketbridge.sandboxes.servicenow.demo import DEMO_PASSWORD, DEMO_USERNAME
from ticketbridge.store.base import create_engine

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


# --- every vendor and credential kind; the OAuth connect flow -----------------------------------


@pytest.fixture
def db_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The suite's migrated database of each backend, emptied afterwards."""
    monkeypatch.setenv("TICKETBRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("TICKETBRIDGE_SECRETS_KEY", SECRETS_KEY)
    monkeypatch.setenv("TICKETBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TICKETBRIDGE_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("TICKETBRIDGE_AUTO_MIGRATE", "false")
    yield database_url

    async def empty() -> None:
        engine = create_engine(database_url)
        await empty_tables(engine)
        await engine.dispose()

    asyncio.run(empty())


@contextmanager
def served(build: Callable[[str], ASGIApp]) -> Iterator[str]:
    """`build(url)` served on a real socket for the block (the CLI reaches vendors over the network)."""
    server = serve_in_thread(build)
    try:
        yield next(server)
    finally:
        next(server, None)


def credential_args(credentials: dict[str, Any]) -> list[str]:
    """`connections create` options for a credentials body: one option per field, named after it."""
    args: list[str] = []
    for field, value in credentials.items():
        flag = f"--{field.replace('_', '-')}"
        args += ([flag] if value else [f"--no-{flag[2:]}"]) if isinstance(value, bool) else [flag, str(value)]
    return args


def secret_values(credentials: dict[str, Any]) -> list[str]:
    return [str(credentials[name]) for name in ("api_token", "client_secret", "password") if name in credentials]


OAUTH_CREDENTIALS = {"client_id": servicenow.DEMO_CLIENT_ID, "client_secret": servicenow.DEMO_CLIENT_SECRET}


@pytest.mark.parametrize(
    ("case", "extra"),
    [*((case, {}) for case in cases()), (VENDOR_CASES[Vendor.SERVICENOW], OAUTH_CREDENTIALS)],
    ids=[*(str(case) for case in cases()), "servicenow-oauth"],
)
def test_connections_create_takes_every_vendors_credentials_from_its_model(
    db_env: str, case: VendorCase, extra: dict[str, Any]
) -> None:
    """The options are the credentials models' fields: each vendor of the registry, and ServiceNow's
    OAuth password grant beside its basic auth, connects and is verified with nothing vendor-specific here."""
    credentials = {**case.credentials, **extra}
    with served(case.standalone) as url:
        org = invoke("orgs", "create", "Acme")
        assert isinstance(org, dict)
        result = runner.invoke(
            app,
            ["connections", "create", org["id"], str(case.vendor), "--base-url", url, *credential_args(credentials)],
        )
        counted = httpx.get(f"{url}/__sandbox__/calls").json()
    assert result.exit_code == 0, result.output
    connection = json.loads(result.stdout)
    assert (connection["vendor"], connection["state"]) == (str(case.vendor), "ACTIVE"), connection
    assert result.stderr.startswith("verified:")
    assert not [secret for secret in secret_values(credentials) if secret in result.output]
    if extra:  # the password grant was used, not basic auth
        assert any("token" in operation for operation in counted), counted


def test_a_secret_option_can_come_from_the_environment(db_env: str) -> None:
    case = VENDOR_CASES[Vendor.SERVICENOW]
    with served(case.standalone) as url:
        org = invoke("orgs", "create", "Acme")
        assert isinstance(org, dict)
        args = ["connections", "create", org["id"], "SERVICENOW", "--base-url", url, "--username", DEMO_USERNAME]
        wrong = runner.invoke(app, args, env={"TICKETBRIDGE_CREDENTIAL_PASSWORD": "not-the-password"})
        right = runner.invoke(app, args, env={"TICKETBRIDGE_CREDENTIAL_PASSWORD": DEMO_PASSWORD})
    assert wrong.exit_code == 0 and json.loads(wrong.stdout)["health"]["name"] == "UNAUTHORIZED", wrong.output
    assert right.exit_code == 0 and json.loads(right.stdout)["state"] == "ACTIVE", right.output


@pytest.fixture
def oauth_env(db_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The Jira sandbox (Atlassian's authorization server too) on a real socket, whose OAuth app
    redirects to a loopback URL the command listens on, and a "browser" (`--open`) that follows the
    consent screen's redirect as a person's browser would. Yields (sandbox URL, redirect URI)."""
    redirect_uri = f"http://127.0.0.1:{free_port()}/oauth/callback"
    browser = tmp_path / "browser.py"
    browser.write_text("import sys, httpx\nhttpx.get(sys.argv[1], follow_redirects=True, timeout=60)\n")
    monkeypatch.setenv("BROWSER", f"{sys.executable} {browser} %s")
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # read BROWSER again on the next open
    with served(lambda url: jira.create_app(jira.JiraSandboxConfig(base_url=url, in_process=False))) as url:
        app = {"client_id": jira.DEMO_OAUTH_CLIENT_ID, "client_secret": jira.DEMO_OAUTH_CLIENT_SECRET}
        httpx.put(
            f"{url}/__sandbox__/oauth", json={"apps": [{**app, "redirect_uris": [redirect_uri]}]}
        ).raise_for_status()
        for name, value in {
            "CLIENT_ID": jira.DEMO_OAUTH_CLIENT_ID,
            "CLIENT_SECRET": jira.DEMO_OAUTH_CLIENT_SECRET,
            "REDIRECT_URI": redirect_uri,
            "AUTH_BASE_URL": url,
            "API_BASE_URL": url,
        }.items():
            monkeypatch.setenv(f"TICKETBRIDGE_JIRA_OAUTH_{name}", value)
        yield url, redirect_uri


def test_connections_authorize_waits_for_the_callback_and_connects(oauth_env: tuple[str, str]) -> None:
    url, redirect_uri = oauth_env
    org = invoke("orgs", "create", "Acme")
    assert isinstance(org, dict)

    result = runner.invoke(app, ["connections", "authorize", "--organization", org["id"], "--open"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["cloud_id"] == jira.DEMO_CLOUD_ID and printed["site_url"] == url
    assert printed["connection"]["state"] == "ACTIVE" and printed["connection"]["organization_id"] == org["id"]
    assert f"{url}/authorize?" in result.stderr and redirect_uri in result.stderr
    assert "verified:" in result.stderr
    listed = invoke("connections", "list", "--organization-id", org["id"])
    assert isinstance(listed, list) and [c["id"] for c in listed] == [printed["connection"]["id"]]
    again = runner.invoke(app, ["connections", "authorize", "--organization", org["id"], "--open"])
    assert again.exit_code == 0, again.output  # a reconnect: the same connection gets the new grant
    assert json.loads(again.stdout)["connection"]["id"] == printed["connection"]["id"]


def test_connections_authorize_reports_a_denied_consent(oauth_env: tuple[str, str]) -> None:
    url, _ = oauth_env
    httpx.put(f"{url}/__sandbox__/oauth", json={**httpx.get(f"{url}/__sandbox__/oauth").json(), "consent": "deny"})
    org = invoke("orgs", "create", "Acme")
    assert isinstance(org, dict)

    result = runner.invoke(app, ["connections", "authorize", "--organization", org["id"], "--open"])

    assert result.exit_code == 2, result.output
    assert "access_denied" in result.stderr and result.stdout == ""
    assert invoke("connections", "list", "--organization-id", org["id"]) == []


def test_connections_authorize_asks_which_site_when_the_grant_reaches_several(oauth_env: tuple[str, str]) -> None:
    url, _ = oauth_env
    second = {
        "cloud_id": "7c0e3b52-2f4d-4d61-9b1e-5a8c2d9e0f11",
        "name": "second",
        "url": "https://second.atlassian.net",
    }
    httpx.post(f"{url}/__sandbox__/oauth/sites", json=second).raise_for_status()
    settings = httpx.get(f"{url}/__sandbox__/oauth").json()
    org = invoke("orgs", "create", "Acme")
    assert isinstance(org, dict)
    # The customer first grants the second site alone, then the demo site: the grant reaches both.
    httpx.put(f"{url}/__sandbox__/oauth", json={**settings, "consent_site": second["cloud_id"]}).raise_for_status()
    first = runner.invoke(app, ["connections", "authorize", "--organization", org["id"], "--open"])
    assert first.exit_code == 0 and json.loads(first.stdout)["cloud_id"] == second["cloud_id"], first.output
    httpx.put(f"{url}/__sandbox__/oauth", json={**settings, "consent_site": None}).raise_for_status()

    result = runner.invoke(
        app, ["connections", "authorize", "--organization", org["id"], "--open"], input=f"{jira.DEMO_CLOUD_ID}\n"
    )

    assert result.exit_code == 0, result.output
    assert "reaches 2 sites" in result.stderr and second["url"] in result.stderr
    printed = result.stdout[result.stdout.index("{") :]  # CliRunner echoes the typed answer to stdout
    assert json.loads(printed)["cloud_id"] == jira.DEMO_CLOUD_ID


def test_connections_authorize_refuses_a_redirect_uri_it_cannot_listen_on(
    db_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TICKETBRIDGE_JIRA_OAUTH_CLIENT_ID", jira.DEMO_OAUTH_CLIENT_ID)
    monkeypatch.setenv("TICKETBRIDGE_JIRA_OAUTH_CLIENT_SECRET", jira.DEMO_OAUTH_CLIENT_SECRET)
    monkeypatch.setenv("TICKETBRIDGE_JIRA_OAUTH_REDIRECT_URI", "https://tickets.example.com/v1/oauth/jira/callback")
    org = invoke("orgs", "create", "Acme")
    assert isinstance(org, dict)

    result = runner.invoke(app, ["connections", "authorize", "--organization", org["id"]])

    assert result.exit_code == 2
    assert "not a loopback http URL" in result.stderr and "/connections/jira/authorize" in result.stderr
