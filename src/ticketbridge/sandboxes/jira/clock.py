"""The OAuth clock: wall-clock time plus an offset the control API moves forward.

Token lifetimes are days and months (90 days idle, 365 days absolute); tests and demos move this clock
instead of waiting. Only the OAuth server reads it: Jira's own timestamps (`created`, `updated`, the
rate-limit windows) stay on the wall clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass
class Clock:
    #: Seconds added to the wall clock; only ever grows, so time never runs backwards.
    offset_seconds: float = 0.0

    def now(self) -> float:
        """Epoch seconds, as the OAuth server sees them."""
        return time.time() + self.offset_seconds

    def advance(self, seconds: float) -> None:
        self.offset_seconds += seconds
