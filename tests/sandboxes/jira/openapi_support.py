"""Atlassian's OpenAPI document as the contract and conformance tests read it.

The document is loaded once per run (about 13 s; the `jira_openapi` fixture in conftest.py). Jira writes
offsets without a colon and bulk progress in epoch milliseconds; `as_documented` turns those into what
the document's formats accept before validation. `validate_answer` checks any answer of the sandbox,
whatever the API version it was asked under, against the v3 operation of the same path.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse

SPEC_PATH = Path(__file__).parent / "spec" / "jira-platform-v3.json"
SPEC_HOST = "https://your-domain.atlassian.net"
SPEC_PREFIX = "/rest/api/3"
#: Jira writes offsets without a colon (2021-01-17T12:34:00.000+0000), which JSON Schema's `date-time`
#: refuses; such values are given the colon before validation.
JIRA_DATETIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?[+-]\d\d)(\d\d)$")
#: BulkOperationProgress types its timestamps as date-time strings, but every example of the same
#: operation (and live Jira) uses epoch milliseconds; converted before validation.
EPOCH_MS_FIELDS = {"/bulk/queue/{taskId}": ("created", "started", "updated")}
PRIORITY_OPTION = {"description", "id", "priority"}
CHANGE_VALUES = frozenset({"from", "to", "fromString", "toString"})
VERSIONED = re.compile(r"^/rest/api/(?:2|3|latest)(?=/|$)")


def _drop_invalid_enum_defaults(node: Any) -> None:
    """The document's four `"default": ""` values that are not in their enum make it fail to load."""
    if isinstance(node, dict):
        if "enum" in node and node.get("default") == "" and "" not in node["enum"]:
            del node["default"]
        for value in node.values():
            _drop_invalid_enum_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_invalid_enum_defaults(value)


def load_openapi() -> OpenAPI:
    spec = json.loads(SPEC_PATH.read_text())
    _drop_invalid_enum_defaults(spec)
    return OpenAPI.from_dict(spec)


def as_documented(spec_path: str, body: Any) -> Any:
    for name in EPOCH_MS_FIELDS.get(spec_path, ()):
        if isinstance(body, dict) and isinstance(body.get(name), int):
            body[name] = datetime.fromtimestamp(body[name] / 1000, UTC).isoformat()
    return _normalized(body)


def _normalized(node: Any) -> Any:
    """Colon offsets, and two contradictions of the document with its own examples:

    - change items: ChangeDetails types `from`/`to` as strings, but the changelog examples (and Jira)
      write `"from": null, "to": null` for fields without ids (summary, labels, ...); the nulls are dropped;
    - bulk-editable fields: IssueBulkOperationsFieldOption is an object without properties, closed
      (`additionalProperties: false`), while the example of `GET /bulk/issues/fields` gives priority
      options as `{description, id, priority}`; those options are checked for that shape and emptied.
    """
    if isinstance(node, dict):
        is_change_item = "fieldtype" in node and "field" in node
        if isinstance(node.get("fieldOptions"), list) and "isRequired" in node:
            assert all(set(o) == PRIORITY_OPTION for o in node["fieldOptions"]), node["fieldOptions"]
            node = node | {"fieldOptions": [{} for _ in node["fieldOptions"]]}
        return {k: _normalized(v) for k, v in node.items() if not (is_change_item and v is None and k in CHANGE_VALUES)}
    if isinstance(node, list):
        return [_normalized(v) for v in node]
    if isinstance(node, str):
        return JIRA_DATETIME.sub(r"\1:\2", node)
    return node


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """Every path of the document below the v3 prefix as a regex; concrete segments win over templates."""
    spec = json.loads(SPEC_PATH.read_text())
    found = []
    for path in spec["paths"]:
        if not path.startswith(SPEC_PREFIX + "/"):
            continue
        rest = path[len(SPEC_PREFIX) :]
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(rest))
        found.append((re.compile(f"^{pattern}$"), rest))
    # Fewer templated segments first, so /issue/createmeta is not read as /issue/{issueIdOrKey}.
    return sorted(found, key=lambda item: (item[1].count("{"), -len(item[1])))


def spec_path_of(concrete: str) -> str | None:
    """The document's path (below /rest/api/3) of a concrete path under /rest/api/{2,3,latest}."""
    rest = VERSIONED.sub("", concrete)
    return next((template for pattern, template in _templates() if pattern.match(rest)), None)


@dataclass(frozen=True, slots=True)
class Answer:
    """One response of the sandbox, as the recording middleware saw it."""

    method: str
    path: str
    status: int
    content_type: str
    body: bytes


def documented_statuses(openapi: OpenAPI, spec_path: str, method: str) -> set[str]:
    operation = openapi.spec / "paths" / (SPEC_PREFIX + spec_path)
    if method.lower() not in operation:
        return set()
    return set((operation / method.lower() / "responses").keys())


def validate_answer(openapi: OpenAPI, answer: Answer, spec_path: str) -> None:
    """Raises when the answer's status is not documented for its operation or its body does not validate.

    Bodies are validated as JSON when the answer is JSON; other bodies (attachment content) only need a
    documented status. An empty body (204, the 201 of `POST /issueLink`) is what HTTP and Jira send where
    the document gives a JSON content type.
    """
    statuses = documented_statuses(openapi, spec_path, answer.method)
    assert str(answer.status) in statuses, (answer, sorted(statuses))
    if not answer.body or "json" not in answer.content_type:
        return
    body = as_documented(spec_path, json.loads(answer.body))
    concrete = SPEC_PREFIX + VERSIONED.sub("", answer.path)
    request = MockRequest(SPEC_HOST, answer.method.lower(), concrete, path_pattern=SPEC_PREFIX + spec_path)
    response = MockResponse(json.dumps(body).encode(), status_code=answer.status, content_type="application/json")
    try:
        openapi.validate_response(request, response)
    except OpenAPIError as exc:
        raise AssertionError(f"{answer.method} {answer.path} {answer.status}: {_reasons(exc)}") from None


def _reasons(exc: BaseException) -> str:
    """Where the body breaks the schema, one line per error, instead of the whole body."""
    cause = exc.__cause__
    errors = getattr(cause, "schema_errors", None) or ()
    lines = [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors]
    return "; ".join(lines) or repr(cause or exc)[:500]
