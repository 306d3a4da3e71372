"""Timestamps are timezone-aware UTC on both databases, whatever zone they were written in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import StatementError

from ticketbridge.state import Runtime
from ticketbridge.store import organizations


async def test_timestamps_come_back_as_aware_utc(runtime: Runtime) -> None:
    paris = timezone(timedelta(hours=1))
    async with runtime.sessionmaker.begin() as db:
        org = await organizations.create_organization(db, name="Acme")
        key = await organizations.create_api_key(db, organization_id=org.id, name="k", prefix="tb_x", key_hash="h" * 64)
        await organizations.touch_api_key(db, key, now=datetime(2026, 1, 1, 13, 0, tzinfo=paris))
    async with runtime.sessionmaker.begin() as db:
        (stored,) = await organizations.list_api_keys(db, org.id)
    assert stored.last_used_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert stored.last_used_at is not None and stored.last_used_at.utcoffset() == timedelta(0)
    assert stored.created_at.tzinfo is not None


async def test_a_naive_timestamp_is_refused(runtime: Runtime) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with runtime.sessionmaker.begin() as db:
            org = await organizations.create_organization(db, name="Acme")
            key = await organizations.create_api_key(db, organization_id=org.id, name="k", prefix="p", key_hash="x")
            await organizations.touch_api_key(db, key, now=datetime(2026, 1, 1, 12, 0))
