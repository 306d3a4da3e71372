"""`python -m bench [--rows N] [--issues N] [--only listing|sync]`: runs the benchmarks, prints tables."""

from __future__ import annotations

import argparse
import asyncio

from bench import listing, sync


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--rows", type=int, default=listing.ROWS, help="tickets in the listing store")
    parser.add_argument("--issues", type=int, default=sync.ISSUES, help="sandbox issues to sync")
    parser.add_argument("--only", choices=["listing", "sync"])
    args = parser.parse_args()
    if args.only in (None, "listing"):
        asyncio.run(listing.main(args.rows))
    if args.only in (None, "sync"):
        asyncio.run(sync.main(args.issues))


if __name__ == "__main__":
    main()
