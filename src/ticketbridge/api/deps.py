"""Request dependencies: the unit of work, and the lookups that authenticate and authorize.

`DbSession` commits when the route returns and rolls back when it raises (scope="function", so the
commit happens before the response is sent and a failed commit is an error, not a lost write).
`ReadDbSession` is for routes that only read: its transaction never takes SQLite's write lock (see
store.base.read_session). The key and connection lookups go through the Runtime's `AuthCache`
(services/auth_cache.py: at most a second stale across processes, and they never write).
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from ticketbridge.domain.tenancy import ApiKeyRead, ConnectionRead
from ticketbridge.errors import AdminUnauthenticated, InvalidRequest
from ticketbridge.state import Runtime
from ticketbridge.store.base import read_session

_api_key_header = APIKeyHeader(name="X-API-KEY", scheme_name="API-Key", auto_error=False)
_connection_header = APIKeyHeader(name="X-CONNECTION-ID", scheme_name="Connection-ID", auto_error=False)
_admin_bearer = HTTPBearer(scheme_name="Admin-Token", auto_error=False)


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_db(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with runtime.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


DbSession = Annotated[AsyncSession, Depends(get_db, scope="function")]


async def get_read_db(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with read_session(runtime.sessionmaker) as session:
        yield session


ReadDbSession = Annotated[AsyncSession, Depends(get_read_db, scope="function")]


async def get_api_key(runtime: RuntimeDep, key: Annotated[str | None, Depends(_api_key_header)]) -> ApiKeyRead:
    # A cache miss reads in its own short transaction: routes that call a vendor hold none meanwhile.
    return await runtime.auth_cache.authenticate(runtime.sessionmaker, key)


TenantDep = Annotated[ApiKeyRead, Depends(get_api_key)]


async def get_connection(
    runtime: RuntimeDep, tenant: TenantDep, raw_id: Annotated[str | None, Depends(_connection_header)]
) -> ConnectionRead:
    if not raw_id:
        raise InvalidRequest(
            "The X-CONNECTION-ID header is required.",
            details=[{"loc": ["header", "X-CONNECTION-ID"], "msg": "Field required", "type": "missing"}],
        )
    try:
        connection_id = uuid.UUID(raw_id)
    except ValueError:
        raise InvalidRequest(
            "X-CONNECTION-ID must be a UUID.",
            details=[
                {
                    "loc": ["header", "X-CONNECTION-ID"],
                    "msg": "Input should be a valid UUID",
                    "type": "uuid_parsing",
                }
            ],
        ) from None
    return await runtime.auth_cache.usable_connection(
        runtime.sessionmaker, organization_id=tenant.organization_id, connection_id=connection_id
    )


ConnectionDep = Annotated[ConnectionRead, Depends(get_connection)]


async def require_admin(
    runtime: RuntimeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_admin_bearer)]
) -> None:
    expected = runtime.settings.admin_token
    if expected is None:
        raise AdminUnauthenticated("The admin API is disabled: set TICKETBRIDGE_ADMIN_TOKEN to enable it.")
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise AdminUnauthenticated()


AdminDep = Depends(require_admin)


async def single_query_values(request: Request) -> None:
    """No query parameter of ours takes several values: a repeated one is refused (422), rather
    than silently keeping the last, as a lenient framework would."""
    counts: dict[str, int] = {}
    for name, _value in request.query_params.multi_items():
        counts[name] = counts.get(name, 0) + 1
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise InvalidRequest(
            f"Query parameters given more than once: {', '.join(repeated)}.",
            details=[
                {"loc": ["query", name], "msg": "given more than once", "type": "value_error"} for name in repeated
            ],
        )
