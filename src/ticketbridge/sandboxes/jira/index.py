"""The lag of Jira's search index behind writes: which version of each issue `/search/jql` sees.

Live Jira indexes writes asynchronously: a created issue is missing from search for a while, and an
edited one is found (and returned) with its old values. Here every write first records the version
search keeps seeing, stamped with the time it stops seeing it (`lag_ms` later); a search settles the
versions that are due and reads the rest. Nothing runs in the background and nothing sleeps.

Design note. Versions are recorded *before* a write changes the issue in place (writers call
`before_write`), as a shallow copy: every write replaces an issue's attributes (lists and dicts
included) rather than mutating them, so the copy, with the `SearchDoc` it carries, stays as it was.
Each write calls it once, after validation and before its first change. An issue written twice within
the lag gets two entries: until the first is due, search sees the version before both, then the one
between them, then the current one, as an index processing writes in order would. Deletions are not
lagged: a deleted issue leaves search at once.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ticketbridge.sandboxes.jira.state import Issue


class SearchIndex:
    def __init__(self, lag_ms: float = 0, clock: Callable[[], float] = time.monotonic) -> None:
        #: How long a write takes to reach search; 0 makes search read-after-write consistent.
        self.lag_ms = lag_ms
        self._clock = clock
        #: Issue id -> (monotonic due time, the version search sees until then; None: not indexed yet).
        self._pending: dict[int, deque[tuple[float, Issue | None]]] = {}
        #: Bumped whenever what search sees changes without a site write (a version became due).
        self.version = 0

    def before_write(self, issue: Issue, *, created: bool = False) -> None:
        """Call before changing `issue` (or, with `created`, on creating it): search keeps the old version."""
        if not self.lag_ms:
            return
        entries = self._pending.setdefault(issue.id, deque())
        due = self._clock() + self.lag_ms / 1000
        if entries:  # the index catches up in write order, even if the lag was shortened meanwhile
            due = max(due, entries[-1][0])
        entries.append((due, None if created else copy.copy(issue)))

    def set_lag(self, lag_ms: float) -> None:
        """Later writes lag by `lag_ms`; earlier ones keep their due time, except that 0 lets search
        see every write at once."""
        self.lag_ms = lag_ms
        if not lag_ms and self._pending:
            self._pending.clear()
            self.version += 1

    def settle(self) -> None:
        """Lets search see every version that is due; call once per search, before `view`."""
        if not self._pending:
            return
        now = self._clock()
        settled = False
        for issue_id in list(self._pending):
            entries = self._pending[issue_id]
            while entries and entries[0][0] <= now:
                entries.popleft()
                settled = True
            if not entries:
                del self._pending[issue_id]
        if settled:
            self.version += 1

    @property
    def is_behind(self) -> bool:
        """True while some write has not reached search."""
        return bool(self._pending)

    def is_current(self, issue_id: int) -> bool:
        """True when search sees the issue as it is now."""
        return issue_id not in self._pending

    def view(self, issue: Issue) -> Issue | None:
        """The version of `issue` search sees (as of the last `settle`): itself, an older copy, or None."""
        entries = self._pending.get(issue.id)
        return issue if not entries else entries[0][1]

    def forget(self, issue_id: int) -> None:
        self._pending.pop(issue_id, None)
