"""Handlers by job type. A registry is a plain dict, built by whoever wires the process and passed in;
nothing registers itself at import."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ticketbridge.jobs.context import JobContext
    from ticketbridge.state import Runtime


@dataclass(frozen=True, slots=True)
class JobHandler:
    """Runs one job: `handle(ctx)` works through `ctx.pending_items()` and records each outcome.

    It returns normally when every item has an outcome (the engine then decides SUCCESS or FAILED
    from the ledger), raises `RetryLater` for a transient failure, and raises anything else for a
    failed attempt. It must be safe to run again: a re-run sees only the items not yet done, with
    any vendor reference already noted.
    """

    handle: Callable[[JobContext], Coroutine[Any, Any, None]]
    #: The field that names an item in Leen's failure breakdown: creates use "identifier",
    #: updates "ticket_id".
    breakdown_key: Literal["identifier", "ticket_id"] = "identifier"


HandlerRegistry = dict[str, JobHandler]
#: Builds a process's handlers once its Runtime exists (handlers close over its clients).
RegistryFactory = Callable[["Runtime"], HandlerRegistry]
