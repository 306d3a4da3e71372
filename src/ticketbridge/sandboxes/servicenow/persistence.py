"""Optional persistence: the whole instance as one JSON file, so a demo keeps its data across restarts.

OAuth tokens are not saved: after a restart clients log in again, as after a token revocation.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict
from pathlib import Path

from ticketbridge.sandboxes.servicenow.state import Account, Instance


def load_instance(path: Path) -> Instance | None:
    """The instance saved at `path`, or None when nothing was saved yet."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    instance = Instance()
    instance.tables.update(data["tables"])
    instance.accounts = {a["user_name"]: Account(**a) for a in data["accounts"]}
    instance.files = {k: base64.b64decode(v) for k, v in data["files"].items()}
    instance.numbers = data["numbers"]
    instance.properties.update(data["properties"])
    return instance


def save_instance(path: Path, instance: Instance) -> None:
    """Writes through a temporary file so a crash mid-write never leaves half an instance behind."""
    data = {
        "tables": instance.tables,
        "accounts": [asdict(a) for a in instance.accounts.values()],
        "files": {k: base64.b64encode(v).decode() for k, v in instance.files.items()},
        "numbers": instance.numbers,
        "properties": instance.properties,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, path)
