"""Optional persistence: the whole store as one JSON file (sandboxes/persistence.py's `JsonFile`), so a
demo keeps its data across restarts.

Signing keys are not persisted: tokens issued before a restart fail with 401 and clients fetch new ones,
as they would after a Keycloak key rotation.
"""

from __future__ import annotations

from pathlib import Path

from ticketbridge.sandboxes.persistence import JsonFile
from ticketbridge.sandboxes.rezolve.models import Store


def open_store(path: Path) -> JsonFile[Store]:
    return JsonFile(path, encode=lambda store: store.model_dump_json(), decode=Store.model_validate_json)
