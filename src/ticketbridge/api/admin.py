"""Provisioning under /v1/admin, guarded by the admin token."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from ticketbridge.api.deps import AdminDep, DbSession, RuntimeDep
from ticketbridge.api.models.admin import (
    ApiKeyCreatedModel,
    ApiKeyCreateRequest,
    ApiKeyModel,
    ConnectionAuditModel,
    ConnectionCreateRequest,
    ConnectionDetailModel,
    ConnectionModel,
    ConnectionOAuthModel,
    ConnectionUpdateRequest,
    ItemList,
    OrganizationCreateRequest,
    OrganizationModel,
)
from ticketbridge.api.models.errors import error_responses
from ticketbridge.api.models.jobs import JobResponseModel
from ticketbridge.crypto import token_fingerprint
from ticketbridge.observability import request_id_var
from ticketbridge.services import connections as connections_service
from ticketbridge.services import organizations as organizations_service
from ticketbridge.services import sync as sync_service
from ticketbridge.services import tokens as tokens_service
from ticketbridge.services import verification as verification_service
from ticketbridge.services.vendor_sites import SitePolicy
from ticketbridge.state import Runtime

router = APIRouter(prefix="/v1/admin", tags=["Admin"], dependencies=[AdminDep], responses=error_responses(401, 500))


def get_admin_actor(runtime: RuntimeDep) -> connections_service.Actor:
    """The audit log's "who": no name comes with the admin token, so its fingerprint stands for it."""
    token = runtime.settings.admin_token
    assert token is not None  # require_admin, the router's dependency, ran first
    return connections_service.Actor(
        name=f"admin-token:{token_fingerprint(token.get_secret_value())}", request_id=request_id_var.get()
    )


AdminActor = Annotated[connections_service.Actor, Depends(get_admin_actor)]


def _sites(runtime: Runtime) -> SitePolicy:
    return SitePolicy.from_settings(runtime.settings)


@router.post(
    "/organizations",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_organization",
    responses=error_responses(413, 422),
)
async def create_organization(body: OrganizationCreateRequest, db: DbSession) -> OrganizationModel:
    return OrganizationModel.of(await organizations_service.create_organization(db, name=body.name))


@router.get("/organizations", operation_id="list_organizations")
async def list_organizations(db: DbSession) -> ItemList[OrganizationModel]:
    orgs = await organizations_service.list_organizations(db)
    return ItemList(items=[OrganizationModel.of(org) for org in orgs])


@router.post(
    "/organizations/{org_id}/api-keys",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_api_key",
    responses=error_responses(404, 413, 422),
)
async def create_api_key(org_id: uuid.UUID, body: ApiKeyCreateRequest, db: DbSession) -> ApiKeyCreatedModel:
    issued = await organizations_service.issue_api_key(db, organization_id=org_id, name=body.name)
    return ApiKeyCreatedModel(**ApiKeyModel.of(issued.key).model_dump(), api_key=issued.plaintext)


@router.delete("/api-keys/{key_id}", operation_id="revoke_api_key", responses=error_responses(404, 422))
async def revoke_api_key(key_id: uuid.UUID, db: DbSession) -> ApiKeyModel:
    return ApiKeyModel.of(await organizations_service.revoke_api_key(db, key_id))


@router.post(
    "/connections",
    status_code=status.HTTP_201_CREATED,
    operation_id="create_connection",
    responses=error_responses(404, 413, 422),
)
async def create_connection(body: ConnectionCreateRequest, runtime: RuntimeDep, actor: AdminActor) -> ConnectionModel:
    """Creates the connection PENDING, then verifies it inline with one cheap authenticated call to
    the vendor (bounded by TICKETBRIDGE_VENDOR_TIMEOUT_SECONDS and the retry budget, at most two
    attempts). The 201 answers the connection as it ends up: ACTIVE when the vendor accepted the site
    and credentials, else PENDING with `health` naming what failed (UNAUTHORIZED for refused
    credentials, EXECUTION_TIMEOUT for a site that does not answer, VENDOR_CLIENT_ERROR with the
    vendor's message for a missing permission...). A PENDING connection answers 409 to data requests;
    fix it with PATCH or retry with POST .../verify."""
    data = connections_service.ConnectionCreate.model_validate(body.model_dump(exclude_unset=True))
    connection = await verification_service.create_connection(
        runtime.vendor_access, data, sites=_sites(runtime), actor=actor
    )
    return ConnectionModel.of(connection)


