"""Pacing under a vendor's rate limits: one gate per endpoint (method and path) of a vendor connection,
in this process, fed by the vendor's own answers. Design note:

- What `X-RateLimit-Limit` counts is in no header: the vendor's connector declares it, a
  `LimitWindow` (`Capabilities.rate_limit_window`, handed to the connection's `Pacing` with its HTTP
  pool): a steady rate (per second unless it says otherwise), or a fixed window whose whole limit
  comes back at once at `X-RateLimit-Reset`.
- The gate keeps a mirror of the vendor's bucket from the answers carrying `X-RateLimit-Limit` (the
  steady rate) and `X-RateLimit-Remaining`: it takes a token as each request is sent and
  refills at the rate. That never overstates what the vendor has while only this gate spends the
  bucket (a request counted later than sent found more refill, not less), so a request goes as soon
  as the mirror holds a token, a round trip earlier than pacing by answers would. An answer raises
  the mirror to `remaining` (less the requests sent after that one) when the vendor has more, and
  lowers it so when the vendor has less than counted: someone else spends the bucket too. Being
  early costs a 429 and its Retry-After, which Jira gives in whole seconds.
- In a fixed window the mirror holds what the window has left until `X-RateLimit-Reset`, and the whole
  limit from then on: nothing refills before the reset. An answer with the limit and no `remaining`
  leaves the count to the mirror: a window it has not counted yet starts at the limit less the
  request answered and those sent after it, as if no one else spent the window; if someone did, the
  429 that says so closes the gate to the reset. Past the mirror's count requests wait (or, further
  off than the caller waits, are refused) instead of being sent into 429s. The reset is a time on the
  vendor's clock: one already past on this process's (clocks apart) starts a full window at once, and
  the 429's Retry-After, counted from now, paces instead.
- A 429 closes the gate until its `Retry-After` (else `X-RateLimit-Reset`): the requests behind it
  wait instead of each collecting a 429 of its own.
- Until a gate's first answer nothing is known, so one request goes alone and the rest wait for what
  it says (a burst on a fresh connection spends no 429s either); an answer without limit headers
  (a steady rate's without `remaining`) opens the gate for good.
- Requests take their turn writes first, then in arrival order (`write` comes from the caller:
  a POST that only searches is a read).
- A turn further off than the caller would wait inline, or past its budget, refuses the request
  before it is sent: `VendorRetriable` (429, retry_after), so a job is rescheduled rather than hold a
  worker, and even a write may go again. The wait at the gate does not eat the attempt's timeout.

The scope is the literal path: an endpoint whose path names an issue is one gate per issue (Jira's
per-issue write limits); a limit that spans endpoints (per tenant) is paced per endpoint, so its
endpoints can still collide, and each 429 then closes the gate that met it (for a fixed window, to
its reset: every endpoint's gate counts the whole limit, and meets one 429 when they overspend it).

With N processes (or other clients of the same account), each gate counts only its own requests
between answers. Every answer corrects it to what the vendor counted for all of them and a 429 closes
it, so processes collide less than unpaced ones but do collide: 20 concurrent creates at 2/s through
2 and 4 separate gates met 5 and 27 429s, against none through one, all within the bound's time. A
window counted without `remaining` is corrected by nothing but a 429: each process counts the whole
limit, and a process past what the vendor counted meets one 429, which closes its gate to the reset.
The vendor stays the source of truth; a shared mirror (Redis) would be the next step, nothing here spans
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


@dataclass(frozen=True, slots=True)
class LimitWindow:
    """What a vendor's `X-RateLimit-Limit` counts, which only the vendor's documentation says (its
    connector declares it: `Capabilities.rate_limit_window`): requests per `seconds`, refilled steadily
    (a token bucket), or, in a `fixed` window, all at once when the window ends (`X-RateLimit-Reset`)."""

    seconds: float = 1.0
    fixed: bool = False


#: `X-RateLimit-Limit` requests a second, refilled continuously.
PER_SECOND = LimitWindow()


@dataclass(eq=False)
class _Gate:
    #: What the vendor's limit counts (`Capabilities.rate_limit_window`, through `Pacing`).
    window: LimitWindow = PER_SECOND
    #: The vendor's limit per window and what its bucket holds, once an answer named them.
    limit: float | None = None
    capacity: float = 0.0
    #: The mirror of the vendor's bucket at `stamp` (None: no limit known, nothing paced).
    tokens: float | None = None
    stamp: float = 0.0
    #: A fixed window's end (time.monotonic): the mirror is full again from then on, and not before.
    resets_at: float = 0.0
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
        if self.tokens is not None and self.limit:
            delay = max(delay, self._wait_for(1, now))
        return max(0.0, delay)

    def _wait_for(self, needed: float, now: float) -> float:
        """How long until the mirror has held `needed` tokens, counting those it holds now."""
        assert self.limit
        tokens = self._refilled(now)
        if tokens >= needed:
            return 0.0
        if not self.window.fixed:
            return (needed - tokens) * self.window.seconds / self.limit
        # What this window has left, then whole windows from its end on.
        windows = math.ceil((needed - max(tokens, 0.0)) / self.capacity)
        return self._window_end(now) - now + (windows - 1) * self.window.seconds

    def _refilled(self, now: float) -> float:
        assert self.tokens is not None and self.limit
        if self.window.fixed:
            return self.capacity if now >= self.resets_at else self.tokens
        if self.tokens >= self.capacity:
            return self.tokens
        return min(self.capacity, self.tokens + (now - self.stamp) * self.limit / self.window.seconds)

    def _window_end(self, now: float) -> float:
        """When the fixed window `now` falls in ends, as far as the mirror knows."""
        if now < self.resets_at:
            return self.resets_at
        return self.resets_at + (math.floor((now - self.resets_at) / self.window.seconds) + 1) * self.window.seconds

    def estimate(self, now: float, position: int) -> float:
        """A request `position` places behind the head of the queue goes in about this long."""
        head = self.delay(now)
        if not position or not self.limit or self.tokens is None:
            return head
        if self.window.fixed:
            return max(head, self._wait_for(position + 1, now))
        return head + position * self.window.seconds / self.limit

    def take(self, now: float) -> tuple[int, float | None]:
        """Sends one: its sequence number, and what the mirror expects the bucket to keep after it."""
        if self.tokens is not None and self.limit:
            tokens = self._refilled(now)
            if self.window.fixed:
                self.resets_at = self._window_end(now)
            self.tokens, self.stamp = tokens - 1, now
        self.in_flight += 1
        self.sent += 1
        return self.sent, self.tokens

    def observe(self, sequence: int, left: float | None, response: httpx.Response, now: float) -> None:
        """`left` is what the mirror expected the vendor to keep after this request (see the module)."""
        limit = _number(response, "x-ratelimit-limit", "ratelimit-limit")
        remaining = _number(response, "x-ratelimit-remaining", "ratelimit-remaining")
        if response.status_code == 429:
            wait = retry_after_seconds(response)
            wait = reset_seconds(response) if wait is None else wait
            self.closed_until = max(self.closed_until, now + (wait or 0.0))
            self.limit = limit or self.limit
            if self.limit:  # the vendor had less than a token: count from none, now
                self.tokens, self.stamp = 0.0, now
                self.capacity = max(self.capacity, self.limit)
                if self.window.fixed:  # and a fixed window stays empty to its end
                    self.resets_at = max(self.closed_until, now + (reset_seconds(response) or 0.0))
        elif sequence > self.applied:
            self.applied = sequence
            if limit and remaining is not None and not self.window.fixed:
                self._mirror_bucket(sequence, left, limit, remaining, now)
            elif limit and self.window.fixed:
                self._mirror_window(sequence, left, limit, remaining, reset_seconds(response), now)
            else:
                self.limit, self.tokens = None, None
        self.answered = True
        self.notify()

    def _mirror_bucket(self, sequence: int, left: float | None, limit: float, remaining: float, now: float) -> None:
        reported = remaining - (self.sent - sequence)
        if left is None or self.tokens is None or not self.limit or remaining < math.floor(left):
            tokens = reported  # nothing counted yet, or someone else spends the bucket too
        else:
            tokens = max(self._refilled(now), reported)
        self.limit, self.capacity = limit, max(limit, remaining + 1)
        self.tokens, self.stamp = tokens, now

    def _mirror_window(
        self, sequence: int, left: float | None, limit: float, remaining: float | None, reset: float | None, now: float
    ) -> None:
        """A fixed window: the vendor's count when it sends one (`remaining`), else the mirror's own,
        which starts at the whole limit in a window it has not counted yet (see the module)."""
        ends = now + reset if reset is not None else now + self.window.seconds
        counted = self.tokens is not None and self.limit is not None
        fresh = not counted or ends > self._window_end(now) + self.window.seconds / 2
        after = self.sent - sequence  # sent after this one: counted in this window too
        if remaining is None:
            tokens = limit - 1 - after if fresh else self._refilled(now)
        elif fresh or left is None or remaining < math.floor(left):
            tokens = remaining - after
        else:
            tokens = max(self._refilled(now), remaining - after)
        if fresh:
            self.resets_at = ends
        self.limit, self.capacity = limit, limit
        self.tokens, self.stamp = tokens, now

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

    def __init__(self, window: LimitWindow = PER_SECOND, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._gates: OrderedDict[tuple[str, str], _Gate] = OrderedDict()

    def _gate(self, request: httpx.Request) -> _Gate:
        key = (request.method, request.url.path)
        gate = self._gates.get(key)
        if gate is None:
            excess = len(self._gates) + 1 - MAX_GATES
            for idle in [k for k, g in self._gates.items() if g.idle][: max(0, excess)]:
                del self._gates[idle]
            gate = self._gates[key] = _Gate(window=self._window)
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
