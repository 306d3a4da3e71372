"""Every status the API answers during the test run must be documented in its OpenAPI document.

The `client` fixture records each (method, path template, status) it sees; at the end of the
session the records are checked against /openapi.json and the run fails on any status an operation
produced but does not document. Requests that match no documented operation (unknown routes, 405s)
are skipped.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import httpx
from fastapi import FastAPI

SEEN: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
SPEC: dict[str, Any] = {}
_TEMPLATES: list[tuple[re.Pattern[str], str]] = []


def recorder(app: FastAPI) -> Any:
    """An httpx response hook recording the operation and status of each answer."""
    if not SPEC:
        SPEC.update(app.openapi())
        # Literal paths before templated ones, so /tickets/bulk wins over /tickets/{ticket_id}.
        for path in sorted(SPEC["paths"], key=lambda p: p.count("{")):
            _TEMPLATES.append((re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), path))

    async def record(response: httpx.Response) -> None:
        method = response.request.method.lower()
        for pattern, path in _TEMPLATES:
            if pattern.match(response.request.url.path) and method in SPEC["paths"][path]:
                SEEN[(method, path)].add(response.status_code)
                return

    return record


def undocumented() -> list[str]:
    problems = []
    for (method, path), statuses in sorted(SEEN.items()):
        documented = {int(code) for code in SPEC["paths"][path][method]["responses"] if code.isdigit()}
        problems += [
            f"{method.upper()} {path} answered {status}, which it does not document"
            for status in sorted(statuses - documented)
        ]
    return problems
