"""Fixtures shared by the whole suite.

Every test that asks for `runtime` (directly or through `client`) runs twice: on SQLite and on
PostgreSQL. Each backend gets a fresh database per test run, migrated once with Alembic; after each
test its tables are emptied. With CI=true the PostgreSQL half must run; elsewhere it is skipped with
a one-line reason when no server answers.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests import documented_statuses
from tests.vendors import JIRA_URL, REZOLVE_URL, SERVICENOW_URL, SandboxRouter
from ticketbridge.app import create_app
from ticketbridge.config import Settings
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.sandboxes import jira, rezolve, servicenow
from ticketbridge.sandboxes.faults import SandboxTransport
from ticketbridge.state import Runtime
from ticketbridge.store import migrate
from ticketbridge.store.base import Base, create_engine

POSTGRES_URL = os.environ.get("TICKETBRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN_TOKEN = "test-admin-token"
SECRETS_KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


async def _postgres_admin() -> asyncpg.Connection:
    return await asyncpg.connect(POSTGRES_URL, timeout=5)


async def create_postgres_database() -> str:
    """A new, empty database on the test server; returns its URL."""
    try:
        admin = await _postgres_admin()
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"PostgreSQL is required in CI but unreachable at {POSTGRES_URL}") from exc
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}")
    name = f"tb_test_{uuid.uuid4().hex[:12]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_postgres_database(url: str) -> None:
    admin = await _postgres_admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    await engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for the whole run, one per backend (set up on its own event loop)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'ticketbridge.db'}"
    else:
        url = asyncio.run(create_postgres_database())
    asyncio.run(_migrate(url))
    yield url
    if request.param == "postgres":
        asyncio.run(drop_postgres_database(url))


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "secrets_key": SECRETS_KEY,
        "admin_token": ADMIN_TOKEN,
        "data_dir": data_dir,
        "worker_enabled": False,
        "auto_migrate": False,
        # The sandboxes answer at http://jira.test and http://rezolve.test: not loopback, so opt in.
        "allow_http_vendors": True,
        **overrides,
    }
    return Settings.model_validate(values)


#: The deployment's Jira OAuth 2.0 (3LO) app: the one the Jira sandbox has registered, whose
#: authorization server and API gateway the sandbox plays at JIRA_URL.
JIRA_OAUTH_APP: dict[str, object] = {
    "jira_oauth_client_id": jira.DEMO_OAUTH_CLIENT_ID,
    "jira_oauth_client_secret": jira.DEMO_OAUTH_CLIENT_SECRET,
    "jira_oauth_redirect_uri": jira.DEMO_OAUTH_REDIRECT_URI,
    "jira_oauth_auth_base_url": JIRA_URL,
    "jira_oauth_api_base_url": JIRA_URL,
}


@pytest.fixture
def settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    """A deployment with the Jira OAuth app configured, so tenants can connect by API token or by
    consent (`tests.builders.make_oauth_tenant`). A test of a deployment without it asks for
    `@pytest.mark.parametrize("settings", [False], indirect=True)`."""
    with_oauth_app = getattr(request, "param", True)
    return make_settings(database_url, tmp_path, **(JIRA_OAUTH_APP if with_oauth_app else {}))


async def empty_tables(engine: AsyncEngine) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                await connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def jira_sandbox() -> FastAPI:
    """A fresh Jira Cloud sandbox with the demo site, in process, reachable at JIRA_URL, at the
    sandbox's production defaults, as the connector meets Jira Cloud:

    - search lags writes by 2 s (`DEFAULT_SEARCH_LAG_MS`): a created issue stays out of `/search/jql`
      and an edited one is found as it was, unless read with `reconcileIssues`;
    - Jira's documented rate limits are on (burst buckets, per-issue write windows, the points quota
      for OAuth traffic): the connector must honour the 429s' Retry-After;
    - OAuth 2.0 (3LO) access tokens expire an hour after issue on the sandbox's movable clock
      (`tests.builders.make_oauth_tenant` connects by consent and moves that clock past the expiry).

    A test that must read back through search after a write lets the index catch up as waiting would
    (`tests.support.sandboxes.catch_up_search`), never by setting the lag to 0 beforehand. Only a test
    about the lag or the limits themselves sets them (`PUT /__sandbox__/consistency|rate-limits`):
    - api/test_create_claims.py: a 600 ms lag with a 0.8 s settle time (lost answers under lag);
    - api/test_tickets.py::test_jiras_per_issue_write_limit_...: 2 writes a second on one issue;
    - acceptance/test_chaos.py: its lags, and the vendor's own limits off (it injects its 429s).
    """
    return jira.create_app(jira.JiraSandboxConfig(base_url=JIRA_URL))


@pytest.fixture
def rezolve_sandbox() -> FastAPI:
    """A fresh Rezolve sandbox with the demo tenant, in process, reachable at REZOLVE_URL, at the
    sandbox's defaults, nothing switched off: access tokens live 300 s, workflows are enforced, a write
    with a stale etag is refused (ETAG_MISMATCH). The sandbox's own per-tenant rate limit is off by
    default (Rezolve publishes no numbers; `RezolveSandboxConfig.rate_limits`); only the limit's own
    test turns it on (sandboxes/rezolve/test_limits_and_persistence.py). A test that needs other roles
    builds its own sandbox, with its reason:
    - api/test_verification.py: no role may read (how verification names the vendor's refusal)."""
    return rezolve.create_app(rezolve.RezolveSandboxConfig(base_url=REZOLVE_URL))


@pytest.fixture
def servicenow_sandbox() -> FastAPI:
    """A fresh ServiceNow sandbox with the demo instance, in process, reachable at SERVICENOW_URL, at the
    sandbox's production defaults, as the connector meets an instance:

    - inbound REST rate limiting is on: one rule, 5000 Table API requests an hour per user (batch items
      count one each), answered with X-RateLimit-Limit/-Reset/-Rule, and over it 429 with Retry-After;
    - OAuth access tokens live 1800 s; the data policies (close values, hold reason) hold; sysparm_limit
      is applied before ACLs (short pages).

    The other ServiceNow sandboxes of the suite start from the same defaults. Only a test about a limit
    itself sets it:
    - connectors/servicenow/test_rate_limits.py: 2 incident inserts an hour, on the limiter's clock
      placed at or inside an hour (`PUT /__sandbox__/rate-limits`);
    - sandboxes/servicenow/test_auth_and_limits.py: small rules, to see the 429 and the rule headers;
    - connectors/servicenow/test_connector.py: a 2000-byte batch input size, so an item is unserviced.
    Not yet at the defaults: the security tests' second instance (security/conftest.py, unthrottled)."""
    return servicenow.create_app(servicenow.ServiceNowSandboxConfig(base_url=SERVICENOW_URL))


@pytest.fixture
def vendor_transport(jira_sandbox: FastAPI, rezolve_sandbox: FastAPI, servicenow_sandbox: FastAPI) -> SandboxRouter:
    """Each sandbox at the host of its URL (a new vendor adds its sandbox fixture and URL here)."""
    sandboxes = {JIRA_URL: jira_sandbox, REZOLVE_URL: rezolve_sandbox, SERVICENOW_URL: servicenow_sandbox}
    return SandboxRouter({httpx.URL(url).host: SandboxTransport(app) for url, app in sandboxes.items()})


@pytest.fixture
async def runtime(settings: Settings, vendor_transport: SandboxRouter) -> AsyncIterator[Runtime]:
    built = Runtime.build(settings)
    built.connectors = ConnectorFactory(transport=vendor_transport)
    try:
        yield built
    finally:
        await built.read_backs.drain()  # none may write once the tables are emptied
        await empty_tables(built.engine)
        await built.close()


@pytest.fixture
async def client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    hooks = {"response": [documented_statuses.recorder(app)]}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", event_hooks=hooks) as http:
        yield http


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    problems = documented_statuses.undocumented()
    if problems:
        print("\nStatuses answered but not documented in /openapi.json:\n  " + "\n  ".join(problems))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def admin_headers() -> Iterator[dict[str, str]]:
    yield {"Authorization": f"Bearer {ADMIN_TOKEN}"}
