"""Optional persistence: the whole store as one JSON file, so a demo keeps its data across restarts.

Signing keys are not persisted: tokens issued before a restart fail with 401 and clients fetch new ones,
as they would after a Keycloak key rotation.
"""

from __future__ import annotations

import os
from pathlib import Path

from ticketbridge.sandboxes.rezolve.models import Store


def load_store(path: Path) -> Store | None:
    """The store saved at `path`, or None when nothing was saved yet."""
    if not path.exists():
        return None
    return Store.model_validate_json(path.read_text(encoding="utf-8"))


def save_store(path: Path, store: Store) -> None:
    """Writes through a temporary file so a crash mid-write never leaves half a store behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(store.model_dump_json(), encoding="utf-8")
    os.replace(temporary, path)
