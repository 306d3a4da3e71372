"""`make demo`: the API, the in-process worker and every vendor sandbox in one process, seeded.

The demo organization, its API key and its connections are created once and remembered in
data/demo-credentials.json; a re-run reuses them (and the sandboxes' persisted data).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr

from ticketbridge.app import create_app, prepare_database
from ticketbridge.config import LOCAL_DEV_ORIGIN_REGEX, Settings
from ticketbridge.crypto import hash_api_key
from ticketbridge.enums import ConnectionState, Vendor
from ticketbridge.sandboxes import jira, rezolve, servicenow
from ticketbridge.services import connections as connections_service
from ticketbridge.services import organizations as organizations_service
from ticketbridge.services import verification
from ticketbridge.state import Runtime
from ticketbridge.store import connections as connections_store
from ticketbridge.store import organizations as organizations_store

JIRA_PORT = 8100
REZOLVE_PORT = 8200
SERVICENOW_PORT = 8300
CREDENTIALS_FILE = "demo-credentials.json"
#: How long the sandboxes may take to start listening before the demo gives up verifying.
STARTUP_SECONDS = 30.0


def demo_settings(settings: Settings, *, admin_token: str) -> Settings:
    """The demo runs the worker in process and, unless TICKETBRIDGE_CORS_ORIGIN_REGEX says otherwise,
    answers browser apps served from any local port (http://localhost:8080 and the like)."""
    update: dict[str, Any] = {"admin_token": SecretStr(admin_token), "worker_enabled": True}
    if settings.cors_origin_regex is None:
        update["cors_origin_regex"] = LOCAL_DEV_ORIGIN_REGEX
    return settings.model_copy(update=update)


async def run_demo(settings: Settings, *, host: str, port: int) -> None:
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    credentials_path = data_dir / CREDENTIALS_FILE
    previous = _read(credentials_path)
    admin_token = (
        settings.admin_token.get_secret_value()
        if settings.admin_token is not None
        else previous.get("admin_token") or secrets.token_urlsafe(24)
    )
    settings = demo_settings(settings, admin_token=admin_token)
    jira_url = f"http://{host}:{JIRA_PORT}"
    rezolve_url = f"http://{host}:{REZOLVE_PORT}"
    servicenow_url = f"http://{host}:{SERVICENOW_PORT}"
    sandboxes: dict[str, dict[str, Any]] = {
        "jira": {"url": jira_url, "email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN},
        "rezolve": {
            "url": rezolve_url,
            "tenant_id": rezolve.DEMO_TENANT_ID,
            "realm": rezolve.DEMO_REALM,
            "client_id": rezolve.DEMO_CLIENT_ID,
            "client_secret": rezolve.DEMO_CLIENT_SECRET,
        },
        "servicenow": {
            "url": servicenow_url,
            "username": servicenow.DEMO_USERNAME,
            "password": servicenow.DEMO_PASSWORD,
        },
    }

    runtime = Runtime.build(settings)
    await prepare_database(runtime)
    api_key, connection_ids = await _ensure_tenant(runtime, previous, sandboxes)
    document = {
        "base_url": f"http://{host}:{port}",
        "api_key": api_key,
        "admin_token": admin_token,
        "connections": connection_ids,
        "sandboxes": sandboxes,
    }
    credentials_path.write_text(json.dumps(document, indent=2) + "\n")
    credentials_path.chmod(0o600)

    servers = [
        _server(create_app(settings, runtime=runtime), host, port),
        _server(
            jira.create_app(
                jira.JiraSandboxConfig(base_url=jira_url, persist_path=data_dir / "jira-sandbox.db", in_process=False)
            ),
            host,
            JIRA_PORT,
        ),
        _server(
            rezolve.create_app(
                rezolve.RezolveSandboxConfig(
                    base_url=rezolve_url, persist_path=data_dir / "rezolve-sandbox.db", in_process=False
                )
            ),
            host,
            REZOLVE_PORT,
        ),
        _server(
            servicenow.create_app(
                servicenow.ServiceNowSandboxConfig(
                    base_url=servicenow_url, persist_path=data_dir / "servicenow-sandbox.json", in_process=False
                )
            ),
            host,
            SERVICENOW_PORT,
        ),
    ]
    print(_banner(document, credentials_path), flush=True)
    try:
        await asyncio.gather(*(server.serve() for server in servers), _verify_when_up(runtime, servers, connection_ids))
    finally:
        await runtime.close()


async def _verify_when_up(runtime: Runtime, servers: list[uvicorn.Server], connection_ids: dict[str, str]) -> None:
    """Connections are ACTIVE only once the vendor accepted them: ask the sandboxes once they listen."""
    async with asyncio.timeout(STARTUP_SECONDS):
        while not all(server.started for server in servers):
            await asyncio.sleep(0.05)
    for vendor, connection_id in connection_ids.items():
        connection = await verification.verify_connection(runtime.vendor_access, uuid.UUID(connection_id))
        if connection.state is not ConnectionState.ACTIVE:
            print(f"The demo's {vendor} connection is {connection.state}: {connection.health_description}", flush=True)


def _server(app: Any, host: str, port: int) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None))


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


