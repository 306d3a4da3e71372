"""ServiceNow's own Python client, pysnc, unmodified, against the sandbox served by uvicorn on a free port.

pysnc refuses plain-http instances, so the sandbox is served over TLS with a throwaway self-signed
certificate for 127.0.0.1, which the client is told to trust (`verify=`).
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pysnc import ServiceNowClient
from pysnc.auth import ServiceNowPasswordGrantFlow
from pysnc.exceptions import AuthenticationException, RoleException

from ticketbridge.sandboxes.servicenow import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    ServiceNowSandboxConfig,
    create_app,
)

STARTUP_SECONDS = 10


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """Yields (instance URL, certificate path)."""
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    port = _free_port()
    url = f"https://127.0.0.1:{port}"
    config = ServiceNowSandboxConfig(base_url=url, in_process=False)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            ws="none",
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        assert time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.01)
    yield url, str(cert)
    server.should_exit = True
    thread.join(STARTUP_SECONDS)


@pytest.fixture(autouse=True)
def trust(server: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets REQUESTS_CA_BUNDLE override a session's `verify`, so the CA is named there too."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", server[1])
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def snc(server: tuple[str, str]) -> ServiceNowClient:
    url, cert = server
    httpx.post(f"{url}/__sandbox__/reset", verify=ssl.create_default_context(cafile=cert)).raise_for_status()
    return ServiceNowClient(url, (DEMO_USERNAME, DEMO_PASSWORD), verify=cert)


def test_insert_get_update_delete(snc: ServiceNowClient) -> None:
    gr = snc.GlideRecord("incident")
    gr.initialize()
    gr.short_description = "From pysnc"
    gr.impact = "1"
    gr.urgency = "1"
    gr.correlation_id = "pysnc-1"
    sys_id = gr.insert()

    fetched = snc.GlideRecord("incident")
    assert fetched.get(sys_id)
    assert fetched.get_value("number").startswith("INC") and fetched.get_value("priority") == "1"
    assert fetched.get_display_value("priority") == "1 - Critical"
    fetched.short_description = "Updated by pysnc"
    fetched.update()

    again = snc.GlideRecord("incident")
    assert again.get(sys_id)
    assert again.short_description == "Updated by pysnc" and again.sys_mod_count == "1"
    assert again.delete()
    assert not snc.GlideRecord("incident").get(sys_id)


def test_queries_add_query_encoded_query_and_order(snc: ServiceNowClient) -> None:
    gr = snc.GlideRecord("incident", batch_size=2)
    gr.add_query("active", "true")
    gr.add_query("priority", "<=", "3")
    gr.order_by_desc("priority")
    gr.query()
    numbers = [r.number for r in gr]

    encoded = snc.GlideRecord("incident")
    encoded.add_encoded_query("stateIN1,2^ORDERBYnumber")
    encoded.query()

    assert numbers == ["INC0010002", "INC0010004", "INC0010001"]
    assert len(gr) == 3
    assert [r.number for r in encoded] == ["INC0010001", "INC0010002"]
    assert encoded.get_display_value("state") in {"New", "In Progress"}


def test_get_by_field_and_reference_display_values(snc: ServiceNowClient) -> None:
    gr = snc.GlideRecord("incident")
    assert gr.get("number", "INC0010001")
    assert gr.get_display_value("assignment_group") == "Service Desk"
    assert gr.get_value("state") == "2"


def test_data_policy_failure_is_a_403_as_on_servicenow(snc: ServiceNowClient) -> None:
    gr = snc.GlideRecord("incident")
    assert gr.get("number", "INC0010002")
    gr.state = "6"

    # pysnc turns every 403 into RoleException before `update` looks at the answer.
    with pytest.raises(RoleException) as raised:
        gr.update()

    assert "Data Policy Exception" in str(raised.value)


def test_batched_update_and_delete_multiple(snc: ServiceNowClient, server: tuple[str, str]) -> None:
    for i in range(3):
        gr = snc.GlideRecord("incident")
        gr.initialize()
        gr.short_description = f"bulk {i}"
        gr.insert()
    httpx.delete(f"{server[0]}/__sandbox__/calls", verify=ssl.create_default_context(cafile=server[1]))

    gr = snc.GlideRecord("incident")
    gr.add_query("short_description", "STARTSWITH", "bulk")
    gr.query()
    for record in gr:
        record.urgency = "1"
    assert gr.update_multiple()

    check = snc.GlideRecord("incident")
    check.add_encoded_query("short_descriptionSTARTSWITHbulk^urgency=1")
    check.query()
    assert len(check) == 3

    doomed = snc.GlideRecord("incident")
    doomed.add_query("short_description", "STARTSWITH", "bulk")
    assert doomed.delete_multiple()

    calls = httpx.get(f"{server[0]}/__sandbox__/calls", verify=ssl.create_default_context(cafile=server[1])).json()
    assert calls["batch.POST"] == 2
    assert calls["table.incident.PATCH"] == 3 and calls["table.incident.DELETE"] == 3
    gone = snc.GlideRecord("incident")
    gone.add_query("short_description", "STARTSWITH", "bulk")
    gone.query()
    assert len(gone) == 0


def test_attachments(snc: ServiceNowClient) -> None:
    incident = snc.GlideRecord("incident")
    assert incident.get("number", "INC0010001")

    attachment = snc.Attachment("incident")
    location = attachment.add_attachment(incident.sys_id, "notes.txt", b"line one\nline two", "text/plain")

    listed = snc.Attachment("incident")
    listed.add_query("table_sys_id", incident.sys_id)
    listed.query()
    files = list(listed)

    assert "/api/now/attachment/" in location
    assert [f.file_name for f in files] == ["notes.txt"]
    assert files[0].read() == b"line one\nline two"
    assert files[0].readlines() == ["line one", "line two"]
    files[0].delete()
    again = snc.Attachment("incident")
    again.add_query("table_sys_id", incident.sys_id)
    again.query()
    assert len(list(again)) == 0


def test_oauth_password_grant(server: tuple[str, str]) -> None:
    url, cert = server
    flow = ServiceNowPasswordGrantFlow(DEMO_USERNAME, DEMO_PASSWORD, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    snc = ServiceNowClient(url, flow, verify=cert)

    gr = snc.GlideRecord("incident")
    assert gr.get("number", "INC0010001")


def test_wrong_password_is_an_authentication_error(server: tuple[str, str]) -> None:
    url, cert = server
    snc = ServiceNowClient(url, (DEMO_USERNAME, "wrong"), verify=cert)

    with pytest.raises(AuthenticationException):
        snc.GlideRecord("incident").query()
