"""The loopback listener `ticketbridge connections authorize` waits on for an OAuth callback.

The operator's OAuth app sends the customer's browser back to its redirect URI with `code` and
`state` (RFC 6749 §4.1.2). When that URI is an http URL on a loopback host (RFC 8252 §7.3), the
command listens there itself: the first request to the URI's path that carries the command's own
state goes to `finish` (the same service the API's callback route calls), and the browser gets a short
page saying how it went. Any other request is answered 404 (another path) or 400 (another state) and
the wait goes on, until the state expires.
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar
from urllib.parse import parse_qsl, urlsplit

from ticketbridge.errors import TicketbridgeError

T = TypeVar("T")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
#: A browser sends its request line and headers at once; a client that does not is dropped.
REQUEST_HEAD_TIMEOUT_SECONDS = 10.0
#: The most a request line and headers may take (a callback URL with its code and state is ~2 KiB).
MAX_REQUEST_HEAD_BYTES = 16 * 1024


class NotLoopback(ValueError):
    """The redirect URI is not an http URL on this machine's loopback interface."""


def loopback_address(redirect_uri: str) -> tuple[str, int, str]:
    """(host, port, path) to listen on for `redirect_uri`; NotLoopback when it cannot be listened on here."""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname is None or parts.hostname not in LOOPBACK_HOSTS:
        raise NotLoopback(redirect_uri)
    return parts.hostname, parts.port or 80, parts.path or "/"


class CallbackListener(Generic[T]):
    """Listens on the redirect URI's host and port from `listen` to `close`; `wait` hands the callback
    of `state` to `finish` and answers what `finish` returned or raised."""

    def __init__(self, redirect_uri: str, state: str, finish: Callable[[dict[str, str]], Awaitable[T]]) -> None:
        self.host, self.port, self.path = loopback_address(redirect_uri)
        self._state = state
        self._finish = finish
        self._outcome: asyncio.Future[T] | None = None
        self._server: asyncio.Server | None = None

    async def listen(self) -> None:
        """Raises OSError when the port is taken (by an API serving the same redirect URI, say)."""
        self._outcome = asyncio.get_running_loop().create_future()
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=MAX_REQUEST_HEAD_BYTES)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait(self, *, until_epoch_seconds: float) -> T:
        """What `finish` returned for the callback (or raises what it raised); TimeoutError when no
        callback came before `until_epoch_seconds`."""
        assert self._outcome is not None, "wait after `listen`"
        return await asyncio.wait_for(asyncio.shield(self._outcome), max(0.0, until_epoch_seconds - time.time()))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_HEAD_TIMEOUT_SECONDS)
            status, page = await self._answer(head.split(b"\r\n", 1)[0].decode("latin-1"))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, page = 400, "That is not a request this listener understands."
        body = f"<!doctype html><title>ticketbridge</title><p>{html.escape(page)}</p>".encode()
        headers = (
            f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(headers.encode() + body)
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _answer(self, request_line: str) -> tuple[int, str]:
        method, target, _version = request_line.split(" ", 2)
        parts = urlsplit(target)
        if method != "GET" or parts.path != self.path:
            return 404, "Nothing here: this listener waits for an OAuth callback only."
        query = dict(parse_qsl(parts.query))
        assert self._outcome is not None
        if query.get("state") != self._state or self._outcome.done():
            return 400, "This callback is not the one this command waits for (another or a used state)."
        try:
            result = await self._finish(query)
        except TicketbridgeError as exc:
            self._outcome.set_exception(exc)
            return 400, f"Not connected (yet): {exc.message} The terminal says what next."
        self._outcome.set_result(result)
        return 200, "Done: the connection is made. You can close this window."
