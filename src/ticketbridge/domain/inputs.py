"""What ticketbridge accepts from a caller, in one place: safe text, bounded numbers and times,
shallow JSON. The API applies these at the door; services decode cursors with them.

Every request body model derives from `RequestModel`, whose one validator refuses NUL and unpaired
UTF-16 surrogates in every string field (PostgreSQL cannot store NUL; a lone surrogate has no UTF-8
form, so it fails wherever the text is hashed, stored or sent). Query and path parameters use
`SafeStr`, the same check as a type. A refusal is a 422 naming the field.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

#: Nesting a body may have; deeper JSON is refused as malformed (Python's parser gives up near 1000).
MAX_JSON_DEPTH = 64
#: Offsets are bounded by what every database takes as a 32-bit integer.
MAX_OFFSET = 2**31 - 1
#: Names, identifiers, vendor ids and the other short texts (Jira's summary holds 255 characters).
MAX_SHORT_TEXT = 255
#: Jira's limit on a description field.
MAX_DESCRIPTION = 32_767

_UNSAFE = re.compile("[\x00\ud800-\udfff]")
# RFC 3339 date-time, the only form a `format: date-time` parameter takes (never a bare number).
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})")


def check_text(value: Any) -> Any:
    """Refuses a string holding NUL or an unpaired surrogate; leaves anything else to the type."""
    if isinstance(value, str) and _UNSAFE.search(value):
        raise PydanticCustomError("string_unsafe", "NUL characters and unpaired UTF-16 surrogates are not allowed")
    if isinstance(value, list):
        for item in value:
            check_text(item)
    return value


def _date_time_text(value: Any) -> Any:
    # Pydantic's lax mode reads 0.5, "0.5" or "1e20" as a Unix time; the schema promises a date-time.
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise PydanticCustomError("datetime_format", "Input should be an RFC 3339 date-time with a time zone")
    return value


def _within_utc_range(value: datetime) -> datetime:
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError("datetime_range", "Date-time must lie within years 1 to 9999 in UTC") from None
    return value


def _depth_of(value: Any, limit: int) -> int:
    """Nesting depth of parsed JSON, counted up to just past `limit` (so a huge body stays cheap)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


SafeStr = Annotated[str, BeforeValidator(check_text)]
#: A date-time with a time zone, representable in UTC: `format: date-time` and nothing else.
BoundedDateTime = Annotated[AwareDatetime, BeforeValidator(_date_time_text), AfterValidator(_within_utc_range)]


class RequestModel(BaseModel):
    """Base of every request body: unknown fields refused, text checked, nesting bounded."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _bounded_depth(cls, data: Any) -> Any:
        if _depth_of(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            # json_invalid: answered as MALFORMED_JSON, like a body that does not parse.
            raise PydanticCustomError("json_invalid", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _safe_text(cls, value: Any) -> Any:
        return check_text(value)
