"""What a failed job tells its tenant: short stable codes and messages, a vendor's words included,
never ours (SQL, bound parameters, exception texts, tracebacks). Those go to the log, under the job id."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from tests.jobs.effects import TEST_EFFECT
from tests.jobs.support import enqueue, load_items, load_job, make_tenant_rows
from tests.test_observability import captured_logs, json_lines
from ticketbridge.config import LogFormat
from ticketbridge.errors import RateLimited, VendorUnavailable
from ticketbridge.jobs import engine
from ticketbridge.jobs.context import JobContext
from ticketbridge.jobs.models import Job, JobItemSpec, JobStatus, RetryLater
from ticketbridge.jobs.registry import JobHandler
from ticketbridge.jobs.worker import Worker
from ticketbridge.state import Runtime
from ticketbridge.store.base import utcnow

PARAM = "bound-parameter-value"
#: What must never reach a tenant: the statement, its parameters, the driver's and Python's words.
INTERNALS = ("no_such_table", "SELECT", PARAM, "Error", "Traceback", "sqlalchemy", "[SQL")


def worker(runtime: Runtime, handle: Any, **overrides: Any) -> Worker:
    return Worker.for_runtime(runtime, handlers={TEST_EFFECT: JobHandler(handle, **overrides)}, concurrency=1)


async def query_a_missing_table(ctx: JobContext) -> None:
    """A store bug: the database error carries the statement and its bound parameters."""
    async with ctx.transaction() as db:
        await db.execute(text("SELECT secret FROM no_such_table WHERE token = :token"), {"token": PARAM * 500})


async def run_failing_job(runtime: Runtime) -> Job:
    tenant = await make_tenant_rows(runtime)
    job = await enqueue(runtime, tenant, items=[JobItemSpec(key="a", request_index=0, known={"identifier": "A"})])
    await worker(runtime, query_a_missing_table).run_until_idle()
    return await load_job(runtime, job.id)


def assert_no_internals(reason: str) -> None:
    for internal in INTERNALS:
        assert internal not in reason, internal


async def test_an_unexpected_error_fails_the_job_with_a_stable_code_and_logs_the_rest(jobs_runtime: Runtime) -> None:
    with captured_logs(jobs_runtime.settings, LogFormat.JSON) as stream:
        failed = await run_failing_job(jobs_runtime)

    assert failed.status is JobStatus.FAILED and failed.failure_reason is not None
    assert_no_internals(failed.failure_reason)
    reason = json.loads(failed.failure_reason)
    message = (
        f"Gave up after 3 attempts; last error: The job failed on our side; it has been logged under job {failed.id}."
    )
    assert (reason["code"], reason["error"]) == ("INTERNAL_ERROR", message)
    assert reason["results"] == [
        {"success": False, "error": message, "code": "INTERNAL_ERROR", "request_index": 0, "identifier": "A"}
    ]
    # The operators' own note is bounded too (the parameters alone run to 10 KB).
    assert failed.last_error is not None and len(failed.last_error) <= 1000

    attempts = json_lines(stream, "jobs.attempt_failed")
    assert [line["attempt"] for line in attempts] == [1, 2, 3]
    for line in attempts:
        assert line["job_id"] == str(failed.id) and line["code"] == "INTERNAL_ERROR"
        exception = line["exception"][0]
        assert exception["exc_type"] in ("OperationalError", "ProgrammingError")  # SQLite, PostgreSQL
        assert "no_such_table" in exception["exc_value"] and PARAM in exception["exc_value"]
        assert "query_a_missing_table" in [frame["name"] for frame in exception["frames"]]
    [gave_up] = json_lines(stream, "jobs.gave_up")
    assert (gave_up["job_id"], gave_up["code"], gave_up["level"]) == (str(failed.id), "INTERNAL_ERROR", "error")


async def test_the_console_log_carries_the_job_id_and_the_traceback(jobs_runtime: Runtime) -> None:
    with captured_logs(jobs_runtime.settings, LogFormat.CONSOLE) as stream:
        failed = await run_failing_job(jobs_runtime)
    logged = stream.getvalue()
    assert f"job_id={failed.id}" in logged and "jobs.attempt_failed" in logged
    assert "Traceback (most recent call last)" in logged and "in query_a_missing_table" in logged
    assert "sqlalchemy.exc." in logged and "no_such_table" in logged


async def test_a_domain_error_keeps_its_own_code_and_message(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant)

    async def vendor_down(_ctx: JobContext) -> None:
        raise VendorUnavailable("JIRA failed: 502 Bad Gateway")

    await worker(jobs_runtime, vendor_down).run_until_idle()
    failed = await load_job(jobs_runtime, job.id)
    assert failed.failure_reason is not None
    reason = json.loads(failed.failure_reason)
    message = "Gave up after 3 attempts; last error: JIRA failed: 502 Bad Gateway"
    assert (reason["code"], reason["error"]) == ("VENDOR_UNAVAILABLE", message)
    assert [(r["code"], r["error"]) for r in reason["results"]] == [("VENDOR_UNAVAILABLE", message)]


async def test_each_failed_item_has_its_code_and_a_bounded_message(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    specs = [JobItemSpec(key=key, request_index=index, known={"identifier": key}) for index, key in enumerate("abc")]
    job = await enqueue(jobs_runtime, tenant, items=specs)

    async def mixed(ctx: JobContext) -> None:
        await ctx.item_failed("a", error="Jira: " + "summary is too long; " * 200, code="VENDOR_REJECTED")
        await ctx.item_failed("b", error="Identifier 'b' is already used by another ticket.", code="IDENTIFIER_TAKEN")
        await ctx.item_succeeded("c", vendor_ref="ACME-3")

    await worker(jobs_runtime, mixed).run_until_idle()
    failed = await load_job(jobs_runtime, job.id)
    assert failed.status is JobStatus.FAILED and failed.failure_reason is not None
    reason = json.loads(failed.failure_reason)
    assert "code" not in reason  # no failure of the job as a whole: only its items failed
    long, taken, done = reason["results"]
    assert long["code"] == "VENDOR_REJECTED" and long["error"].startswith("Jira: summary is too long")
    assert len(long["error"]) == 1000 and long["error"].endswith("…")
    assert (taken["code"], done["code"], done["error"]) == ("IDENTIFIER_TAKEN", None, None)
    items = await load_items(jobs_runtime, job.id)
    assert [item.code for item in items] == ["VENDOR_REJECTED", "IDENTIFIER_TAKEN", None]


async def test_deferrals_that_run_out_keep_the_code_of_their_cause(jobs_runtime: Runtime) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant)

    async def throttled(_ctx: JobContext) -> None:
        try:
            raise RateLimited("JIRA is rate limiting this connection.")
        except RateLimited as exc:
            raise RetryLater(0, exc.message) from exc

    await worker(jobs_runtime, throttled).run_until_idle()
    failed = await load_job(jobs_runtime, job.id)
    assert failed.failure_reason is not None
    reason = json.loads(failed.failure_reason)
    assert reason["code"] == "RATE_LIMITED" and reason["error"].startswith("Still deferred after")
    assert reason["error"].endswith("last reason: JIRA is rate limiting this connection.")


async def test_a_job_whose_last_worker_died_fails_as_ours_and_keeps_its_last_error_for_the_log(
    jobs_runtime: Runtime,
) -> None:
    tenant = await make_tenant_rows(jobs_runtime)
    job = await enqueue(jobs_runtime, tenant)
    lease = jobs_runtime.settings.job_lease_seconds
    start = utcnow()

    async def claim(attempt: int) -> tuple[Any, Job]:
        token, [claimed] = await engine.claim_jobs(
            jobs_runtime.sessionmaker,
            owner=f"dead-{attempt}",
            job_types=[TEST_EFFECT],
            limit=1,
            lease_seconds=lease,
            connection_cap=5,
            now=start + timedelta(seconds=2 * lease * attempt),
        )
        return token, claimed

    token, first = await claim(0)
    internal = f"OperationalError: (sqlite3.OperationalError) database is locked [SQL: UPDATE t SET x = '{PARAM}']"
    await engine.requeue(jobs_runtime.sessionmaker, first, token, run_at=start, error=internal, refund_attempt=False)
    for attempt in (1, 2):  # these workers die: the next claim comes after their lease expired
        await claim(attempt)

    async def never_reached(_ctx: JobContext) -> None:
        raise AssertionError("the attempts are spent")

    later = Worker(
        sessionmaker=jobs_runtime.sessionmaker,
        settings=jobs_runtime.settings,
        handlers={TEST_EFFECT: JobHandler(never_reached)},
        wakeup=jobs_runtime.job_wakeup,
        metrics=jobs_runtime.job_metrics,
        concurrency=1,
        clock=lambda: start + timedelta(seconds=2 * lease * 3),
    )
    with captured_logs(jobs_runtime.settings, LogFormat.JSON) as stream:
        await later.run_until_idle()

    failed = await load_job(jobs_runtime, job.id)
    assert failed.status is JobStatus.FAILED and failed.failure_reason is not None
    assert_no_internals(failed.failure_reason)
    reason = json.loads(failed.failure_reason)
    assert reason["code"] == "INTERNAL_ERROR" and "lease expired" in reason["error"] and str(job.id) in reason["error"]
    [lost] = json_lines(stream, "jobs.worker_lost")
    assert lost["job_id"] == str(job.id) and lost["last_error"] == internal
