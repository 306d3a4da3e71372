"""Inbound REST API rate limiting: per-hour rules per user, as in sys_rate_limit_rules.

A rule for a single user overrides rules for all users; among rules of the same kind the lowest limit
applies. Counts reset at the top of each UTC hour. A request that matches a rule carries
`X-RateLimit-Limit`, `X-RateLimit-Reset` (UNIX time of the next reset) and `X-RateLimit-Rule` (the
rule's sys_id); one over the limit is 429 with `Retry-After` too, and ServiceNow's body.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ticketbridge.sandboxes.servicenow.config import RateLimitConfig, RateLimitRule
from ticketbridge.sandboxes.servicenow.errors import ServiceNowError

HOUR_SECONDS = 3600


@dataclass(frozen=True)
class Resource:
    api: str
    table: str | None
    method: str


class RateLimiter:
    def __init__(self, config: RateLimitConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._counts: Counter[tuple[str, str, int]] = Counter()

    def configure(self, config: RateLimitConfig) -> None:
        """A new configuration starts every count at zero, as editing a rule's limit does."""
        self.config = config
        self._counts.clear()

    def rule_for(self, resource: Resource, user_name: str) -> RateLimitRule | None:
        if not self.config.enabled:
            return None
        matching = [r for r in self.config.rules if _applies(r, resource, user_name)]
        personal = [r for r in matching if r.user_name is not None]
        pool = personal or matching
        return min(pool, key=lambda r: r.requests_per_hour) if pool else None

    def admit(self, resource: Resource, user_name: str) -> dict[str, str]:
        """Counts the request; answers the headers to send, or raises the 429 when over the limit."""
        rule = self.rule_for(resource, user_name)
        if rule is None:
            return {}
        now = self.clock()
        window = int(now // HOUR_SECONDS)
        reset = (window + 1) * HOUR_SECONDS
        headers = {
            "X-RateLimit-Limit": str(rule.requests_per_hour),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Rule": rule.sys_id,
        }
        key = (rule.sys_id, user_name, window)
        if self._counts[key] >= rule.requests_per_hour:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
            raise ServiceNowError(
                429,
                "Rate limit exceeded",
                f"Rate limit of {rule.requests_per_hour} requests per hour for {resource.api} exceeded",
                headers=headers,
            )
        self._counts[key] += 1
        return headers


def _applies(rule: RateLimitRule, resource: Resource, user_name: str) -> bool:
    if rule.api not in ("*", resource.api):
        return False
    if rule.table is not None and rule.table != resource.table:
        return False
    if rule.method is not None and rule.method.upper() != resource.method:
        return False
    return rule.user_name is None or rule.user_name == user_name
