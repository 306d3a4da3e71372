"""The one way a sandbox keeps its state across restarts: a `Store` opened on its `persist_path`.

`create_app` loads the state from the store when it holds one (else builds a fresh one) and the sandbox
saves after every write and after a reset. `JsonFile` is the store of the ServiceNow and Rezolve
sandboxes: the whole state as one JSON document, replaced atomically. The Jira sandbox's `SiteStore`
(jira/persistence.py) keeps the same protocol on SQLite, writing only the issues that changed, so that a
write to a 100k-issue site stays cheap.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

T = TypeVar("T")


class Store(Protocol[T]):
    """Where one sandbox's state is kept."""

    def load(self) -> T | None:
        """The saved state, or None when nothing was saved yet."""
        ...

    def save(self, state: T) -> None: ...

    def clear(self) -> None:
        """Forgets the saved state (the next `load` answers None)."""
        ...


class JsonFile(Generic[T]):
    """A state saved as one JSON document at `path`; `encode`/`decode` turn it into text and back."""

    def __init__(self, path: Path, *, encode: Callable[[T], str], decode: Callable[[str], T]) -> None:
        self.path = path
        self._encode = encode
        self._decode = decode

    def load(self) -> T | None:
        if not self.path.exists():
            return None
        return self._decode(self.path.read_text(encoding="utf-8"))

    def save(self, state: T) -> None:
        """Writes through a temporary file, so a crash mid-write never leaves half a state behind."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(self.path.suffix + ".tmp")
        temporary.write_text(self._encode(state), encoding="utf-8")
        os.replace(temporary, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
