"""`ticketbridge demo` as `make demo` runs it: every sandbox up, every connection verified and usable.

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
        finally:
            process.terminate()
            process.wait(DEADLINE_SECONDS)
    assert set(document["connections"]) == {"jira", "rezolve", "servicenow"}
    assert {"url", "username", "password"} <= set(document["sandboxes"]["servicenow"])


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
