"""Optional persistence: the whole instance as one JSON file (sandboxes/persistence.py's `JsonFile`), so a
demo keeps its data across restarts.

OAuth tokens are not saved: after a restart clients log in again, as after a token revocation.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict
from pathlib import Path

from ticketbridge.sandboxes.persistence import JsonFile
from ticketbridge.sandboxes.servicenow.state import Account, Instance


def open_store(path: Path) -> JsonFile[Instance]:
    return JsonFile(path, encode=_encode, decode=_decode)


def _decode(text: str) -> Instance:
    data = json.loads(text)
    instance = Instance()
    instance.tables.update(data["tables"])
    instance.accounts = {a["user_name"]: Account(**a) for a in data["accounts"]}
    instance.files = {k: base64.b64decode(v) for k, v in data["files"].items()}
    instance.numbers = data["numbers"]
    instance.properties.update(data["properties"])
    return instance


def _encode(instance: Instance) -> str:
    return json.dumps(
        {
            "tables": instance.tables,
            "accounts": [asdict(a) for a in instance.accounts.values()],
            "files": {k: base64.b64encode(v).decode() for k, v in instance.files.items()},
            "numbers": instance.numbers,
            "properties": instance.properties,
        }
    )
