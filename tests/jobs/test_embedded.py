"""The embedded mode: the app's lifespan runs the worker, which an enqueue's commit wakes."""

from __future__ import annotations

from pathlib import Path

from tests.jobs.effects import effect_handlers
from tests.jobs.processes import wait_for
from tests.jobs.support import built_runtime, enqueue, job_settings, load_job, make_tenant_rows
from ticketbridge.app import create_app
from ticketbridge.jobs.models import JobStatus


async def test_the_apps_lifespan_runs_the_worker(database_url: str, tmp_path: Path, effects_dir: Path) -> None:
    # A poll far longer than the test: the job can only be picked up through the wake-up.
    settings = job_settings(database_url, tmp_path, worker_enabled=True, job_poll_interval_seconds=3600)
    async with built_runtime(settings) as runtime:
        tenant = await make_tenant_rows(runtime)
        app = create_app(settings, runtime=runtime, job_handlers=lambda _runtime: effect_handlers())
        async with app.router.lifespan_context(app):
            job = await enqueue(runtime, tenant, payload={"effects_dir": str(effects_dir)})

            async def finished() -> bool:
                return (await load_job(runtime, job.id)).status.is_finished

            await wait_for(finished, "the in-process worker to run the job", every_seconds=0.02)
        assert (await load_job(runtime, job.id)).status is JobStatus.SUCCESS
