"""What one running sandbox holds: the store of tenants, config, call counts, limiter, the fault
middleware, the persistent store and the write lock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ticketbridge.sandboxes.calls import CallCounter
from ticketbridge.sandboxes.faults import FaultMiddleware
from ticketbridge.sandboxes.persistence import Store as StateStore
from ticketbridge.sandboxes.rezolve.config import RezolveSandboxConfig
from ticketbridge.sandboxes.rezolve.demo import build_demo_store
from ticketbridge.sandboxes.rezolve.models import Store, Tenant
from ticketbridge.sandboxes.rezolve.persistence import open_store
from ticketbridge.sandboxes.rezolve.ratelimit import RateLimiter


class Runtime:
    def __init__(self, config: RezolveSandboxConfig) -> None:
        self.config = config
        #: Requests the sandbox processed, by operation name ("createTicket", "token", ...).
        self.calls = CallCounter()
        self.limiter = RateLimiter(config.rate_limits)
        #: Set when the app builds its middleware stack, before any request is served.
        self.faults: FaultMiddleware | None = None
        # Writes check the etag and then write; holding one lock across both is what lets exactly
        # one of two concurrent writers with the same etag win, whether requests run on the event
        # loop or in threads.
        self._lock = threading.Lock()
        self._persisted: StateStore[Store] | None = open_store(config.persist_path) if config.persist_path else None
        loaded = self._persisted.load() if self._persisted is not None else None
        self.store = loaded or build_demo_store(with_tickets=config.seed_demo)

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.store.tenants.get(tenant_id)

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """Serializes a write and persists the store when the block completes without raising."""
        with self._lock:
            yield self.store
            self._save()

    def reset(self, *, with_tickets: bool) -> None:
        """A fresh store: the tenants and their catalogs, and the demo tickets if asked."""
        with self._lock:
            self.store = build_demo_store(with_tickets=with_tickets)
            self._save()

    def _save(self) -> None:
        if self._persisted is not None:
            self._persisted.save(self.store)
