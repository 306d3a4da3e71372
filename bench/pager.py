"""`python -m bench.pager --base-url URL`: the baseline of scenario 8, in its own process.

Bare httpx pages POST /rest/api/3/search/jql over every issue (the fields ticketbridge asks for, 100
a page, following nextPageToken) and discards them; prints issues, pages, seconds and its peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time

import httpx

from ticketbridge.connectors.jira.mapping import ISSUE_FIELDS
from ticketbridge.sandboxes import jira

JQL = 'updated >= "1970-01-01 00:00" ORDER BY updated ASC, id ASC'
MAX_PAGES = 10_000


async def page_all(base_url: str, page_size: int) -> dict[str, float]:
    issues = pages = 0
    auth = (jira.DEMO_EMAIL, jira.DEMO_API_TOKEN)
    async with httpx.AsyncClient(base_url=base_url, auth=auth, timeout=60) as http:
        started = time.perf_counter()
        token: str | None = None
        for _ in range(MAX_PAGES):
            body: dict[str, object] = {"jql": JQL, "fields": ISSUE_FIELDS, "maxResults": page_size}
            if token:
                body["nextPageToken"] = token
            response = await http.post("/rest/api/3/search/jql", json=body)
            response.raise_for_status()
            page = response.json()
            pages += 1
            issues += len(page.get("issues") or [])
            token = page.get("nextPageToken")
            if not token or page.get("isLast"):
                break
        elapsed = time.perf_counter() - started
    return {
        "issues": issues,
        "pages": pages,
        "seconds": elapsed,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pager")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(page_all(args.base_url, args.page_size))))


if __name__ == "__main__":
    main()
