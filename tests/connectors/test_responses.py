"""The rules every vendor's answers are classified by, and the per-vendor hooks."""

from __future__ import annotations

import httpx
import pytest

from ticketbridge.connectors.errors import (
    VendorAuthError,
    VendorNotFound,
    VendorOutcomeUnknown,
    VendorRejected,
    VendorRetriable,
)
from ticketbridge.connectors.responses import ErrorDialect, classify, send


def _message(response: httpx.Response) -> str:
    return str(response.json().get("message", f"HTTP {response.status_code}"))


def _special(response: httpx.Response, message: str) -> None:
    if response.status_code == 409:
        raise VendorNotFound(f"special: {message}")


DIALECT = ErrorDialect(
    vendor="Acme",
    message=_message,
    field_errors=lambda response: {"field": "bad"},
    special=_special,
    server_error_may_have_written=True,
)


def _answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={"message": "no"}, headers=headers)


def test_success_and_accepted_statuses_pass() -> None:
    assert classify(_answer(201), DIALECT).status_code == 201
    assert classify(_answer(400), DIALECT, accept=(400,)).status_code == 400


@pytest.mark.parametrize(
    ("status", "write", "error"),
    [
        (401, False, VendorAuthError),
        (404, False, VendorNotFound),
        (429, False, VendorRetriable),
        (503, False, VendorRetriable),
        (503, True, VendorOutcomeUnknown),
        (400, False, VendorRejected),
    ],
)
def test_each_status_has_one_meaning(status: int, write: bool, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        classify(_answer(status, **{"retry-after": "3"}), DIALECT, write=write)
    assert type(caught.value) is error
    if status == 429:
        assert isinstance(caught.value, VendorRetriable) and caught.value.retry_after == 3.0
    if status == 400:
        assert isinstance(caught.value, VendorRejected) and caught.value.field_errors == {"field": "bad"}


def test_a_server_error_on_a_write_is_retriable_when_the_vendor_cannot_have_written() -> None:
    plain = ErrorDialect(vendor="Acme", message=_message)
    with pytest.raises(VendorRetriable) as caught:
        classify(_answer(502), plain, write=True)
    assert not isinstance(caught.value, VendorOutcomeUnknown)


def test_the_dialects_hook_runs_first() -> None:
    with pytest.raises(VendorNotFound, match="special: no"):
        classify(_answer(409), DIALECT)


async def test_transport_failures_say_whether_a_write_may_have_happened() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://acme.test") as http:
        with pytest.raises(VendorRetriable, match="Acme is unreachable") as caught:
            await send(http, "POST", "/x", vendor="Acme", write=True)
        assert not isinstance(caught.value, VendorOutcomeUnknown)
    async with httpx.AsyncClient(transport=httpx.MockTransport(drop), base_url="http://acme.test") as http:
        with pytest.raises(VendorOutcomeUnknown, match="no answer from Acme"):
            await send(http, "POST", "/x", vendor="Acme", write=True)
        with pytest.raises(VendorRetriable) as read:
            await send(http, "GET", "/x", vendor="Acme", write=False)
        assert not isinstance(read.value, VendorOutcomeUnknown)
