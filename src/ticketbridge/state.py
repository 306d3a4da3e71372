"""What the running service holds: built once in the lifespan (or by the CLI), handed out explicitly."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketbridge.config import Settings
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.http import VendorHttp
from ticketbridge.crypto import CredentialCipher, load_cipher
from ticketbridge.jobs.metrics import JobMetrics
from ticketbridge.jobs.wakeup import WAKEUP_INFO_KEY, JobWakeup
from ticketbridge.services.auth_cache import AuthCache
from ticketbridge.services.read_backs import ReadBacks
from ticketbridge.services.tokens import TokenLocks, oauth_configs
from ticketbridge.services.vendors import VendorAccess
from ticketbridge.store.base import create_engine, create_sessionmaker, utcnow


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: CredentialCipher
    #: Set when an enqueue commits in this process, so this process's worker claims at once.
    job_wakeup: JobWakeup = field(default_factory=JobWakeup)
    job_metrics: JobMetrics = field(default_factory=JobMetrics)
    #: Builds vendor connectors; tests and the demo give it a transport that reaches the sandboxes.
    connectors: ConnectorFactory = field(default_factory=ConnectorFactory)
    #: The request path's key and connection lookups (a second stale at most across processes).
    auth_cache: AuthCache = field(default_factory=AuthCache)
    #: OAuth token refreshes of this process queue here, one per connection at a time.
    token_locks: TokenLocks = field(default_factory=TokenLocks)
    #: "Now" for OAuth token expiries and the idle-expiry sweep; a test moves it with a sandbox's clock.
    clock: Callable[[], datetime] = utcnow
    #: Provisional tickets this process's creates answered with, being read back from the vendor.
    read_backs: ReadBacks = field(default_factory=ReadBacks)

    @property
    def vendor_access(self) -> VendorAccess:
        return VendorAccess(
            sessionmaker=self.sessionmaker,
            cipher=self.cipher,
            factory=self.connectors,
            claim_ttl_seconds=self.settings.job_lease_seconds,
            search_settle_seconds=self.settings.vendor_search_settle_seconds,
            oauth_apps=oauth_configs(self.settings, self.connectors.registry),
            token_locks=self.token_locks,
            clock=self.clock,
            read_backs=self.read_backs,
        )

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.effective_database_pool_size,
            max_overflow=settings.database_max_overflow,
            statement_cache_size=settings.database_statement_cache_size,
        )
        sessionmaker = create_sessionmaker(engine)
        auth_cache = AuthCache(ttl_seconds=settings.auth_cache_ttl_seconds)
        auth_cache.watch(sessionmaker)
        wakeup = JobWakeup()
        # Every session carries the wake-up, so enqueue_job can wake the worker on commit.
        sessionmaker.configure(info={WAKEUP_INFO_KEY: wakeup})
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            cipher=load_cipher(settings),
            job_wakeup=wakeup,
            auth_cache=auth_cache,
            connectors=ConnectorFactory(http=VendorHttp.from_settings(settings)),
        )

    async def close(self) -> None:
        await self.read_backs.aclose()
        await self.connectors.aclose()
        await self.engine.dispose()
