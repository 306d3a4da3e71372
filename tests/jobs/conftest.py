"""Engine tests run on both backends with short leases, and fast polls and retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.jobs.support import built_runtime, job_settings
from ticketbridge.state import Runtime


@pytest.fixture
async def jobs_runtime(database_url: str, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with built_runtime(job_settings(database_url, tmp_path)) as runtime:
        yield runtime


@pytest.fixture
def effects_dir(tmp_path: Path) -> Path:
    path = tmp_path / "effects"
    path.mkdir()
    return path
