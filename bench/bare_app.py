"""`python -m bench.bare_app --port P --fixtures FILE`: the baseline server of scenarios 6 and 7.

A bare FastAPI app that answers the bytes ticketbridge answered (captured from the real API into
FILE) at the same paths, with nothing else: no auth, no database, no middleware. It is started the
way `ticketbridge serve` starts the API, `uvicorn.run(app, host=..., port=..., log_config=None)`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Response


def create_app(fixtures: dict[str, dict[str, str]]) -> FastAPI:
    app = FastAPI()
    bodies = {name: (fixture["body"].encode(), fixture.get("etag")) for name, fixture in fixtures.items()}

    def answer(name: str) -> Response:
        body, etag = bodies[name]
        return Response(content=body, media_type="application/json", headers={"ETag": etag} if etag else None)

    @app.get("/healthz")
    async def healthz() -> Response:
        return answer("healthz")

    @app.get("/v1/itsm/tickets")
    async def list_tickets() -> Response:
        return answer("list")

    @app.get("/v1/itsm/tickets/{ticket_id}")
    async def get_ticket(ticket_id: str) -> Response:
        return answer("get")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fixtures", type=Path, required=True)
    args = parser.parse_args()
    app = create_app(json.loads(args.fixtures.read_text()))
    uvicorn.run(app, host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
