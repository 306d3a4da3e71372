"""`ticketbridge demo` as `make demo` runs it: every sandbox up, every connection verified and usable,
the Jira one an OAuth 2.0 (3LO) connection that a user can also connect by hand from the credentials file.

It binds the demo's fixed sandbox ports (8100, 8200, 8300), so it is skipped when one is taken
(a developer's own `make demo`, say).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.jobs.processes import DEADLINE_SECONDS
from tests.support.processes import free_port
from ticketbridge.demo import JIRA_PORT, REZOLVE_PORT, SERVICENOW_PORT


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_demo_serves_every_vendor_through_verified_connections(tmp_path: Path) -> None:
    if any(port_taken(port) for port in (JIRA_PORT, REZOLVE_PORT, SERVICENOW_PORT)):
        pytest.skip("a demo sandbox port is in use")
    port = free_port()
    # As `make demo` runs it: defaults only, data under ./data of the working directory.
    env = {name: value for name, value in os.environ.items() if not name.startswith("TICKETBRIDGE_")}
    with (tmp_path / "demo.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "ticketbridge", "demo", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            document = wait_for_demo(tmp_path / "data", process, tmp_path / "demo.log")
            with httpx.Client(base_url=document["base_url"], timeout=30) as http:
                for vendor, connection_id in document["connections"].items():
                    headers = {"X-API-KEY": document["api_key"], "X-CONNECTION-ID": connection_id}
                    listed = wait_for_connection(http, headers)
                    assert listed.status_code == 200, (vendor, listed.text)
                check_jira_oauth(http, document)
        finally:
            process.terminate()
            process.wait(DEADLINE_SECONDS)
    assert set(document["connections"]) == {"jira", "rezolve", "servicenow"}
    assert {"url", "username", "password"} <= set(document["sandboxes"]["servicenow"])
    jira = document["sandboxes"]["jira"]
    assert {"url", "email", "api_token", "oauth"} <= set(jira)
    assert set(jira["oauth"]) == {"client_id", "client_secret", "redirect_uri"}
    assert jira["oauth"]["redirect_uri"] == f"{document['base_url']}/v1/oauth/jira/callback"


def check_jira_oauth(http: httpx.Client, document: dict[str, Any]) -> None:
    """The demo's Jira connection is ACTIVE and writes through its 3LO grant: once the customer
    uninstalls the app it answers 409, and the connect flow run by hand with the file's app revives it."""
    admin = {"Authorization": f"Bearer {document['admin_token']}"}
    jira, connection_id = document["sandboxes"]["jira"], document["connections"]["jira"]
    headers = {"X-API-KEY": document["api_key"], "X-CONNECTION-ID": connection_id}
    connection = http.get(f"/v1/admin/connections/{connection_id}", headers=admin).json()
    assert (connection["state"], connection["health"]["name"]) == ("ACTIVE", "HEALTHY"), connection
    assert write(http, headers, "Before the uninstall").status_code == 200

    revoked = httpx.post(f"{jira['url']}/__sandbox__/oauth/revoke", json={"client_id": jira["oauth"]["client_id"]})
    assert revoked.json() == {"revoked": 1}, revoked.text
    refused = write(http, headers, "After the uninstall")
    assert refused.status_code == 409 and "re-authorized" in refused.json()["message"], refused.text

    start = http.post(
        f"/v1/admin/organizations/{document['organization_id']}/connections/jira/authorize", headers=admin
    )
    assert start.status_code == 200, start.text
    asked = dict(parse_qsl(urlsplit(start.json()["authorize_url"]).query))
    assert (asked["client_id"], asked["redirect_uri"]) == (jira["oauth"]["client_id"], jira["oauth"]["redirect_uri"])
    with httpx.Client(timeout=30) as browser:  # the sandbox consents at once and redirects to the callback
        connected = browser.get(start.json()["authorize_url"], follow_redirects=True)
    assert connected.status_code == 201, connected.text
    assert connected.json()["connection"]["id"] == connection_id
    assert write(http, headers, "After connecting again").status_code == 200


def write(http: httpx.Client, headers: dict[str, str], name: str) -> httpx.Response:
    """A new ticket (its name makes its identifier: one name per write, or the first is answered again)."""
    ticket = {"name": name, "project_vendor_id": "DEMO", "type_vendor_id": "10002"}
    return http.post("/v1/itsm/tickets", json=ticket, headers=headers)


def wait_for_demo(data_dir: Path, process: subprocess.Popen[bytes], log_path: Path) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    path = data_dir / "demo-credentials.json"
    while True:
        assert process.poll() is None, log_path.read_text(errors="replace")
        if path.exists():
            try:
                document: dict[str, Any] = json.loads(path.read_text())
                with httpx.Client(base_url=str(document["base_url"])) as http:
                    if http.get("/healthz").status_code == 200:
                        return document
            except (json.JSONDecodeError, httpx.TransportError):
                pass
        assert time.monotonic() < deadline, "the demo did not start"
        time.sleep(0.2)


def wait_for_connection(http: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    """The demo verifies its connections once the sandboxes listen: until then they are PENDING (409)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        answer = http.get("/v1/itsm/tickets", params={"limit": 5}, headers=headers)
        if answer.status_code != 409 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)