async def _ensure_tenant(
    runtime: Runtime, previous: dict[str, Any], sandboxes: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, str]]:
    """Reuses the demo tenant of an earlier run when its key and connections still exist."""
    async with runtime.sessionmaker() as db, db.begin():
        api_key = previous.get("api_key")
        key = await organizations_store.find_active_api_key(db, hash_api_key(api_key)) if api_key else None
        if key is not None and previous.get("connections"):
            ids = {vendor: uuid.UUID(value) for vendor, value in previous["connections"].items()}
            found = [
                await connections_store.get_connection_or_none(db, cid, organization_id=key.organization_id)
                for cid in ids.values()
            ]
            if all(found) and len(found) == len(sandboxes):
                return str(api_key), {vendor: str(cid) for vendor, cid in ids.items()}
        org = await organizations_store.create_organization(db, name="Demo organization")
        issued = await organizations_service.issue_api_key(db, organization_id=org.id, name="demo")
        jira_connection = await connections_service.create_connection(
            db,
            runtime.cipher,
            connections_service.ConnectionCreate(
                organization_id=org.id,
                vendor=Vendor.JIRA,
                base_url=sandboxes["jira"]["url"],
                credentials={
                    "email": sandboxes["jira"]["email"],
                    "api_token": sandboxes["jira"]["api_token"],
                },
            ),
        )
        rezolve_sandbox = sandboxes["rezolve"]
        rezolve_connection = await connections_service.create_connection(
            db,
            runtime.cipher,
            connections_service.ConnectionCreate(
                organization_id=org.id,
                vendor=Vendor.REZOLVE,
                base_url=rezolve_sandbox["url"],
                credentials={key: rezolve_sandbox[key] for key in ("tenant_id", "realm", "client_id", "client_secret")},
            ),
        )
        servicenow_sandbox = sandboxes["servicenow"]
        servicenow_connection = await connections_service.create_connection(
            db,
            runtime.cipher,
            connections_service.ConnectionCreate(
                organization_id=org.id,
                vendor=Vendor.SERVICENOW,
                base_url=servicenow_sandbox["url"],
                credentials={key: servicenow_sandbox[key] for key in ("username", "password")},
            ),
        )
        return issued.plaintext, {
            "jira": str(jira_connection.id),
            "rezolve": str(rezolve_connection.id),
            "servicenow": str(servicenow_connection.id),
        }


def _banner(document: dict[str, Any], path: Path) -> str:
    curl = (
        f"curl -s '{document['base_url']}/v1/itsm/tickets?limit=5' "
        f"-H 'X-API-KEY: {document['api_key']}' -H 'X-CONNECTION-ID: {document['connections']['jira']}'"
    )
    return (
        f"\nticketbridge demo is running at {document['base_url']} (docs: {document['base_url']}/docs)\n"
        f"Jira sandbox: {document['sandboxes']['jira']['url']}   "
        f"Rezolve sandbox: {document['sandboxes']['rezolve']['url']}   "
        f"ServiceNow sandbox: {document['sandboxes']['servicenow']['url']}\n"
        f"Credentials: {path}\n"
        "Browser apps on http://localhost:<any port> or http://127.0.0.1:<any port> may call the API (CORS).\n"
        f"\nTry:\n  {curl}\n"
    )
