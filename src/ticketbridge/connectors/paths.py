"""Vendor URL paths built only from checked, percent-encoded segments.

Tenants send the values that name vendor objects (a project key in a passthrough path, a Rezolve team
in `project_vendor_id`, a parent's display ID). Put into a URL as they are, `../`, `?`, `#`, `%2E%2E`
or control characters would steer an authenticated request to another endpoint of the vendor host.
So every value a client puts into a path goes through `segment`: it must match the vendor's own
pattern for that kind of key, and it is then percent-encoded as exactly one segment.

A value that fails names no object that can exist: VendorNotFound (with the field in
`field_errors`), which answers 404 for a path parameter and fails the item (422) for a body field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from ticketbridge.connectors.errors import VendorNotFound


@dataclass(frozen=True, slots=True)
class KeyKind:
    """One kind of vendor key: what it is called in messages, the field it usually comes from, and
    the vendor's pattern for it (matched in full)."""

    description: str
    field: str
    pattern: re.Pattern[str]
    max_length: int = 255


def checked(value: str, kind: KeyKind) -> str:
    """`value` when it is a well-formed key of `kind`; raises VendorNotFound otherwise."""
    # A dot segment survives percent-encoding and is resolved by URL normalization: never a key.
    if value in (".", "..") or len(value) > kind.max_length or not kind.pattern.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "..."
        message = f"{shown!r} is not a valid {kind.description}"
        raise VendorNotFound(f"{kind.field}: {message}.", field_errors={kind.field: message})
    return value


def segment(value: str, kind: KeyKind) -> str:
    """`value`, checked as a key of `kind`, percent-encoded as one path segment."""
    return quote(checked(value, kind), safe="")
