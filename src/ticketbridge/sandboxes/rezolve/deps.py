"""Request dependencies, applied in the reference's check order (§4.1), first failure wins:
token (401 UNAUTHORIZED), tenant (404 "Tenant not found"), scope and role (401
USER_PERMISSION_FAILURE), then the `type`/`module` query (400 INPUT_VALIDATION_FAILURE)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, cast

from fastapi import Depends, Header, Query, Request

from ticketbridge.sandboxes.rezolve.errors import (
    input_validation_failure,
    permission_failure,
    tenant_not_found,
    ticket_not_found,
    unauthorized,
)
from ticketbridge.sandboxes.rezolve.models import Actor, ActorType, Tenant, Ticket
from ticketbridge.sandboxes.rezolve.runtime import Runtime
from ticketbridge.sandboxes.rezolve.tokens import InvalidToken, TokenIssuer

READ_SCOPE = "tickets:read"
WRITE_SCOPE = "tickets:write"
SERVICE_ACCOUNT_PREFIX = "sa-"


class CatalogType(StrEnum):
    TEMPLATE = "template"
    AGENT = "agent"
    USER = "user"


@dataclass(frozen=True)
class Caller:
    tenant: Tenant
    subject: str
    roles: frozenset[str]
    scopes: frozenset[str]

    def actor(self) -> Actor:
        kind = ActorType.SERVICE_ACCOUNT if self.subject.startswith(SERVICE_ACCOUNT_PREFIX) else ActorType.USER
        return Actor(id=self.subject, type=kind)


def get_runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


def get_issuer(request: Request) -> TokenIssuer:
    return cast(TokenIssuer, request.app.state.issuer)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
IssuerDep = Annotated[TokenIssuer, Depends(get_issuer)]


def counted(operation: str) -> Callable[[Runtime], None]:
    """A route dependency that counts a call to `operation` before any check can fail it."""

    def count(state: RuntimeDep) -> None:
        state.calls.record(operation)

    return count


def authenticate(
    state: RuntimeDep,
    issuer: IssuerDep,
    authorization: Annotated[str | None, Header()] = None,
    realmname: Annotated[str | None, Header()] = None,
    x_tenantid: Annotated[str | None, Header()] = None,
) -> Caller:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise unauthorized()
    try:
        claims = issuer.verify(token)
    except InvalidToken:
        raise unauthorized() from None
    if realmname != claims.realm:
        raise unauthorized()
    tenant = state.tenant(x_tenantid) if x_tenantid else None
    if tenant is None or tenant.id != claims.tenant_id:
        raise tenant_not_found()
    return Caller(tenant=tenant, subject=claims.subject, roles=claims.roles, scopes=claims.scopes)


AuthenticatedDep = Annotated[Caller, Depends(authenticate)]


def reader(caller: AuthenticatedDep, state: RuntimeDep) -> Caller:
    if not caller.scopes & {READ_SCOPE, WRITE_SCOPE} or not caller.roles & state.config.read_roles:
        raise permission_failure("view")
    return caller


def writer(action: str) -> Callable[[Caller, Runtime], Caller]:
    """Write access: the tickets:write scope *and* a write role, as the seed requires."""

    def check(caller: AuthenticatedDep, state: RuntimeDep) -> Caller:
        if WRITE_SCOPE not in caller.scopes or not caller.roles & state.config.write_roles:
            raise permission_failure(action)
        return caller

    return check


ReaderDep = Annotated[Caller, Depends(reader)]
CreatorDep = Annotated[Caller, Depends(writer("create"))]
UpdaterDep = Annotated[Caller, Depends(writer("update"))]


def catalog_query(required: bool) -> Callable[[str | None, str | None], CatalogType | None]:
    """The `type` and `module` query parameters; `required=False` still rejects wrong values."""

    def check(
        catalog_type: Annotated[str | None, Query(alias="type")] = None,
        module: Annotated[str | None, Query()] = None,
    ) -> CatalogType | None:
        reasons: dict[str, str] = {}
        if (required or catalog_type is not None) and catalog_type not in set(CatalogType):
            reasons["type"] = "type must be one of template, agent, user"
        if (required or module is not None) and module != "ticketing":
            reasons["module"] = "module must be ticketing"
        if reasons:
            raise input_validation_failure(reasons)
        return CatalogType(catalog_type) if catalog_type is not None else None

    return check


RequiredCatalogDep = Annotated[CatalogType, Depends(catalog_query(required=True))]
OptionalCatalogDep = Annotated[CatalogType | None, Depends(catalog_query(required=False))]


def ticket_in_path(object_id: str, caller: AuthenticatedDep) -> Ticket:
    """The ticket by display ID; an internal UUID is not a display ID and so is not found (seed)."""
    ticket = caller.tenant.tickets.get(object_id)
    if ticket is None:
        raise ticket_not_found(object_id)
    return ticket


TicketDep = Annotated[Ticket, Depends(ticket_in_path)]
