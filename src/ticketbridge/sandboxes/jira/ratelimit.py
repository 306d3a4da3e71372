"""Jira Cloud's three rate limits and the headers its answers carry.

https://developer.atlassian.com/cloud/jira/platform/rate-limiting/ :

- burst: a token bucket per endpoint and method holding one second of the steady rate, refilled
  continuously (`jira-burst-based`);
- per issue: at most 20 writes in 2 s and 100 in 30 s on one issue (`jira-per-issue-on-write`);
- points-based hourly quota, for OAuth 2.0, Forge and Connect traffic (not API tokens): each request
  costs 1 point plus 1 per core object it returns (issues, projects, ...) and 2 per identity object
  (users); writes cost 1. It resets at the top of each UTC hour and, once spent, "all requests are denied
  until the next hourly reset" (`jira-quota-global-based` or `jira-quota-tenant-based`).

Every answer under the limits carries `X-RateLimit-Limit` and `X-RateLimit-Remaining` of the budget
closest to running out, and `X-RateLimit-NearLimit: true` when any budget has less than 20 % left. A 429
adds `Retry-After`, `X-RateLimit-Reset` (ISO-8601) and `RateLimit-Reason`.
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
QUOTA_REASONS = {"global": "jira-quota-global-based", "tenant": "jira-quota-tenant-based"}
QUOTA_POLICIES = {"global": "global-app-quota", "tenant": "tenant-app-quota"}
WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})
NEAR_LIMIT_SHARE = 0.2
HOUR = 3600


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Throttled:
    """A refusal: what the 429's headers say."""

    reason: str
    limit: int
    retry_after_seconds: float

    def headers(self, now: datetime | None = None) -> dict[str, str]:
        wait = max(0, math.ceil(self.retry_after_seconds))
        reset = (now or datetime.now(UTC)) + timedelta(seconds=wait)
        return {
            "Retry-After": str(wait),
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": _iso(reset),
            "X-RateLimit-NearLimit": "true",
            "RateLimit-Reason": self.reason,
        }


@dataclass(frozen=True)
class Budget:
    """One budget's standing after a request: what the served answer's headers say."""

    limit: int
    remaining: int

    @property
    def is_near_limit(self) -> bool:
        return self.remaining < self.limit * NEAR_LIMIT_SHARE


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(
        self,
        config: RateLimitConfig,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._issue_writes: dict[str, deque[float]] = {}
        self._quota_hour = -1
        self._quota_used = 0

    def configure(self, config: RateLimitConfig) -> None:
        self.config = config
        self._buckets.clear()
        self._issue_writes.clear()
        self._quota_hour, self._quota_used = -1, 0

    def is_quota_traffic(self, authorization: str) -> bool:
        """Whether the points quota governs a request with this `Authorization` header."""
        if self.config.quota_applies_to == "all":
            return True
        return authorization.partition(" ")[0].lower() == "bearer"

    def admit(self, method: str, route: str, issue_id: str | None, *, quota: bool = False) -> Throttled | None:
        """Takes one request's capacity, or says why it is refused (refusals take nothing).

        With `quota`, the request must also find points left this hour; `charge` takes them once the
        answer is known.
        """
        if not self.config.enabled:
            return None
        if quota:
            refused = self._admit_quota()
            if refused:
                return refused
        now = self._clock()
        if method in WRITES and issue_id is not None:
            refused = self._admit_issue_write(issue_id, now)
            if refused:
                return refused
        return self._admit_burst(method, route, now)

    def charge(self, points: int) -> None:
        """Takes an answered request's points from this hour's quota."""
        if self.config.enabled:
            self._roll_quota_hour()
            self._quota_used += points

    def budgets(self, method: str, route: str, *, quota: bool) -> list[Budget]:
        """The standing of every budget the request counted against (for the served answer's headers)."""
        if not self.config.enabled:
            return []
        rate = self._rate(method)
        bucket = self._buckets.get((method, route))
        tokens = bucket.tokens if bucket is not None else rate
        found = [Budget(int(rate), max(0, math.floor(tokens)))]
        if quota:
            self._roll_quota_hour()
            limit = self.config.quota_points_per_hour
            found.append(Budget(limit, max(0, limit - self._quota_used)))
        return found

    def answer_headers(self, method: str, route: str, *, quota: bool) -> dict[str, str]:
        budgets = self.budgets(method, route, quota=quota)
        if not budgets:
            return {}
        tightest = min(budgets, key=lambda b: b.remaining / b.limit)
        headers = {"X-RateLimit-Limit": str(tightest.limit), "X-RateLimit-Remaining": str(tightest.remaining)}
        if any(b.is_near_limit for b in budgets):
            headers["X-RateLimit-NearLimit"] = "true"
        if quota:
            pool = self.config.quota_pool
            headers["RateLimit-Policy"] = f'"{QUOTA_POLICIES[pool]}";q={self.config.quota_points_per_hour};w={HOUR}'
        return headers

    def refusal_headers(self, reason: str, limit: int, retry_after_seconds: float) -> dict[str, str]:
        """The full 429 header set, for refusals that come from elsewhere (the bulk-task cap, injected 429s)."""
        return Throttled(reason, limit, retry_after_seconds).headers()

    def fault_headers(self, status: int, retry_after_seconds: int) -> dict[str, str]:
        """Headers of an injected fault: a 429 carries the full set, as the burst limit's refusal would."""
        if status != 429:
            return {}
        return self.refusal_headers(BURST, int(self.config.get_per_second), retry_after_seconds)

    def _admit_quota(self) -> Throttled | None:
        self._roll_quota_hour()
        limit = self.config.quota_points_per_hour
        if self._quota_used < limit:
            return None
        until_reset = (self._quota_hour + 1) * HOUR - self._wall_clock()
        return Throttled(QUOTA_REASONS[self.config.quota_pool], limit, until_reset)

    def _roll_quota_hour(self) -> None:
        hour = int(self._wall_clock() // HOUR)
        if hour != self._quota_hour:
            self._quota_hour, self._quota_used = hour, 0

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
