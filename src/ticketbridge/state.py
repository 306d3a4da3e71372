"""What the running service holds: built once in the lifespan (or by the CLI), handed out explicitly."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketbridge.config import Settings
from ticketbridge.crypto import CredentialCipher, load_cipher
from ticketbridge.store.base import create_engine, create_sessionmaker


@dataclass(slots=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: CredentialCipher

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        engine = create_engine(settings.database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            cipher=load_cipher(settings),
        )

    async def close(self) -> None:
        await self.engine.dispose()
