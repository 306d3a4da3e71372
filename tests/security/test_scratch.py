import json
import httpx
from fastapi import FastAPI
from tests.security.conftest import build_world
from ticketbridge.state import Runtime

async def test_scratch(client: httpx.AsyncClient, runtime: Runtime, globex_jira_sandbox: FastAPI) -> None:
    world = await build_world(client, runtime, globex_jira_sandbox)
    for c in world.connections:
        print(c.organization, c.vendor, {k: len(v) for k, v in c.objects.items()}, c.objects["project_key"], c.objects["identifier"])
    c = world.connections[0]
    r = await client.get("/v1/jobs", headers=c.headers)
    print(json.dumps(r.json())[:1500])
    r = await client.get("/v1/itsm/users", headers=c.headers)
    print(json.dumps(r.json())[:800])
    r = await client.get("/v1/itsm/tickets/00000000-0000-4000-8000-000000000000", headers=c.headers)
    print(r.status_code, r.headers, r.text)
    r = await client.get("/v1/itsm/passthrough/projects/NOPE/issue-types", headers=c.headers)
    print(r.status_code, r.headers, r.text)
    r = await client.get("/v1/itsm/tickets/by-identifier/NOPE", headers=c.headers)
    print(r.status_code, r.headers, r.text)
    assert False
