"""Job bodies: JobResponseModel keeps Leen's title; the job itself is documented here."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from ticketbridge.jobs.models import JobStatus, JobType
from ticketbridge.services.jobs import JobPage, JobView

_JOB_TYPES = ", ".join(job_type.value for job_type in JobType)


class JobResponseModel(BaseModel):
    """Response model for job creation endpoints that return a job ID."""

    model_config = ConfigDict(title="JobResponseModel")

    job_id: str = Field(title="Job Id", description="Job ID for tracking async operation status")


class JobProgressModel(BaseModel):
    total: int = Field(description="Items in the job")
    processed: int = Field(description="Items done, successfully or not")
    succeeded: int
    failed: int


class JobItemResultModel(BaseModel):
    """One item's outcome: the same shape as the sync bulk endpoint's results."""

    request_index: int = Field(description="Position of the item in the original request")
    success: bool
    ticket_id: str | None = Field(description="Our ticket UUID, when the ticket is stored locally")
    vendor_ticket_id: str | None = Field(description="The vendor's ticket reference, e.g. a Jira key")
    identifier: str | None = Field(description="The create request's tracking identifier")
    error: str | None
    code: str | None = Field(
        default=None,
        description="The failure's stable code beside `error`, e.g. VENDOR_REJECTED, VENDOR_UNAUTHORIZED, "
        "NOT_FOUND, INTERNAL_ERROR; null on success",
    )
    details: list[dict[str, Any]] = Field(
        default_factory=list,
        description="With code INVALID_FIELDS, one entry per field problem: loc (down to "
        "custom_fields.<id>), msg, and type: required_missing, not_settable, invalid_option (with "
        "`allowed`), wrong_type or ambiguous_name (with `candidates`). Left out when empty, so the "
        "result keeps Leen's shape",
    )

    @model_serializer(mode="wrap")
    def _without_empty_details(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if not data.get("details"):
            data.pop("details", None)
        return data


class JobModel(BaseModel):
    id: uuid.UUID
    job_type: str = Field(description=f"One of {_JOB_TYPES}")
    status: JobStatus = Field(description="QUEUED -> RUNNING -> SUCCESS or FAILED")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: JobProgressModel
    failure_reason: str | None = Field(
        description="On FAILED, a JSON object as text: total, succeeded, failed and results[] "
        "(success, error, code, request_index, and identifier for creates or ticket_id for updates); "
        "when the job gave up as a whole, also `error` and `code`. Messages are short and at most "
        "1,000 characters; the details are logged under the job id. Null otherwise."
    )
    results: list[JobItemResultModel] = Field(
        description="Per-item outcomes of the items processed so far, by request_index; complete once "
        "the job has finished, on SUCCESS as on FAILED."
    )

    @classmethod
    def of(cls, view: JobView) -> JobModel:
        job = view.job
        return cls(
            id=job.id,
            job_type=job.job_type,
            status=job.visible_status,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            progress=JobProgressModel(
                total=view.progress.total,
                processed=view.progress.processed,
                succeeded=view.progress.succeeded,
                failed=view.progress.failed,
            ),
            failure_reason=job.failure_reason if job.status is JobStatus.FAILED else None,
            results=[JobItemResultModel.model_validate(result, from_attributes=True) for result in view.results],
        )


class JobListModel(BaseModel):
    items: list[JobModel]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")

    @classmethod
    def of(cls, page: JobPage) -> JobListModel:
        return cls(items=[JobModel.of(view) for view in page.items], next_cursor=page.next_cursor)
