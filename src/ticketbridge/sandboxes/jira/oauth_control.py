"""`/__sandbox__/oauth/...`: the OAuth server's control API (no auth), beside the sandbox's other controls.

Settings (`GET`/`PUT`), the clock, expiring access tokens, revoking an app's grants (an uninstall), and
hosting more sites for multi-site grants. Bodies are checked like every control body (400 with an
`ErrorCollection`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ticketbridge.sandboxes.jira.config import JiraSandboxConfig, OAuthConfig
from ticketbridge.sandboxes.jira.errors import JiraError
from ticketbridge.sandboxes.jira.runtime import HostedSite, RuntimeDep

router = APIRouter(prefix="/oauth")


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    advance_seconds: float = Field(ge=0, allow_inf_nan=False)


class Revoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: str


class SiteSeed(BaseModel):
    """Another Jira site, hosted in this process: its own data, reached through the gateway."""

    model_config = ConfigDict(extra="forbid")

    cloud_id: str = Field(default_factory=lambda: str(uuid.uuid4()), pattern=r"^[A-Za-z0-9-]+$")
    name: str = Field(min_length=1)
    #: Its site URL, e.g. `https://second.atlassian.net` (what accessible-resources answers as `url`).
    url: str = Field(min_length=1)
    seed_demo: bool = True


@router.get("")
async def get_oauth(runtime: RuntimeDep) -> OAuthConfig:
    return runtime.oauth.config


@router.put("")
async def put_oauth(config: OAuthConfig, runtime: RuntimeDep) -> OAuthConfig:
    """Replaces the settings; grants and tokens stay, later requests follow the new rules."""
    runtime.oauth.config = config
    return config


@router.post("/clock")
async def advance_clock(body: ClockAdvance, runtime: RuntimeDep) -> dict[str, Any]:
    clock = runtime.oauth.clock
    clock.advance(body.advance_seconds)
    return {"offset_seconds": clock.offset_seconds, "now": datetime.fromtimestamp(clock.now(), UTC).isoformat()}


@router.post("/expire-access-tokens")
async def expire_access_tokens(runtime: RuntimeDep) -> dict[str, int]:
    return {"expired": runtime.oauth.expire_access_tokens()}


@router.post("/revoke")
async def revoke(body: Revoke, runtime: RuntimeDep) -> dict[str, int]:
    """The customer uninstalls the app: every grant of it revoked, its tokens dead, consent needed again."""
    if runtime.oauth.app(body.client_id) is None:
        raise JiraError(400, [f"No app is registered with client_id {body.client_id!r}."])
    return {"revoked": runtime.oauth.revoke_client(body.client_id)}


@router.get("/sites")
async def list_sites(runtime: RuntimeDep) -> list[dict[str, str]]:
    return [{"id": s.cloud_id, "name": s.name, "url": s.url} for s in runtime.hosted_sites.values()]


@router.post("/sites", status_code=201)
async def host_site(seed: SiteSeed, runtime: RuntimeDep) -> dict[str, str]:
    """A second (third, ...) site with the demo's users and, unless told otherwise, its data. Its control
    API answers under `/__sandbox__/sites/{cloudId}/`; it lives until the process ends."""
    if seed.cloud_id == runtime.config.cloud_id or seed.cloud_id in runtime.hosted_sites:
        raise JiraError(400, [f"A site with cloudId {seed.cloud_id!r} exists already."])
    assert runtime.build_site is not None, "create_app sets the factory"
    config = JiraSandboxConfig(
        base_url=seed.url,
        cloud_id=seed.cloud_id,
        seed_demo=seed.seed_demo,
        search_lag_ms=runtime.search_lag_ms,
        rate_limits=runtime.limiter.config.model_copy(),
        in_process=runtime.config.in_process,
    )
    site = HostedSite(seed.cloud_id, seed.name, seed.url.rstrip("/"), runtime.build_site(config))
    runtime.hosted_sites[site.cloud_id] = site
    return {"id": site.cloud_id, "name": site.name, "url": site.url}
