"""The `ticketbridge` command: serve, worker, db, provisioning, sandboxes, demo.

Each command reads Settings once from the environment and builds what it needs explicitly.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
import webbrowser
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn, TypeVar, get_args

import typer
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from ticketbridge.cli_callback import CallbackListener, NotLoopback, loopback_address
from ticketbridge.config import Settings
from ticketbridge.connectors import default_registry
from ticketbridge.connectors.base import ConnectorSpec
from ticketbridge.enums import ConnectionState, Vendor
from ticketbridge.errors import TicketbridgeError
from ticketbridge.jobs.worker import freeze_startup_heap
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


@dataclass(frozen=True, slots=True)
class CredentialOption:
    """One `connections create` option: a field of one or more vendors' credentials models."""

    field: str
    is_flag: bool
    #: Secrets may also come from the environment (TICKETBRIDGE_CREDENTIAL_<FIELD>), out of the
    #: shell's history and the process list.
    is_secret: bool
    help: str

    @property
    def envvar(self) -> str | None:
        return f"TICKETBRIDGE_CREDENTIAL_{self.field.upper()}" if self.is_secret else None

    def parameter(self) -> inspect.Parameter:
        flag = f"--{self.field.replace('_', '-')}"
        annotation: Any
        if self.is_flag:
            annotation = Annotated[bool | None, typer.Option(f"{flag}/--no-{flag[2:]}", help=self.help)]
        else:
            option = typer.Option(flag, help=self.help, envvar=self.envvar, show_envvar=self.is_secret)
            annotation = Annotated[str | None, option]
        return inspect.Parameter(self.field, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=None)


def credential_options(specs: Iterable[ConnectorSpec]) -> list[CredentialOption]:
    """An option per field of the specs' credentials models (a field several vendors share is one
    option), so a vendor added to the registry needs no edit here."""
    uses: dict[str, list[tuple[ConnectorSpec, FieldInfo]]] = {}
    for spec in specs:
        for name, info in spec.credentials_model.model_fields.items():
            uses.setdefault(name, []).append((spec, info))
    options = []
    for name, used_by in uses.items():
        vendors = ", ".join(f"{spec.title}{'' if info.is_required() else ' (optional)'}" for spec, info in used_by)
        options.append(
            CredentialOption(
                field=name,
                is_flag=all(info.annotation is bool for _, info in used_by),
                is_secret=any(SecretStr in (get_args(info.annotation) or (info.annotation,)) for _, info in used_by),
                help=f"Credentials `{name}` of {vendors}.",
            )
        )
    return options


CREDENTIAL_OPTIONS = credential_options(default_registry().values())


def connections_create(organization_id: uuid.UUID, vendor: Vendor, base_url: str, **credentials: Any) -> None:
    """Connect an organization to a vendor site; credentials are encrypted at rest. Each vendor takes the
    fields of its credentials model as options (see each option for which vendor reads it); a site
    connected by OAuth consent is made with `connections authorize` instead.

    The vendor is asked at once whether the site and credentials work: the connection is printed as
    it ends up, ACTIVE or PENDING with the failure in its health, and the outcome is said on stderr.
    Exits 0 either way (the connection exists); `connections verify` checks it again."""
    data = connections_service.ConnectionCreate(
        organization_id=organization_id,
        vendor=vendor,
        base_url=base_url,
        credentials={key: value for key, value in credentials.items() if value is not None},
    )
    settings = _settings()
    connection = _with_runtime(settings, lambda runtime: _create_connection(runtime, data))
    _echo_json(connection)
    _echo_verification(connection)


def _base_url_help(specs: Iterable[ConnectorSpec]) -> str:
    return "; ".join(f"{spec.vendor}: {spec.base_url_hint}" for spec in specs)


# The options are the registry's credentials fields, so the signature typer reads is made here.
setattr(  # noqa: B010 (a function's __signature__ cannot be assigned as an attribute under mypy)
    connections_create,
    "__signature__",
    inspect.Signature(
        [
            inspect.Parameter("organization_id", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=uuid.UUID),
            inspect.Parameter("vendor", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Vendor),
            inspect.Parameter(
                "base_url",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[str, typer.Option(help=_base_url_help(default_registry().values()))],
            ),
            *(option.parameter() for option in CREDENTIAL_OPTIONS),
        ]
    ),
)
connections_app.command("create")(connections_create)


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


