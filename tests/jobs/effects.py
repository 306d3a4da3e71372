"""TEST_EFFECT: a job type whose handler makes one externally visible side effect per item, the way a
connector writes to a vendor, and is safe to re-run the way the Jira connector is.

The "vendor" is a directory: an effect is a file `<job>.<key>.<ref>` holding its reference. Like a
vendor it would happily accept a duplicate, so exactly-once is the engine's and handler's doing: the
handler adopts the ledger's vendor_ref, else searches for an existing effect (the marker search),
and only then writes, noting the reference in the ledger before anything else.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from ticketbridge.jobs.context import JobContext
from ticketbridge.jobs.registry import HandlerRegistry, JobHandler

TEST_EFFECT = "TEST_EFFECT"
REJECTED = "rejected by the test vendor"


def effect_files(effects_dir: Path, job_id: uuid.UUID | str, key: str) -> list[Path]:
    return sorted(effects_dir.glob(f"{job_id}.{key}.*"))


def _find_effect(effects_dir: Path, job_id: uuid.UUID, key: str) -> str | None:
    found = effect_files(effects_dir, job_id, key)
    return found[0].read_text() if found else None


def _make_effect(effects_dir: Path, job_id: uuid.UUID, key: str) -> str:
    ref = uuid.uuid4().hex
    staging = effects_dir / f".{ref}.tmp"
    staging.write_text(ref)
    staging.rename(effects_dir / f"{job_id}.{key}.{ref}")  # appears whole, or not at all
    return ref


async def handle_effect(ctx: JobContext) -> None:
    """Payload: effects_dir; optionally prepare_seconds (work before the write, where a freeze
    lands) and record_seconds (the vendor's answer in flight: a kill there leaves an effect the
    ledger does not know yet). An item whose payload says `reject` fails, as a vendor validation
    error would."""
    effects_dir = Path(ctx.job.payload["effects_dir"])
    prepare = float(ctx.job.payload.get("prepare_seconds", 0))
    record = float(ctx.job.payload.get("record_seconds", 0))
    for item in await ctx.pending_items():
        if item.payload.get("reject"):
            await ctx.item_failed(item.key, error=REJECTED, code="VENDOR_REJECTED")
            continue
        ref = item.vendor_ref or _find_effect(effects_dir, ctx.job.id, item.key)
        if ref is None:
            await asyncio.sleep(prepare)
            ctx.check_lease()
            ref = _make_effect(effects_dir, ctx.job.id, item.key)
            await asyncio.sleep(record)
            await ctx.item_vendor_ref(item.key, ref)
        await ctx.item_succeeded(item.key, vendor_ref=ref, result={"worker_pid": os.getpid()})


def effect_handlers() -> HandlerRegistry:
    return {TEST_EFFECT: JobHandler(handle=handle_effect)}
