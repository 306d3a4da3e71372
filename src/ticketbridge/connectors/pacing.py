"""Pacing under a vendor's rate limits: one gate per endpoint (method and path) of a vendor connection,
in this process, fed by the vendor's own answers. Design note:

- The gate keeps a mirror of the vendor's bucket from the answers carrying `X-RateLimit-Limit` (the
  steady rate, per second) and `X-RateLimit-Remaining`: it takes a token as each request is sent and
  refills at the rate. That never overstates what the vendor has while only this gate spends the
  bucket (a request counted later than sent found more refill, not less), so a request goes as soon
  as the mirror holds a token, a round trip earlier than pacing by answers would. An answer raises
  the mirror to `remaining` (less the requests sent after that one) when the vendor has more, and
  lowers it so when the vendor has less than counted: someone else spends the bucket too. Being
  early costs a 429 and its Retry-After, which Jira gives in whole seconds.
- A 429 closes the gate until its `Retry-After` (else `X-RateLimit-Reset`): the requests behind it
  wait instead of each collecting a 429 of its own.
- Until a gate's first answer nothing is known, so one request goes alone and the rest wait for what
  it says (a burst on a fresh connection spends no 429s either); an answer without limit headers
  opens the gate for good.
- Requests take their turn writes first, then in arrival order (`write` comes from the caller:
  a POST that only searches is a read).
- A turn further off than the caller would wait inline, or past its budget, refuses the request
  before it is sent: `VendorRetriable` (429, retry_after), so a job is rescheduled rather than hold a
  worker, and even a write may go again. The wait at the gate does not eat the attempt's timeout.

The scope is the literal path: an endpoint whose path names an issue is one gate per issue (Jira's
per-issue write limits); a limit that spans endpoints (per tenant) is paced per endpoint, so its
endpoints can still collide, and each 429 then closes the gate that met it.

With N processes (or other clients of the same account), each gate counts only its own requests
between answers. Every answer corrects it to what the vendor counted for all of them and a 429 closes
it, so processes collide less than unpaced ones but do collide: 20 concurrent creates at 2/s through
2 and 4 separate gates met 5 and 27 429s, against none through one, all within the bound's time. The
vendor stays the source of truth; a shared mirror (Redis) would be the next step, nothing here spans
processes.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from ticketbridge.config import VENDOR_RETRY_WAIT_MAX_SECONDS
from ticketbridge.connectors.errors import VendorRetriable

#: Gates one connection keeps (idle ones beyond it are dropped, least recently used first).
MAX_GATES = 256
#: A number at the start of a header value ("350/400" has been seen in X-RateLimit-Limit).
_LEADING_NUMBER = re.compile(r"\s*(\d+(?:\.\d+)?)")
#: Above this, an integer X-RateLimit-Reset is a Unix time, below it a number of seconds.
_EPOCH_SECONDS = 1_000_000_000


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _number(response: httpx.Response, *names: str) -> float | None:
    for name in names:
        match = _LEADING_NUMBER.match(response.headers.get(name, ""))
        if match:
            return float(match.group(1))
    return None


def reset_seconds(response: httpx.Response) -> float | None:
    """`X-RateLimit-Reset` as seconds from now: an ISO-8601 time (Jira), a Unix time, or seconds."""
    value = response.headers.get("x-ratelimit-reset") or response.headers.get("ratelimit-reset")
    if value is None:
        return None
    number = _LEADING_NUMBER.fullmatch(value.strip())
    if number:
        seconds = float(number.group(1))
        return max(0.0, seconds - time.time()) if seconds > _EPOCH_SECONDS else seconds
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds()) if moment.tzinfo else None


@dataclass(slots=True)
class AttemptTerms:
    """What the attempt under way allows a gate (set by `http.with_retries` for each attempt), and
    whether the attempt is waiting at one (a timeout then cut a request that was never sent)."""

    #: A turn further off than this is refused rather than waited for.
    max_wait: float
    #: The whole call's end (time.monotonic), None when unbounded.
    deadline: float | None = None
    #: The attempt's timeout, moved on by the time spent waiting at a gate.
    timeout: asyncio.Timeout | None = None
    at_gate: bool = False


ATTEMPT: ContextVar[AttemptTerms | None] = ContextVar("ticketbridge_attempt_terms", default=None)
#: A request extension: whether the request writes (set by `responses.send`); by method otherwise.
WRITE_EXTENSION = "ticketbridge.write"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _is_write(request: httpx.Request) -> bool:
    marked = request.extensions.get(WRITE_EXTENSION)
    return bool(marked) if marked is not None else request.method not in SAFE_METHODS


@dataclass(eq=False)
class _Gate:
    #: The vendor's steady rate per second and what its bucket holds, once an answer named them.
    rate: float | None = None
    capacity: float = 0.0
    #: The mirror of the vendor's bucket at `stamp` (None: no limit known, nothing paced).
    tokens: float | None = None
    stamp: float = 0.0
    #: No request goes before this (a 429's Retry-After).
    closed_until: float = 0.0
    #: Whether an answer came yet; before it, one request at a time.
    answered: bool = False
    in_flight: int = 0
    #: Sequence numbers: requests sent, and the latest-sent one whose answer the mirror holds.
    sent: int = 0
    applied: int = 0
    waiting: list[tuple[bool, int]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    tickets: itertools.count[int] = field(default_factory=itertools.count)

    def delay(self, now: float) -> float:
        """How long until the next request may go (0: now); inf while the first answer is awaited."""
        if not self.answered and self.in_flight:
            return float("inf")
        delay = self.closed_until - now
        if self.tokens is not None and self.rate:
            tokens = self._refilled(now)
            if tokens < 1:
                delay = max(delay, (1 - tokens) / self.rate)
        return max(0.0, delay)

    def _refilled(self, now: float) -> float:
        assert self.tokens is not None and self.rate
        if self.tokens >= self.capacity:
            return self.tokens
        return min(self.capacity, self.tokens + (now - self.stamp) * self.rate)

    def estimate(self, now: float, position: int) -> float:
        """A request `position` places behind the head of the queue goes in about this long."""
        head = self.delay(now)
        return head + position / self.rate if self.rate and position else head

    def take(self, now: float) -> tuple[int, float | None]:
        """Sends one: its sequence number, and what the mirror expects the bucket to keep after it."""
        if self.tokens is not None and self.rate:
            self.tokens, self.stamp = self._refilled(now) - 1, now
        self.in_flight += 1
        self.sent += 1
        return self.sent, self.tokens

    def observe(self, sequence: int, left: float | None, response: httpx.Response, now: float) -> None:
        """`left` is what the mirror expected the vendor to keep after this request (see the module)."""
        rate = _number(response, "x-ratelimit-limit", "ratelimit-limit")
        remaining = _number(response, "x-ratelimit-remaining", "ratelimit-remaining")
        if response.status_code == 429:
            wait = retry_after_seconds(response)
            wait = reset_seconds(response) if wait is None else wait
            self.closed_until = max(self.closed_until, now + (wait or 0.0))
            self.rate = rate or self.rate
            if self.rate:  # the vendor had less than a token: count from none, now
                self.tokens, self.stamp = 0.0, now
                self.capacity = max(self.capacity, self.rate)
        elif sequence > self.applied:
            self.applied = sequence
            if rate and remaining is not None:
                reported = remaining - (self.sent - sequence)
                if left is None or self.tokens is None or not self.rate or remaining < math.floor(left):
                    tokens = reported  # nothing counted yet, or someone else spends the bucket too
                else:
                    tokens = max(self._refilled(now), reported)
                self.rate, self.capacity = rate, max(rate, remaining + 1)
                self.tokens, self.stamp = tokens, now
            else:
                self.rate, self.tokens = None, None
        self.answered = True
        self.notify()

    def done(self) -> None:
        self.in_flight -= 1
        self.notify()

    def notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    @property
    def idle(self) -> bool:
        return not self.waiting and not self.in_flight


class Pacing:
    """One vendor connection's gates in this process (held by its HTTP pool)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._gates: OrderedDict[tuple[str, str], _Gate] = OrderedDict()

    def _gate(self, request: httpx.Request) -> _Gate:
        key = (request.method, request.url.path)
        gate = self._gates.get(key)
        if gate is None:
            excess = len(self._gates) + 1 - MAX_GATES
            for idle in [k for k, g in self._gates.items() if g.idle][: max(0, excess)]:
                del self._gates[idle]
            gate = self._gates[key] = _Gate()
        self._gates.move_to_end(key)
        return gate

    @asynccontextmanager
    async def turn(self, request: httpx.Request) -> AsyncIterator[Callable[[httpx.Response], None]]:
        """Waits for the request's turn; yields the callback that hands the gate the vendor's answer.
        Raises VendorRetriable, with nothing sent, when the turn is further off than the caller waits."""
        gate = self._gate(request)
        sequence, left = await self._wait(gate, _is_write(request))
        try:
            yield lambda response: gate.observe(sequence, left, response, self._clock())
        finally:
            gate.done()

    async def _wait(self, gate: _Gate, write: bool) -> tuple[int, float | None]:
        terms = ATTEMPT.get()
        ticket = (not write, next(gate.tickets))
        gate.waiting.append(ticket)
        gate.waiting.sort()
        started = self._clock()
        if terms is not None:
            terms.at_gate = True
        try:
            while True:
                now = self._clock()
                position = gate.waiting.index(ticket)
                expected = gate.estimate(now, position)
                if position == 0 and expected == 0:
                    break
                allowed = _allowed(terms, now)
                if expected != float("inf") and expected > allowed:
                    raise VendorRetriable(
                        f"rate limit: this endpoint's turn is {expected:.2f} s away (the vendor's last answers)",
                        status_code=429,
                        retry_after=expected,
                    )
                changed = gate.changed
                timeout = expected if position == 0 and expected != float("inf") else None
                with suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), timeout)
        finally:
            gate.waiting.remove(ticket)
            gate.notify()
        # Left set when the wait ends otherwise: a timeout then cut a request that was never sent.
        if terms is not None:
            terms.at_gate = False
        _extend(terms, self._clock() - started)
        return gate.take(self._clock())


def _allowed(terms: AttemptTerms | None, now: float) -> float:
    if terms is None:
        return VENDOR_RETRY_WAIT_MAX_SECONDS
    if terms.deadline is None:
        return terms.max_wait
    return min(terms.max_wait, terms.deadline - now)


def _extend(terms: AttemptTerms | None, waited: float) -> None:
    """Gives the attempt back the time it spent at the gate, within the call's budget."""
    if terms is None or terms.timeout is None or waited <= 0:
        return
    when = terms.timeout.when()
    if when is None:
        return
    later = when + waited
    if terms.deadline is not None:
        later = min(later, asyncio.get_running_loop().time() + (terms.deadline - time.monotonic()))
    terms.timeout.reschedule(max(when, later))
