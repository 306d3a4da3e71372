"""The call counter every sandbox keeps: requests that reached each vendor operation, by the vendor's
operation names (Jira's operationIds, `table.incident.POST`, `createTicket`, ...).

A request counts once it reaches the vendor's code: a faulted request (answered or broken by the fault
middleware, which runs first) is not counted, a throttled or refused one is. `GET /__sandbox__/calls`
answers the counts; `DELETE /__sandbox__/calls` and `POST /__sandbox__/reset` clear them.
"""

from __future__ import annotations

from collections import Counter


class CallCounter(Counter[str]):
    """Operation name -> requests counted (a `Counter`, so a missing operation reads as 0)."""

    def record(self, operation: str) -> None:
        """Counts one request to `operation`."""
        self[operation] += 1

    def snapshot(self) -> dict[str, int]:
        """The counts as a plain dict (what `GET /__sandbox__/calls` answers)."""
        return dict(self)
