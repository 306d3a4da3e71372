"""Token-paged JQL search over the site's search index, with results cached per query and site version.

A page token names an offset into one query's result; the result list is cached by (jql, user, site
version, index version), so walking 100,000 issues page by page filters and sorts them once.

Tokens are opaque and signed (HMAC-SHA256 with the sandbox's secret): a token is bound to its query
(JQL, fields, the user) and expires after `page_token_ttl_seconds` (7 days, as Jira documents). A token
that was altered, comes from another query, user or sandbox, or has expired answers Jira's 400.

Search reads each issue as the index has it (`Site.index`: possibly not at all, or an older version)
except the issues named in `reconcileIssues`, which it matches and returns as they are now.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Collection
from datetime import UTC, datetime

from ticketbridge.sandboxes.jira.errors import JiraError
from ticketbridge.sandboxes.jira.jql import JqlError, compile_jql
from ticketbridge.sandboxes.jira.runtime import SEARCH_CACHE_SIZE, Runtime
from ticketbridge.sandboxes.jira.state import Issue, Site, User

UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
BAD_TOKEN = "The provided next page token is invalid or expired."
ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


def matching_ids(runtime: Runtime, user: User, jql: str, reconcile: Collection[int] = ()) -> list[int]:
    """Ids of the issues `user` can see whose indexed version matches `jql`, in the query's order.

    Issues in `reconcile` are matched as they are now, indexed or not (read-after-write).
    """
    site, index = runtime.site, runtime.site.index
    index.settle()
    fresh = tuple(sorted(i for i in set(reconcile) if not index.is_current(i)))
    cache_key = (jql, user.account_id, site.version, index.version, fresh)
    cached = runtime.search_cache.get(cache_key)
    if cached is not None:
        runtime.search_cache.move_to_end(cache_key)
        return cached
    if not ORDER_BY.split(jql, maxsplit=1)[0].strip():
        raise JiraError(400, [UNBOUNDED])
    try:
        query = compile_jql(
            jql,
            current_account_id=user.account_id,
            now=datetime.now(UTC),
            known_values=site.known_values(user.account_id),
            context=site.jql_context(),
        )
    except JqlError as exc:
        raise JiraError(400, list(exc.messages)) from None
    visible = {p.id for p in site.visible_projects(user.account_id)}
    issues = (i for i in site.issues.values() if i.project_id in visible)
    if index.is_behind:
        current = set(fresh)
        issues = (v for v in (_version(site, i, current) for i in issues) if v is not None)
    ids = [doc.id for doc in query.apply(i.doc for i in issues if i.doc is not None)]
    runtime.search_cache[cache_key] = ids
    if len(runtime.search_cache) > SEARCH_CACHE_SIZE:
        runtime.search_cache.popitem(last=False)
    return ids


def page(
    runtime: Runtime,
    user: User,
    jql: str,
    token: str | None,
    max_results: int,
    reconcile: Collection[int] = (),
    fields: Collection[str] = (),
) -> tuple[list[Issue], str | None]:
    """One page of issues, each in the version to render, and the token of the next page (None on the last).

    Issues the index has not caught up with are left out or seen as they were, unless listed in `reconcile`.
    `max_results` 0 answers no issues and no next page.
    """
    binding = token_binding(user, jql, fields)
    offset = read_token(runtime, binding, token) if token else 0
    reconciled = set(reconcile)
    ids = matching_ids(runtime, user, jql, reconciled)
    if max_results <= 0:
        return [], None
    end = offset + max_results
    site = runtime.site
    versions = (_version(site, site.issues[i], reconciled) for i in ids[offset:end])
    next_token = sign_token(runtime, binding, end) if end < len(ids) else None
    return [v for v in versions if v is not None], next_token


def _version(site: Site, issue: Issue, reconciled: Collection[int]) -> Issue | None:
    return issue if issue.id in reconciled else site.index.view(issue)


def token_binding(user: User, jql: str, fields: Collection[str]) -> str:
    """What a token is bound to: the query (JQL and fields) and the user."""
    material = json.dumps([user.account_id, jql, sorted(fields)])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(runtime: Runtime, payload: str) -> str:
    return _b64(hmac.new(runtime.page_token_secret, payload.encode(), hashlib.sha256).digest()[:18])


def sign_token(runtime: Runtime, binding: str, offset: int, issued_at: float | None = None) -> str:
    """A token for the page at `offset` of the query `binding` names, issued at `issued_at` (epoch s)."""
    issued = int(time.time() if issued_at is None else issued_at)
    payload = _b64(json.dumps([offset, issued, binding], separators=(",", ":")).encode())
    return f"{payload}.{_signature(runtime, payload)}"


def read_token(runtime: Runtime, binding: str, token: str) -> int:
    """The offset a token names; Jira's 400 when it is forged, foreign, for another query, or expired."""
    payload, _, signature = token.partition(".")
    if not hmac.compare_digest(signature.encode(), _signature(runtime, payload).encode()):
        raise JiraError(400, [BAD_TOKEN])
    try:
        offset, issued, bound_to = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        raise JiraError(400, [BAD_TOKEN]) from None
    expired = time.time() - issued > runtime.config.page_token_ttl_seconds
    if bound_to != binding or not isinstance(offset, int) or offset < 0 or expired:
        raise JiraError(400, [BAD_TOKEN])
    return offset
