"""The `ticketbridge` command: serve, worker, db, provisioning, sandboxes, demo.

Each command reads Settings once from the environment and builds what it needs explicitly.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
import uvicorn

from ticketbridge.config import Settings
from ticketbridge.enums import ConnectionState, Vendor
from ticketbridge.errors import TicketbridgeError
from ticketbridge.observability import configure_logging
from ticketbridge.services import connections as connections_service
from ticketbridge.services import organizations as organizations_service
from ticketbridge.services.credential_rotation import DEFAULT_BATCH_SIZE, rotate_credentials
from ticketbridge.services.vendor_sites import SitePolicy
from ticketbridge.state import Runtime
from ticketbridge.store import migrate

app = typer.Typer(
    no_args_is_help=True,
    help="ticketbridge: one API to write tickets into ITSM tools.",
    pretty_exceptions_show_locals=False,  # locals may hold credentials
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema migrations.")
orgs_app = typer.Typer(no_args_is_help=True, help="Organizations.")
keys_app = typer.Typer(no_args_is_help=True, help="API keys.")
connections_app = typer.Typer(no_args_is_help=True, help="Vendor connections.")
secrets_app = typer.Typer(no_args_is_help=True, help="Encryption keys of the stored vendor credentials.")
sandbox_app = typer.Typer(no_args_is_help=True, help="Run a vendor sandbox standalone.")
app.add_typer(db_app, name="db")
app.add_typer(orgs_app, name="orgs")
app.add_typer(keys_app, name="api-keys")
app.add_typer(connections_app, name="connections")
app.add_typer(secrets_app, name="secrets")
app.add_typer(sandbox_app, name="sandbox")

T = TypeVar("T")


def _settings(**overrides: Any) -> Settings:
    settings = Settings(**overrides) if overrides else Settings()
    configure_logging(settings)
    return settings


def _with_runtime(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
    async def run() -> T:
        runtime = Runtime.build(settings)
        try:
            return await work(runtime)
        finally:
            await runtime.close()

    try:
        return asyncio.run(run())
    except TicketbridgeError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        for detail in exc.details:
            typer.echo(f"  {'.'.join(map(str, detail.get('loc', [])))}: {detail.get('msg')}", err=True)
        raise typer.Exit(code=2) from None


def _in_transaction(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    async def run(runtime: Runtime) -> T:
        async with runtime.sessionmaker() as db, db.begin():
            return await work(db)

    return _with_runtime(settings, run)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    worker: Annotated[bool, typer.Option(help="Run the job worker in this process.")] = True,
) -> None:
    """Run the HTTP API (and, unless --no-worker, the in-process job worker)."""
    from ticketbridge.app import create_app

    settings = _settings(worker_enabled=worker)
    if not settings.should_auto_migrate:
        current = _with_runtime(settings, lambda runtime: migrate.current_revision(runtime.engine))
        if current != migrate.head_revision():
            typer.echo(
                f"error: the database is at revision {current}, not {migrate.head_revision()}: "
                "run `ticketbridge db upgrade` first.",
                err=True,
            )
            raise typer.Exit(code=1)
    uvicorn.run(create_app(settings), host=host, port=port, log_config=None)


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at once by this process.")] = 4,
) -> None:
    """Run a job worker (distributed mode): claims jobs from the database until SIGTERM."""
    from ticketbridge.errors import NotMigrated
    from ticketbridge.jobs.worker import run_worker
    from ticketbridge.services.job_handlers import ticket_job_handlers

    settings = _settings()
    try:
        asyncio.run(run_worker(settings, concurrency=concurrency, registry=ticket_job_handlers))
    except NotMigrated as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(code=1) from None


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations (run once per deployment, before `serve --no-worker` and `worker`)."""
    settings = _settings()
    if settings.is_embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    _with_runtime(settings, lambda runtime: migrate.upgrade(runtime.engine, revision))
    typer.echo(f"database at {migrate.head_revision() if revision == 'head' else revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (e.g. `base`)."""
    _with_runtime(_settings(), lambda runtime: migrate.downgrade(runtime.engine, revision))
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the code's head."""
    current = _with_runtime(_settings(), lambda runtime: migrate.current_revision(runtime.engine))
    typer.echo(f"current: {current}  head: {migrate.head_revision()}")


@orgs_app.command("create")
def orgs_create(name: str) -> None:
    """Create an organization."""
    org = _in_transaction(_settings(), lambda db: organizations_service.create_organization(db, name=name))
    _echo_json(org.model_dump(mode="json"))


@orgs_app.command("list")
def orgs_list() -> None:
    """List organizations."""
    orgs = _in_transaction(_settings(), organizations_service.list_organizations)
    _echo_json([org.model_dump(mode="json") for org in orgs])


@keys_app.command("create")
def api_keys_create(organization_id: uuid.UUID, name: str = "default") -> None:
    """Issue an API key; the key is printed once and cannot be shown again."""
    issued = _in_transaction(
        _settings(),
        lambda db: organizations_service.issue_api_key(db, organization_id=organization_id, name=name),
    )
    _echo_json({**issued.key.model_dump(mode="json"), "api_key": issued.plaintext})


@keys_app.command("revoke")
def api_keys_revoke(key_id: uuid.UUID) -> None:
    """Revoke an API key at once."""
    key = _in_transaction(_settings(), lambda db: organizations_service.revoke_api_key(db, key_id))
    _echo_json(key.model_dump(mode="json"))


@connections_app.command("create")
def connections_create(
    organization_id: uuid.UUID,
    vendor: Vendor,
    base_url: Annotated[str, typer.Option(help="Jira site URL or Rezolve API URL")],
    email: Annotated[str | None, typer.Option(help="Jira: account email (with --api-token)")] = None,
    api_token: Annotated[str | None, typer.Option(help="Jira: API token", envvar="JIRA_API_TOKEN")] = None,
    oauth_token: Annotated[str | None, typer.Option(help="Jira: OAuth 2.0 bearer token")] = None,
    tenant_id: Annotated[str | None, typer.Option(help="Rezolve: tenant id")] = None,
    realm: Annotated[str | None, typer.Option(help="Rezolve: Keycloak realm")] = None,
    client_id: Annotated[str | None, typer.Option(help="Rezolve: client id")] = None,
    client_secret: Annotated[
        str | None, typer.Option(help="Rezolve: client secret", envvar="REZOLVE_CLIENT_SECRET")
    ] = None,
) -> None:
    """Connect an organization to a vendor site; credentials are encrypted at rest.

    The vendor is asked at once whether the site and credentials work: the connection is printed as
    it ends up, ACTIVE or PENDING with the failure in its health, and the outcome is said on stderr.
    Exits 0 either way (the connection exists); `connections verify` checks it again."""
    given = {
        "email": email,
        "api_token": api_token,
        "oauth_token": oauth_token,
        "tenant_id": tenant_id,
        "realm": realm,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    data = connections_service.ConnectionCreate(
        organization_id=organization_id,
        vendor=vendor,
        base_url=base_url,
        credentials={key: value for key, value in given.items() if value is not None},
    )
    settings = _settings()
    connection = _with_runtime(settings, lambda runtime: _create_connection(runtime, data))
    _echo_json(connection)
    _echo_verification(connection)


async def _create_connection(runtime: Runtime, data: connections_service.ConnectionCreate) -> dict[str, Any]:
    from ticketbridge.api.models.admin import ConnectionModel
    from ticketbridge.services import verification as verification_service

    connection = await verification_service.create_connection(
        runtime.vendor_access,
        data,
        sites=SitePolicy.from_settings(runtime.settings),
        actor=connections_service.CLI_ACTOR,
    )
    return ConnectionModel.of(connection).model_dump(mode="json")


@connections_app.command("verify")
def connections_verify(connection_id: uuid.UUID) -> None:
    """Ask the vendor again whether the connection's site and credentials work; prints the connection
    as it ends up. Exits 1 unless it is ACTIVE afterwards."""
    connection = _with_runtime(_settings(), lambda runtime: _verify_connection(runtime, connection_id))
    _echo_json(connection)
    _echo_verification(connection)
    if connection["state"] != ConnectionState.ACTIVE:
        raise typer.Exit(code=1)


async def _verify_connection(runtime: Runtime, connection_id: uuid.UUID) -> dict[str, Any]:
    from ticketbridge.api.models.admin import ConnectionModel
    from ticketbridge.services import verification as verification_service

    connection = await verification_service.verify_connection(
        runtime.vendor_access, connection_id, actor=connections_service.CLI_ACTOR
    )
    return ConnectionModel.of(connection).model_dump(mode="json")


def _echo_verification(connection: dict[str, Any]) -> None:
    """The verification outcome, for a person (stderr; stdout keeps the JSON)."""
    health = connection["health"]
    if health["name"] == "HEALTHY":
        outcome = f"verified: the vendor accepted the site and credentials; the connection is {connection['state']}"
    else:
        outcome = f"not verified: {health['name']}: {health['description']}; the connection is {connection['state']}"
        if connection["state"] == ConnectionState.PENDING:
            outcome += f" (fix it, then `ticketbridge connections verify {connection['id']}`)"
    typer.echo(outcome, err=True)


@connections_app.command("list")
def connections_list(organization_id: uuid.UUID | None = None) -> None:
    """List connections with their state and health."""
    from ticketbridge.api.models.admin import ConnectionModel

    connections = _in_transaction(
        _settings(), lambda db: connections_service.list_connections(db, organization_id=organization_id)
    )
    _echo_json([ConnectionModel.of(connection).model_dump(mode="json") for connection in connections])


@connections_app.command("pause")
def connections_pause(connection_id: uuid.UUID) -> None:
    """Pause a connection: its data requests answer 409 until it is made ACTIVE again."""
    settings = _settings()
    patch = connections_service.ConnectionPatch(state=ConnectionState.PAUSED)
    connection = _with_runtime(settings, lambda runtime: _update_connection(runtime, connection_id, patch))
    _echo_json({"id": str(connection_id), "state": connection})


async def _update_connection(
    runtime: Runtime, connection_id: uuid.UUID, patch: connections_service.ConnectionPatch
) -> str:
    async with runtime.sessionmaker() as db, db.begin():
        connection = await connections_service.update_connection(
            db, runtime.cipher, connection_id, patch, actor=connections_service.CLI_ACTOR
        )
    return connection.state.value


@sandbox_app.command("jira")
def sandbox_jira(
    host: str = "127.0.0.1",
    port: int = 8100,
    persist: str | None = None,
    search_lag_ms: Annotated[
        float | None,
        typer.Option(min=0, help="How long /search/jql lags behind writes [default: 2000, as on live Jira]; 0: none."),
    ] = None,
) -> None:
    """Run the Jira Cloud sandbox standalone (seeded with the demo site)."""
    from ticketbridge.sandboxes import jira

    lag = {} if search_lag_ms is None else {"search_lag_ms": search_lag_ms}
    config = jira.JiraSandboxConfig(base_url=f"http://{host}:{port}", persist_path=persist, in_process=False, **lag)
    uvicorn.run(jira.create_app(config), host=host, port=port)


@sandbox_app.command("rezolve")
def sandbox_rezolve(host: str = "127.0.0.1", port: int = 8200, persist: str | None = None) -> None:
    """Run the Rezolve sandbox standalone (seeded with the demo tenant)."""
    from ticketbridge.sandboxes import rezolve

    config = rezolve.RezolveSandboxConfig(base_url=f"http://{host}:{port}", persist_path=persist, in_process=False)
    uvicorn.run(rezolve.create_app(config), host=host, port=port)


@sandbox_app.command("servicenow")
def sandbox_servicenow(host: str = "127.0.0.1", port: int = 8300, persist: str | None = None) -> None:
    """Run the ServiceNow sandbox standalone (seeded with the demo instance, rate limits on)."""
    from ticketbridge.sandboxes import servicenow

    config = servicenow.ServiceNowSandboxConfig(
        base_url=f"http://{host}:{port}", persist_path=persist, in_process=False
    )
    uvicorn.run(servicenow.create_app(config), host=host, port=port)


@app.command()
def demo(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the API, the worker and every sandbox, seeded, and write data/demo-credentials.json."""
    from ticketbridge.demo import run_demo

    asyncio.run(run_demo(_settings(), host=host, port=port))


@connections_app.command("sync")
def connections_sync(connection_id: uuid.UUID) -> None:
    """Enqueue a sync of the connection now (a worker runs it); prints the job id."""
    from ticketbridge.services import sync as sync_service

    job_id = _in_transaction(_settings(), lambda db: sync_service.request_sync(db, connection_id, trigger="cli"))
    _echo_json({"connection_id": str(connection_id), "job_id": str(job_id)})


@secrets_app.command("rotate")
def secrets_rotate(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = DEFAULT_BATCH_SIZE,
) -> None:
    """Re-encrypt every stored credential under the first key of TICKETBRIDGE_SECRETS_KEY, online.

    Put the new key first (TICKETBRIDGE_SECRETS_KEY=new,old) in every process, run this, and remove
    the old key once it reports no failures. Idempotent; exits 1 when some credentials failed.
    """
    report = _with_runtime(
        _settings(),
        lambda runtime: rotate_credentials(
            runtime.sessionmaker, runtime.cipher, actor=connections_service.CLI_ACTOR, batch_size=batch_size
        ),
    )
    _echo_json(
        {
            "rotated": report.rotated,
            "already_current": report.already_current,
            "failed": [str(connection_id) for connection_id in report.failed],
        }
    )
    if report.failed:
        typer.echo("error: no configured key decrypts the credentials of the connections in `failed`", err=True)
        raise typer.Exit(code=1)
