"""Jira Cloud's burst limits (token bucket per endpoint and method) and per-issue write limits.

https://developer.atlassian.com/cloud/jira/platform/rate-limiting/ : a bucket holds one second of the
steady rate and refills continuously; one issue takes at most 20 writes in 2 s and 100 in 30 s.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ticketbridge.sandboxes.jira.config import RateLimitConfig

BURST = "jira-burst-based"
PER_ISSUE = "jira-per-issue-on-write"
WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})


@dataclass(frozen=True)
class Throttled:
    """A refusal: what the 429's headers say."""

    reason: str
    limit: int
    retry_after_seconds: float

    def headers(self) -> dict[str, str]:
        wait = max(1, math.ceil(self.retry_after_seconds))
        reset = (datetime.now(UTC) + timedelta(seconds=wait)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "Retry-After": str(wait),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset,
            "RateLimit-Reason": self.reason,
        }


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, config: RateLimitConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._issue_writes: dict[str, deque[float]] = {}

    def configure(self, config: RateLimitConfig) -> None:
        self.config = config
        self._buckets.clear()
        self._issue_writes.clear()

    def admit(self, method: str, route: str, issue_id: str | None) -> Throttled | None:
        """Takes one request's capacity, or says why it is refused (refusals take nothing)."""
        if not self.config.enabled:
            return None
        now = self._clock()
        if method in WRITES and issue_id is not None:
            refused = self._admit_issue_write(issue_id, now)
            if refused:
                return refused
        return self._admit_burst(method, route, now)

    def _admit_burst(self, method: str, route: str, now: float) -> Throttled | None:
        rate = self._rate(method)
        bucket = self._buckets.setdefault((method, route), _Bucket(rate, now))
        bucket.tokens = min(rate, bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens < 1:
            return Throttled(BURST, int(rate), (1 - bucket.tokens) / rate)
        bucket.tokens -= 1
        return None

    def _admit_issue_write(self, issue_id: str, now: float) -> Throttled | None:
        cfg = self.config
        writes = self._issue_writes.setdefault(issue_id, deque())
        while writes and writes[0] <= now - cfg.issue_window_long_seconds:
            writes.popleft()
        for limit, window in (
            (cfg.issue_writes_short, cfg.issue_window_short_seconds),
            (cfg.issue_writes_long, cfg.issue_window_long_seconds),
        ):
            recent = [t for t in writes if t > now - window]
            if len(recent) >= limit:
                return Throttled(PER_ISSUE, limit, recent[-limit] + window - now)
        writes.append(now)
        return None

    def _rate(self, method: str) -> float:
        cfg = self.config
        return {"GET": cfg.get_per_second, "PUT": cfg.put_per_second, "DELETE": cfg.delete_per_second}.get(
            method, cfg.post_per_second
        )
