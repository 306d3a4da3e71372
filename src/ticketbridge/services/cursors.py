"""Opaque page cursors: a base64url JSON array, read back through a Pydantic type, so a
forged or damaged cursor is an InvalidRequest naming `cursor`, never an error further down."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import TypeVar

from pydantic import TypeAdapter, ValidationError

from ticketbridge.errors import InvalidRequest

T = TypeVar("T")


def encode(parts: Sequence[str]) -> str:
    raw = json.dumps(list(parts)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, shape: TypeAdapter[T], *, issued_by: str) -> T:
    """The cursor's parts as `shape`; `issued_by` names the list it must come from, for the message."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise invalid(issued_by, "not base64url") from None
    try:
        return shape.validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(part) for part in first["loc"])
        raise invalid(issued_by, first["msg"] + (f" at {where}" if where else "")) from None


def invalid(issued_by: str, reason: str) -> InvalidRequest:
    problem = {
        "loc": ["query", "cursor"],
        "msg": f"Not a cursor of the {issued_by} list: {reason}",
        "type": "value_error",
    }
    return InvalidRequest(
        f"The cursor is invalid: pass a next_cursor or previous_cursor of the {issued_by} list unchanged.",
        details=[problem],
    )
