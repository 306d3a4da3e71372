"""The sandbox's mutable state: the store of tenants, the call counts and the write lock."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from ticketbridge.sandboxes.rezolve.config import RezolveSandboxConfig
from ticketbridge.sandboxes.rezolve.demo import build_demo_store
from ticketbridge.sandboxes.rezolve.models import Store, Tenant
from ticketbridge.sandboxes.rezolve.persistence import load_store, save_store


class SandboxState:
    def __init__(self, config: RezolveSandboxConfig) -> None:
        self.config = config
        #: Requests the sandbox processed, by operation name ("createTicket", "token", ...).
        self.calls: Counter[str] = Counter()
        # Writes check the etag and then write; holding one lock across both is what lets exactly
        # one of two concurrent writers with the same etag win, whether requests run on the event
        # loop or in threads.
        self._lock = threading.Lock()
        persisted = load_store(config.persist_path) if config.persist_path else None
        self.store = persisted or self._fresh_store()

    def tenant(self, tenant_id: str) -> Tenant | None:
        return self.store.tenants.get(tenant_id)

    @contextmanager
    def writing(self) -> Iterator[Store]:
        """Serializes a write and persists the store when the block completes without raising."""
        with self._lock:
            yield self.store
            self._save()

    def reset(self) -> None:
        with self._lock:
            self.store = self._fresh_store()
            self.calls.clear()
            self._save()

    def _fresh_store(self) -> Store:
        return build_demo_store(with_tickets=self.config.seed_demo)

    def _save(self) -> None:
        if self.config.persist_path is not None:
            save_store(self.config.persist_path, self.store)