@router.get("/connections", operation_id="list_connections", responses=error_responses(422))
async def list_connections(
    db: DbSession, organization_id: Annotated[uuid.UUID | None, Query()] = None
) -> ItemList[ConnectionModel]:
    connections = await connections_service.list_connections(db, organization_id=organization_id)
    return ItemList(items=[ConnectionModel.of(connection) for connection in connections])


@router.get("/connections/{connection_id}", operation_id="get_connection", responses=error_responses(404, 422))
async def get_connection(connection_id: uuid.UUID, db: DbSession, runtime: RuntimeDep) -> ConnectionDetailModel:
    """The connection, with its OAuth grant's expiries when it was connected by consent (`oauth`,
    null otherwise)."""
    connection = await connections_service.get_connection(db, connection_id)
    expiries = await tokens_service.grant_expiries(db, runtime.connectors.registry, connection)
    oauth = None
    if expiries is not None:
        oauth = ConnectionOAuthModel(
            access_token_expires_at=expiries.access_token_expires_at,
            refresh_token_last_used_at=expiries.refresh_token_last_used_at,
            refresh_token_expires_at=expiries.refresh_token_expires_at,
            absolute_expires_at=expiries.absolute_expires_at,
            scopes=list(expiries.scopes),
            needs_reauthorization=expiries.needs_reauthorization,
        )
    return ConnectionDetailModel(**ConnectionModel.of(connection).model_dump(), oauth=oauth)


@router.patch(
    "/connections/{connection_id}",
    operation_id="update_connection",
    responses=error_responses(404, 409, 413, 422),
)
async def update_connection(
    connection_id: uuid.UUID, body: ConnectionUpdateRequest, runtime: RuntimeDep, actor: AdminActor
) -> ConnectionModel:
    """Changes only the fields given; none may be null. A new `base_url` must come with `credentials`
    (422 naming `credentials` otherwise): stored credentials are never sent to another site. Every
    change is written to the connection's audit log.

    A new `base_url` or `credentials` on an ACTIVE or PENDING connection, or `state: ACTIVE`, is
    verified inline as on create: the answer is ACTIVE once the vendor accepted it, else PENDING with
    the failure in `health`. A PAUSED connection keeps its state (resuming it verifies). `state:
    PENDING` cannot be set (422)."""
    patch = connections_service.ConnectionPatch.model_validate(body.model_dump(exclude_unset=True))
    connection = await verification_service.update_connection(
        runtime.vendor_access, connection_id, patch, sites=_sites(runtime), actor=actor
    )
    return ConnectionModel.of(connection)


@router.post(
    "/connections/{connection_id}/verify",
    operation_id="verify_connection",
    responses=error_responses(404, 409, 422),
)
async def verify_connection(connection_id: uuid.UUID, runtime: RuntimeDep, actor: AdminActor) -> ConnectionModel:
    """Checks the connection's site and credentials with the vendor now (one cheap authenticated call,
    bounded as on create) and answers 200 with the connection as it ends up. A PENDING connection that
    passes becomes ACTIVE; an ACTIVE one whose credentials the vendor refuses goes back to PENDING,
    while a vendor that is down or throttling only changes its health; a PAUSED one stays PAUSED.
    409 for a deleted connection."""
    connection = await verification_service.verify_connection(runtime.vendor_access, connection_id, actor=actor)
    return ConnectionModel.of(connection)


@router.get(
    "/connections/{connection_id}/audit",
    operation_id="list_connection_audit",
    responses=error_responses(404, 422),
)
async def list_connection_audit(
    connection_id: uuid.UUID, db: DbSession, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> ItemList[ConnectionAuditModel]:
    """The connection's changes, newest first: who (the admin token's fingerprint, or "cli"), when,
    the request id, and the names of the fields changed; never their values."""
    changes = await connections_service.list_changes(db, connection_id, limit=limit)
    return ItemList(items=[ConnectionAuditModel.of(change) for change in changes])


@router.post(
    "/connections/{connection_id}/sync",
    status_code=status.HTTP_202_ACCEPTED,
    operation_id="sync_connection",
    responses=error_responses(404, 409, 422),
)
async def sync_connection(connection_id: uuid.UUID, db: DbSession) -> JobResponseModel:
    """Enqueues a sync now (a CONNECTOR_SYNC job); answers the one already queued or running, if any.
    Follow it with GET /v1/jobs/{job_id} (X-CONNECTION-ID of this connection)."""
    job_id = await sync_service.request_sync(db, connection_id, trigger="admin")
    return JobResponseModel(job_id=str(job_id))
