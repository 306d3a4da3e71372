"""Connecting sites with OAuth 2.0 (3LO): the admin's authorize and complete calls, and the callback
the vendor redirects the customer's browser to (`services/oauth.py` tells the flow). `{vendor}` is the
vendor's name in its connector spec's `OAuthProvider` (`jira` for Jira Cloud); another answers 404."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field

from ticketbridge.api.admin import AdminActor
from ticketbridge.api.deps import AdminDep, DbSession, RuntimeDep
from ticketbridge.api.models.admin import ConnectionModel
from ticketbridge.api.models.errors import error_responses
from ticketbridge.domain.inputs import RequestModel, SafeStr
from ticketbridge.observability import request_id_var
from ticketbridge.services import oauth as oauth_service
from ticketbridge.services.connections import Actor
from ticketbridge.services.vendor_sites import SitePolicy

admin_router = APIRouter(
    prefix="/v1/admin", tags=["Admin"], dependencies=[AdminDep], responses=error_responses(401, 500)
)
router = APIRouter(prefix="/v1/oauth", tags=["OAuth"], responses=error_responses(500))

CloudId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")]
State = Annotated[str, Field(min_length=1, max_length=2000)]
VendorSlug = Annotated[
    str,
    Path(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z0-9-]+$",
        description="The vendor whose OAuth app connects the site: `jira` (Jira Cloud); any other answers 404",
    ),
]


class OAuthAuthorizeRequest(RequestModel):
    """Optionally, the site to connect: by its URL or by its site id (Jira's cloudId), not both.
    Without one, a grant that reaches several sites is answered 409 by the callback, to choose one."""

    site_url: Annotated[SafeStr, Field(min_length=1, max_length=500)] | None = None
    cloud_id: CloudId | None = None


class OAuthAuthorizeModel(BaseModel):
    authorize_url: str = Field(description="Send the customer's browser here (the vendor's consent screen)")
    state: str = Field(description="Signed, single-use, bound to the organization")
    expires_at: datetime = Field(description="The callback (or complete) must come before this")


class OAuthCompleteRequest(RequestModel):
    state: State
    cloud_id: CloudId


class OAuthConnectionModel(BaseModel):
    connection: ConnectionModel
    cloud_id: str = Field(description="The site's id at the vendor (Jira's cloudId)")
    site_url: str
    scopes: list[str] = Field(description="The scopes the vendor granted")
    access_token_expires_at: datetime


def _model(result: oauth_service.ConnectResult) -> OAuthConnectionModel:
    return OAuthConnectionModel(
        connection=ConnectionModel.of(result.connection),
        cloud_id=result.cloud_id,
        site_url=result.site_url,
        scopes=list(result.scopes),
        access_token_expires_at=result.access_token_expires_at,
    )


@admin_router.post(
    "/organizations/{org_id}/connections/{vendor}/authorize",
    operation_id="authorize_oauth_connection",
    responses=error_responses(404, 413, 422, 503),
)
async def authorize(
    org_id: uuid.UUID,
    vendor: VendorSlug,
    runtime: RuntimeDep,
    db: DbSession,
    body: OAuthAuthorizeRequest | None = None,
) -> OAuthAuthorizeModel:
    """Starts connecting a site with OAuth 2.0 (3LO) (a Jira Cloud site for `jira`): answers the
    consent URL to send the customer to, and its `state` (signed, single-use, valid 10 minutes, bound
    to this organization and vendor). The vendor then redirects to GET /v1/oauth/{vendor}/callback.
    404 `NOT_CONFIGURED` when the operator has not configured the OAuth app
    (TICKETBRIDGE_JIRA_OAUTH_* for Jira), 404 `NOT_FOUND` for a vendor without OAuth."""
    given = body or OAuthAuthorizeRequest()
    start = await oauth_service.start_authorization(
        db,
        runtime.cipher,
        oauth_service.oauth_config(runtime.vendor_access, vendor),
        org_id,
        site_url=given.site_url,
        cloud_id=given.cloud_id,
    )
    return OAuthAuthorizeModel(authorize_url=start.authorize_url, state=start.state, expires_at=start.expires_at)


@admin_router.post(
    "/organizations/{org_id}/connections/{vendor}/complete",
    status_code=status.HTTP_201_CREATED,
    operation_id="complete_oauth_connection",
    responses=error_responses(400, 404, 409, 413, 422, 503),
)
async def complete(
    org_id: uuid.UUID, vendor: VendorSlug, body: OAuthCompleteRequest, runtime: RuntimeDep, actor: AdminActor
) -> OAuthConnectionModel:
    """Finishes a connect flow whose callback answered 409 (several sites reachable): connects the
    site `cloud_id` with the tokens held for `state`, once, within the state's lifetime. 400 when no
    flow of this vendor waits under this state for this organization; 422 for a site the grant does
    not reach."""
    result = await oauth_service.complete_authorization(
        runtime.vendor_access,
        org_id,
        state=body.state,
        cloud_id=body.cloud_id,
        sites=SitePolicy.from_settings(runtime.settings),
        actor=actor,
        vendor=vendor,
    )
    return _model(result)


@router.get(
    "/{vendor}/callback",
    status_code=status.HTTP_201_CREATED,
    operation_id="oauth_callback",
    responses=error_responses(400, 404, 409, 422, 503),
)
async def callback(
    vendor: VendorSlug,
    runtime: RuntimeDep,
    state: Annotated[str, Query(min_length=1, max_length=2000)],
    code: Annotated[str | None, Query(max_length=4000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=2000)] = None,
) -> OAuthConnectionModel:
    """Where the vendor sends the customer after consent. The `state` authenticates the call: it must
    be one this service signed for this vendor, unused and unexpired (400 otherwise). Exchanges the
    code, checks the scopes (422 naming the missing ones), lists the sites the grant reaches and
    creates the connection for the one named at authorize, or the only one, and verifies it: 201 with
    the connection (ACTIVE once the vendor accepted the token). Several sites and none named: 409
    `JIRA_SITE_CHOICE_REQUIRED`, whose `detail[0].sites` lists `{cloud_id, url, name}`; finish with
    POST /v1/admin/organizations/{org_id}/connections/{vendor}/complete. A denied consent
    (`error=access_denied`) is a 400 `OAUTH_ACCESS_DENIED`."""
    result = await oauth_service.finish_authorization(
        runtime.vendor_access,
        state=state,
        code=code,
        error=error,
        error_description=error_description,
        sites=SitePolicy.from_settings(runtime.settings),
        actor=Actor(name="oauth-callback", request_id=request_id_var.get()),
        vendor=vendor,
    )
    return _model(result)