@connections_app.command("authorize")
def connections_authorize(
    organization: Annotated[uuid.UUID, typer.Option(help="The organization the connection is for.")],
    vendor: Annotated[
        str | None, typer.Option(help="The vendor's OAuth name (`jira`); the only vendor with OAuth when omitted.")
    ] = None,
    site_url: Annotated[str | None, typer.Option(help="The site to connect, by its URL.")] = None,
    cloud_id: Annotated[str | None, typer.Option(help="The site to connect, by its id (Jira's cloudId).")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Also open the URL in this machine's browser.")] = False,
) -> None:
    """Connect a site by OAuth 2.0 consent (3LO), as the admin API's authorize endpoint and its callback
    do: prints the consent URL to send the customer to (stderr), waits for the callback, then prints
    the connection (stdout) as the callback answers it.

    The command receives the callback itself, on the OAuth app's redirect URI, which must therefore be
    an http URL on this machine's loopback interface (http://127.0.0.1:<port>/...) that no API process
    serves. When the grant reaches several sites and none was named, it lists them and asks for one.
    Exits 2 when the flow fails (denied consent, missing scopes, the state expired)."""
    if site_url is not None and cloud_id is not None:
        raise typer.BadParameter("name the site by --site-url or by --cloud-id, not both")
    settings = _settings()
    result = _with_runtime(
        settings,
        lambda runtime: _authorize(
            runtime, organization, vendor, site_url=site_url, cloud_id=cloud_id, open_browser=open_browser
        ),
    )
    _echo_json(result)
    _echo_verification(result["connection"])


async def _authorize(
    runtime: Runtime,
    organization_id: uuid.UUID,
    vendor: str | None,
    *,
    site_url: str | None,
    cloud_id: str | None,
    open_browser: bool,
) -> dict[str, Any]:
    from ticketbridge.api.models.admin import ConnectionModel
    from ticketbridge.services import oauth as oauth_service

    access = runtime.vendor_access
    slug = vendor or _only_oauth_vendor(runtime)
    config = oauth_service.oauth_config(access, slug)
    sites = SitePolicy.from_settings(runtime.settings)

    async def finish(query: dict[str, str]) -> oauth_service.ConnectResult:
        return await oauth_service.finish_authorization(
            access,
            state=query["state"],
            code=query.get("code"),
            error=query.get("error"),
            error_description=query.get("error_description"),
            sites=sites,
            actor=connections_service.CLI_ACTOR,
            vendor=slug,
        )

    try:
        address = loopback_address(config.app.redirect_uri)
    except NotLoopback:
        _fail(
            f"the OAuth app's redirect URI {config.app.redirect_uri} is not a loopback http URL, so this command "
            "cannot receive the callback: start the flow with POST /v1/admin/organizations/{org_id}/connections/"
            f"{slug}/authorize, whose callback reaches the API."
        )
    async with runtime.sessionmaker.begin() as db:
        start = await oauth_service.start_authorization(
            db, runtime.cipher, config, organization_id, site_url=site_url, cloud_id=cloud_id
        )
    listener = CallbackListener(config.app.redirect_uri, start.state, finish)
    try:
        await listener.listen()
    except OSError as exc:
        _fail(f"cannot listen on {address[0]}:{address[1]} for the callback ({exc.strerror}); is an API serving it?")
    try:
        typer.echo(f"Send the customer to this URL (valid until {start.expires_at:%H:%M:%S} UTC):", err=True)
        typer.echo(start.authorize_url, err=True)
        typer.echo(f"Waiting for the callback on {config.app.redirect_uri} ...", err=True)
        browser = asyncio.create_task(asyncio.to_thread(webbrowser.open, start.authorize_url)) if open_browser else None
        try:
            result = await listener.wait(until_epoch_seconds=start.expires_at.timestamp())
        except TimeoutError:
            _fail("no callback came before the consent URL expired: run the command again.")
        except oauth_service.SiteChoiceRequired as choice:
            result = await oauth_service.complete_authorization(
                access,
                organization_id,
                state=start.state,
                cloud_id=_choose_site(choice),
                sites=sites,
                actor=connections_service.CLI_ACTOR,
                vendor=slug,
            )
        if browser is not None:
            await browser
    finally:
        await listener.close()
    return {
        "connection": ConnectionModel.of(result.connection).model_dump(mode="json"),
        "cloud_id": result.cloud_id,
        "site_url": result.site_url,
        "scopes": list(result.scopes),
        "access_token_expires_at": result.access_token_expires_at.isoformat(),
    }


def _only_oauth_vendor(runtime: Runtime) -> str:
    slugs = sorted(spec.oauth.slug for spec in runtime.connectors.registry.values() if spec.oauth is not None)
    if len(slugs) != 1:
        _fail(f"name the vendor with --vendor: {', '.join(slugs) or 'none'} connect by OAuth")
    return slugs[0]


def _choose_site(choice: TicketbridgeError) -> str:
    """The site the person at the terminal picks among those the grant reaches."""
    sites: list[dict[str, str]] = choice.details[0]["sites"]
    typer.echo(f"The grant reaches {len(sites)} sites; choose one:", err=True)
    for site in sites:
        typer.echo(f"  {site['cloud_id']}  {site['url']}  ({site['name']})", err=True)
    chosen: str = typer.prompt("cloud_id", err=True)
    return chosen.strip()


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


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
    _run_sandbox(jira.create_app(config), host=host, port=port)


def _run_sandbox(app: FastAPI, *, host: str, port: int) -> None:
    """A standalone sandbox, what it built at startup (the vendor's API description, the demo data)
    frozen out of the garbage collector's reach: full collections walking it paused the sandbox
    for 30-150 ms, which a client (and a benchmark) then saw as vendor latency."""
    freeze_startup_heap()
    uvicorn.run(app, host=host, port=port)


@sandbox_app.command("rezolve")
def sandbox_rezolve(host: str = "127.0.0.1", port: int = 8200, persist: str | None = None) -> None:
    """Run the Rezolve sandbox standalone (seeded with the demo tenant)."""
    from ticketbridge.sandboxes import rezolve

    config = rezolve.RezolveSandboxConfig(base_url=f"http://{host}:{port}", persist_path=persist, in_process=False)
    _run_sandbox(rezolve.create_app(config), host=host, port=port)


@sandbox_app.command("servicenow")
def sandbox_servicenow(host: str = "127.0.0.1", port: int = 8300, persist: str | None = None) -> None:
    """Run the ServiceNow sandbox standalone (seeded with the demo instance, rate limits on)."""
    from ticketbridge.sandboxes import servicenow

    config = servicenow.ServiceNowSandboxConfig(
        base_url=f"http://{host}:{port}", persist_path=persist, in_process=False
    )
    _run_sandbox(servicenow.create_app(config), host=host, port=port)


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
