"""`make demo`: the API, the in-process worker and every vendor sandbox in one process, seeded.

The demo organization, its API key and its connections are created once and remembered in
data/demo-credentials.json; a re-run reuses them (and the sandboxes' persisted data).

The Jira connection is an OAuth 2.0 (3LO) one, as Jira Cloud connections are: the demo's OAuth app is
the one the Jira sandbox has registered, the sandbox plays Atlassian's authorization server, and once
it listens the demo runs the connect flow over HTTP, as a customer's browser would (the sandbox
consents at once). The sandbox keeps no grants across restarts, so every run connects again, which
gives the same connection new tokens.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from pathlib import Path
from typing import Any

import httpx
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
#: Where Atlassian sends the customer back (api/oauth.py's callback).
OAUTH_CALLBACK_PATH = "/v1/oauth/jira/callback"


def demo_settings(settings: Settings, *, admin_token: str, jira_url: str, redirect_uri: str) -> Settings:
    """The demo runs the worker in process and, unless TICKETBRIDGE_CORS_ORIGIN_REGEX says otherwise,
    answers browser apps served from any local port (http://localhost:8080 and the like). Its Jira
    OAuth app is the sandbox's, and the sandbox is Atlassian's authorization server and gateway."""
    update: dict[str, Any] = {
        "admin_token": SecretStr(admin_token),
        "worker_enabled": True,
        "jira_oauth_client_id": jira.DEMO_OAUTH_CLIENT_ID,
        "jira_oauth_client_secret": SecretStr(jira.DEMO_OAUTH_CLIENT_SECRET),
        "jira_oauth_redirect_uri": redirect_uri,
        "jira_oauth_auth_base_url": jira_url,
        "jira_oauth_api_base_url": jira_url,
    }
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
    base_url = f"http://{host}:{port}"
    jira_url = f"http://{host}:{JIRA_PORT}"
    rezolve_url = f"http://{host}:{REZOLVE_PORT}"
    servicenow_url = f"http://{host}:{SERVICENOW_PORT}"
    oauth_app = {
        "client_id": jira.DEMO_OAUTH_CLIENT_ID,
        "client_secret": jira.DEMO_OAUTH_CLIENT_SECRET,
        "redirect_uri": base_url + OAUTH_CALLBACK_PATH,
    }
    settings = demo_settings(
        settings, admin_token=admin_token, jira_url=jira_url, redirect_uri=oauth_app["redirect_uri"]
    )
    sandboxes: dict[str, dict[str, Any]] = {
        # The site's own login (for tools that talk to the sandbox directly) and the OAuth app.
        "jira": {"url": jira_url, "email": jira.DEMO_EMAIL, "api_token": jira.DEMO_API_TOKEN, "oauth": oauth_app},
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
    organization_id, api_key, connection_ids = await _ensure_tenant(runtime, previous, sandboxes)
    document = {
        "base_url": base_url,
        "organization_id": str(organization_id),
        "api_key": api_key,
        "admin_token": admin_token,
        "connections": connection_ids,
        "sandboxes": sandboxes,
    }
    # The app registered in the sandbox's developer console calls back to this demo.
    registered = jira.OAuthApp(
        client_id=oauth_app["client_id"],
        client_secret=oauth_app["client_secret"],
        redirect_uris=[oauth_app["redirect_uri"]],
    )
    servers = [
        _server(create_app(settings, runtime=runtime), host, port),
        _server(
            jira.create_app(
                jira.JiraSandboxConfig(
                    base_url=jira_url,
                    persist_path=data_dir / "jira-sandbox.db",
                    in_process=False,
                    oauth=jira.OAuthConfig(apps=[registered]),
                )
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
    try:
        await asyncio.gather(
            *(server.serve() for server in servers),
            _connect_when_up(runtime, servers, document, organization_id, credentials_path),
        )
    finally:
        await runtime.close()


async def _connect_when_up(
    runtime: Runtime,
    servers: list[uvicorn.Server],
    document: dict[str, Any],
    organization_id: uuid.UUID,
    credentials_path: Path,
) -> None:
    """Once everything listens: Jira connected with OAuth, the other connections verified (ACTIVE only
    once the vendor accepted them), then the credentials file written and the banner printed."""
    async with asyncio.timeout(STARTUP_SECONDS):
        while not all(server.started for server in servers):
            await asyncio.sleep(0.05)
    for vendor, connection_id in document["connections"].items():
        connection = await verification.verify_connection(runtime.vendor_access, uuid.UUID(connection_id))
        if connection.state is not ConnectionState.ACTIVE:
            print(f"The demo's {vendor} connection is {connection.state}: {connection.health_description}", flush=True)
    try:
        jira_connection = await connect_jira(document["base_url"], document["admin_token"], organization_id)
    except DemoConnectFailed as exc:
        print(f"The demo's jira connection failed: {exc}", flush=True)
    else:  # verified by the callback
        document["connections"] = {"jira": jira_connection} | document["connections"]
    credentials_path.write_text(json.dumps(document, indent=2) + "\n")
    credentials_path.chmod(0o600)
    print(_banner(document, credentials_path), flush=True)


class DemoConnectFailed(Exception):
    """The demo's OAuth connect flow did not end with a connection."""


async def connect_jira(base_url: str, admin_token: str, organization_id: uuid.UUID) -> str:
    """The connect flow as an admin and the customer's browser run it: authorize, the sandbox's
    consent screen (which consents at once and redirects to our callback), the callback. Answers the
    connection's id."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        start = await http.post(f"/v1/admin/organizations/{organization_id}/connections/jira/authorize", headers=admin)
        if start.status_code != 200:
            raise DemoConnectFailed(f"authorize answered {start.status_code}: {start.text}")
        # The browser: the consent screen's redirect is followed to the callback.
        connected = await http.get(start.json()["authorize_url"], follow_redirects=True)
    if connected.status_code != 201:
        raise DemoConnectFailed(f"the callback answered {connected.status_code}: {connected.text}")
    connection: dict[str, Any] = connected.json()["connection"]
    if connection["state"] != ConnectionState.ACTIVE:
        raise DemoConnectFailed(f"the connection is {connection['state']}: {connection['health']['description']}")
    return str(connection["id"])


def _server(app: Any, host: str, port: int) -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None))


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


async def _ensure_tenant(
    runtime: Runtime, previous: dict[str, Any], sandboxes: dict[str, dict[str, Any]]
) -> tuple[uuid.UUID, str, dict[str, str]]:
    """The demo organization, its API key and its Rezolve and ServiceNow connections: an earlier
    run's when its key and connections still exist. (The Jira connection comes from the connect
    flow, which gives the organization's earlier one new tokens.)"""
    async with runtime.sessionmaker() as db, db.begin():
        api_key = previous.get("api_key")
        key = await organizations_store.find_active_api_key(db, hash_api_key(api_key)) if api_key else None
        earlier = {vendor: value for vendor, value in previous.get("connections", {}).items() if vendor != "jira"}
        if key is not None and set(earlier) == set(sandboxes) - {"jira"}:
            found = [
                await connections_store.get_connection_or_none(db, uuid.UUID(cid), organization_id=key.organization_id)
                for cid in earlier.values()
            ]
            if all(found):
                return key.organization_id, str(api_key), earlier
        org = await organizations_store.create_organization(db, name="Demo organization")
        issued = await organizations_service.issue_api_key(db, organization_id=org.id, name="demo")
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
        return (
            org.id,
            issued.plaintext,
            {
                "rezolve": str(rezolve_connection.id),
                "servicenow": str(servicenow_connection.id),
            },
        )


def _banner(document: dict[str, Any], path: Path) -> str:
    base_url, connections = document["base_url"], document["connections"]
    curl = (
        f"curl -s '{base_url}/v1/itsm/tickets?limit=5' "
        f"-H 'X-API-KEY: {document['api_key']}' -H 'X-CONNECTION-ID: {connections.get('jira', connections['rezolve'])}'"
    )
    reconnect = (
        f"curl -s -X POST '{base_url}/v1/admin/organizations/{document['organization_id']}/connections/jira/authorize' "
        f"-H 'Authorization: Bearer {document['admin_token']}'"
    )
    return (
        f"\nticketbridge demo is running at {document['base_url']} (docs: {document['base_url']}/docs)\n"
        f"Jira sandbox: {document['sandboxes']['jira']['url']}   "
        f"Rezolve sandbox: {document['sandboxes']['rezolve']['url']}   "
        f"ServiceNow sandbox: {document['sandboxes']['servicenow']['url']}\n"
        f"Credentials: {path}\n"
        "Browser apps on http://localhost:<any port> or http://127.0.0.1:<any port> may call the API (CORS).\n"
        f"\nTry:\n  {curl}\n"
        "\nJira is connected with OAuth 2.0 (3LO). To run the connect flow by hand, open the authorize_url of\n"
        f"  {reconnect}\n"
    )
