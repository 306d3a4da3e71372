"""`ticketbridge secrets rotate`: every credential re-encrypted under the new first key, online, idempotent;
afterwards the old key can go."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from typer.testing import CliRunner

from tests.conftest import empty_tables, make_settings
from ticketbridge.cli import app
from ticketbridge.crypto import CredentialCipher
from ticketbridge.enums import Vendor
from ticketbridge.services import connections as connections_service
from ticketbridge.services import organizations as organizations_service
from ticketbridge.services.credential_rotation import rotate_credentials
from ticketbridge.state import Runtime
from ticketbridge.store.tables import ConnectionAuditRow

runner = CliRunner()
KEY_A, KEY_B, KEY_C = (Fernet.generate_key().decode() for _ in range(3))
CANARY = "CANARY-rotate-token"


@pytest.fixture
def env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI on the test database (SQLite or PostgreSQL), emptied afterwards."""
    monkeypatch.setenv("TICKETBRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("TICKETBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TICKETBRIDGE_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("TICKETBRIDGE_AUTO_MIGRATE", "false")
    yield database_url
    runtime = Runtime.build(make_settings(database_url, tmp_path))
    asyncio.run(_empty(runtime))


async def _empty(runtime: Runtime) -> None:
    await empty_tables(runtime.engine)
    await runtime.close()


def cli(monkeypatch: pytest.MonkeyPatch, keys: str, *args: str, exit_code: int = 0) -> Any:
    monkeypatch.setenv("TICKETBRIDGE_SECRETS_KEY", keys)
    result = runner.invoke(app, list(args))
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def provision(monkeypatch: pytest.MonkeyPatch, keys: str, organization_id: str, count: int) -> list[str]:
    return [
        cli(
            monkeypatch,
            keys,
            "connections",
            "create",
            organization_id,
            "JIRA",
            "--base-url",
            f"https://site{index}.atlassian.net",
            "--email",
            "bot@acme.example",
            "--api-token",
            f"{CANARY}-{index}",
        )["id"]
        for index in range(count)
    ]


async def _decrypt_all(
    database_url: str, data_dir: Path, keys: list[str], *, skip: str | None = None
) -> dict[str, dict[str, Any]]:
    """Each connection's credentials (but `skip`'s) as the service loads them, under exactly `keys`."""
    runtime = Runtime.build(make_settings(database_url, data_dir))
    cipher = CredentialCipher(keys)
    try:
        async with runtime.sessionmaker.begin() as db:
            connections = await connections_service.list_connections(db, organization_id=None)
            return {
                str(connection.id): (await connections_service.load_secrets(db, cipher, connection)).credentials
                for connection in connections
                if str(connection.id) != skip
            }
    finally:
        await runtime.close()


async def _audit_rows(database_url: str, data_dir: Path) -> list[tuple[str, str, str, list[Any]]]:
    runtime = Runtime.build(make_settings(database_url, data_dir))
    try:
        async with runtime.sessionmaker() as db:
            rows = await db.scalars(select(ConnectionAuditRow).order_by(ConnectionAuditRow.created_at))
            return [(str(row.connection_id), row.actor, row.action, row.fields) for row in rows]
    finally:
        await runtime.close()


def test_rotate_moves_every_credential_to_the_new_key_and_the_old_key_can_go(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = cli(monkeypatch, KEY_A, "orgs", "create", "Acme")["id"]
    ids = provision(monkeypatch, KEY_A, org, 5)
    before = asyncio.run(_decrypt_all(env, tmp_path, [KEY_A]))

    # Batches of two: three transactions for five rows.
    report = cli(monkeypatch, f"{KEY_B},{KEY_A}", "secrets", "rotate", "--batch-size", "2")
    assert report == {"rotated": 5, "already_current": 0, "failed": []}

    assert asyncio.run(_decrypt_all(env, tmp_path, [KEY_B])) == before
    with pytest.raises(ValueError, match="cannot be decrypted"):
        asyncio.run(_decrypt_all(env, tmp_path, [KEY_A]))
    again = cli(monkeypatch, f"{KEY_B},{KEY_A}", "secrets", "rotate", "--batch-size", "2")
    assert again == {"rotated": 0, "already_current": 5, "failed": []}
    assert cli(monkeypatch, KEY_B, "secrets", "rotate") == {"rotated": 0, "already_current": 5, "failed": []}

    audit = asyncio.run(_audit_rows(env, tmp_path))
    rotations = [row for row in audit if row[2] == "credentials_rotated"]
    assert sorted(row[0] for row in rotations) == sorted(ids)
    assert {(row[1], tuple(row[3])) for row in rotations} == {("cli", ("credentials",))}
    assert {row[1] for row in audit} == {"cli"}
    assert CANARY not in repr(audit)


def test_rotate_reports_undecryptable_rows_by_id_and_rotates_the_rest(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = cli(monkeypatch, KEY_A, "orgs", "create", "Acme")["id"]
    good = provision(monkeypatch, KEY_A, org, 2)
    [lost] = provision(monkeypatch, KEY_C, org, 1)  # under a key nobody configures any more

    monkeypatch.setenv("TICKETBRIDGE_SECRETS_KEY", f"{KEY_B},{KEY_A}")
    result = runner.invoke(app, ["secrets", "rotate"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"rotated": 2, "already_current": 0, "failed": [lost]}
    assert lost in result.output and CANARY not in result.output
    credentials = asyncio.run(_decrypt_all(env, tmp_path, [KEY_B], skip=lost))
    assert sorted(credentials) == sorted(good)


async def test_rotation_is_online_every_read_succeeds_meanwhile(runtime: Runtime) -> None:
    """Readers holding both keys (the API during a rotation) never meet an unreadable row, and
    credentials changed while the rotation runs are kept, not overwritten by the rotation."""
    cipher_a, both = CredentialCipher([KEY_A]), CredentialCipher([KEY_B, KEY_A])
    async with runtime.sessionmaker.begin() as db:
        organization = await organizations_service.create_organization(db, name="Acme")
        connections = [
            await connections_service.create_connection(
                db,
                cipher_a,
                connections_service.ConnectionCreate(
                    organization_id=organization.id,
                    vendor=Vendor.JIRA,
                    base_url=f"https://site{index}.atlassian.net",
                    credentials={"oauth_token": f"{CANARY}-{index}"},
                ),
            )
            for index in range(30)
        ]
    reads = 0
    done = asyncio.Event()

    async def read_continuously() -> None:
        nonlocal reads
        while not done.is_set():
            for connection in connections:
                async with runtime.sessionmaker.begin() as db:
                    secrets = await connections_service.load_secrets(db, both, connection)
                assert secrets.credentials["oauth_token"].startswith(CANARY)
                reads += 1
                await asyncio.sleep(0)

    async def change_some_credentials() -> None:
        for connection in connections[::7]:
            async with runtime.sessionmaker.begin() as db:
                patch = connections_service.ConnectionPatch(
                    credentials={"oauth_token": f"{CANARY}-new-{connection.id}"}
                )
                await connections_service.update_connection(db, both, connection.id, patch)
            await asyncio.sleep(0)

    reader = asyncio.create_task(read_continuously())
    try:
        report, _ = await asyncio.gather(
            rotate_credentials(runtime.sessionmaker, both, actor=connections_service.CLI_ACTOR, batch_size=3),
            change_some_credentials(),
        )
    finally:
        done.set()
        await reader
    assert report.failed == () and report.rotated + report.already_current == 30
    assert reads > 0
    only_b = CredentialCipher([KEY_B])
    async with runtime.sessionmaker.begin() as db:
        for connection in connections:
            secrets = await connections_service.load_secrets(db, only_b, connection)
            changed = connection in connections[::7]
            expected = f"{CANARY}-new-{connection.id}" if changed else f"{CANARY}-{connections.index(connection)}"
            assert secrets.credentials["oauth_token"] == expected
