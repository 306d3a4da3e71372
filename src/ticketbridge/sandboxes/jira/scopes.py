"""Which OAuth 2.0 scopes each Jira operation needs, read from Atlassian's OpenAPI document.

Every operation of the document carries `x-atlassian-oauth2-scopes`: a list of alternatives, each a set
of scopes (`state: Current` for the classic scopes such as `read:jira-work`, `Beta` for the granular
ones such as `read:issue:jira`). A token may call the operation when it holds every scope of at least
one alternative. The document is vendored beside this module, gzipped and byte-identical to
`tests/sandboxes/jira/spec/jira-platform-v3.json`, and read once per process (about 0.1 s).
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SPEC_PATH = Path(__file__).with_name("jira-platform-v3.json.gz")
#: Atlassian's classic Jira scopes; `manage:jira-data-provider` (Jira Software's development information)
#: is named by no operation of the platform document, yet an app may ask for it.
CLASSIC_SCOPES = frozenset(
    {
        "read:jira-work",
        "write:jira-work",
        "read:jira-user",
        "manage:jira-project",
        "manage:jira-configuration",
        "manage:jira-webhook",
        "manage:jira-data-provider",
    }
)
#: Scopes that reach no site's REST API: refresh tokens, and the user identity API (`/me`).
ACCOUNT_SCOPES = frozenset({"offline_access", "read:me", "read:account"})


@dataclass(frozen=True)
class OperationScopes:
    """operationId -> the alternatives a token must satisfy one of; and every scope Atlassian knows."""

    by_operation: dict[str, tuple[frozenset[str], ...]]
    known: frozenset[str]

    def allows(self, operation_id: str, granted: Iterable[str]) -> bool:
        """Whether `granted` covers the operation; an operation without OAuth scopes is never allowed,
        as the gateway serves only operations that document them."""
        held = set(granted)
        return any(alternative <= held for alternative in self.by_operation.get(operation_id, ()))


@functools.cache
def operation_scopes() -> OperationScopes:
    """The map, built from the OpenAPI document the first time it is asked for (then shared)."""
    with gzip.open(SPEC_PATH, "rb") as file:
        spec = json.load(file)
    by_operation: dict[str, tuple[frozenset[str], ...]] = {}
    known: set[str] = set(CLASSIC_SCOPES | ACCOUNT_SCOPES)
    for item in spec["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            alternatives = tuple(
                frozenset(entry["scopes"])
                for entry in operation.get("x-atlassian-oauth2-scopes") or ()
                if entry.get("scheme") == "OAuth2"
            )
            by_operation[operation["operationId"]] = alternatives
            for alternative in alternatives:
                known |= alternative
    flows = spec.get("components", {}).get("securitySchemes", {}).get("OAuth2", {}).get("flows", {})
    known |= set(flows.get("authorizationCode", {}).get("scopes", {}))
    return OperationScopes(by_operation=by_operation, known=frozenset(known))
