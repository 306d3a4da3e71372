"""Jira's asynchronous bulk-operation tasks: a queue advanced in steps, with progress and per-issue failures.

Jira runs bulk transitions and edits in the background. Here a task advances one step (a few issues)
each time the site receives a request, or every `bulk_step_ms` of wall-clock time when that is set:
progress is observable and deterministic in process, and nothing sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

#: Applies the operation to one issue id; returns failure reasons, empty on success.
Operation = Callable[[int], list[str]]


class TaskStatus(StrEnum):
    ENQUEUED = "ENQUEUED"  #: submitted, not started
    RUNNING = "RUNNING"  #: some issues processed
    COMPLETE = "COMPLETE"  #: every issue processed; per-issue failures may remain


@dataclass
class BulkTask:
    id: str
    submitted_by: str
    issue_ids: list[int]
    operation: Operation
    invalid_count: int
    created_ms: int
    status: TaskStatus = TaskStatus.ENQUEUED
    started_ms: int | None = None
    updated_ms: int = 0
    position: int = 0
    processed: list[int] = field(default_factory=list)
    failed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_active(self) -> bool:
        return self.status in {TaskStatus.ENQUEUED, TaskStatus.RUNNING}

    def progress_json(self) -> dict[str, Any]:
        total = len(self.issue_ids)
        body: dict[str, Any] = {
            "taskId": self.id,
            "status": self.status.value,
            "progressPercent": 100 if not total else self.position * 100 // total,
            "submittedBy": {"accountId": self.submitted_by},
            # The schema says date-time strings, but every example of this operation uses epoch ms.
            "created": self.created_ms,
            "updated": self.updated_ms or self.created_ms,
            "totalIssueCount": total + self.invalid_count,
            "invalidOrInaccessibleIssueCount": self.invalid_count,
        }
        if self.started_ms is not None:
            body["started"] = self.started_ms
        if self.status is TaskStatus.COMPLETE or self.processed:
            body["processedAccessibleIssues"] = list(self.processed)
        if self.failed:
            body["failedAccessibleIssues"] = dict(self.failed)
        return body


class BulkQueue:
    def __init__(
        self,
        *,
        step_issues: int,
        step_ms: float,
        max_active: int,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.step_issues = step_issues
        self.step_ms = step_ms
        self.max_active = max_active
        self._clock_ms = clock_ms
        self.tasks: dict[str, BulkTask] = {}
        self._next_id = 10000
        self._last_step_ms = 0

    def is_full(self) -> bool:
        return sum(t.is_active for t in self.tasks.values()) >= self.max_active

    def submit(self, submitted_by: str, issue_ids: list[int], operation: Operation, invalid_count: int) -> BulkTask:
        task_id = str(self._next_id)
        self._next_id += 1
        task = BulkTask(task_id, submitted_by, issue_ids, operation, invalid_count, self._clock_ms())
        self.tasks[task_id] = task
        return task

    def advance(self) -> None:
        """Runs the steps due; called on every request the site receives."""
        active = [t for t in self.tasks.values() if t.is_active]
        if not active:
            # Idle time does not count: a task submitted later starts from its first step.
            self._last_step_ms = 0
            return
        now = self._clock_ms()
        if self.step_ms:
            steps = int((now - self._last_step_ms) // self.step_ms) if self._last_step_ms else 1
            if not steps:
                return
        else:
            steps = 1
        self._last_step_ms = now
        for task in active:
            for _ in range(steps):
                self._step(task, now)

    def _step(self, task: BulkTask, now: int) -> None:
        if task.status is TaskStatus.ENQUEUED:
            task.status, task.started_ms = TaskStatus.RUNNING, now
        batch = task.issue_ids[task.position : task.position + self.step_issues]
        for issue_id in batch:
            reasons = task.operation(issue_id)
            if reasons:
                task.failed[str(issue_id)] = reasons
            else:
                task.processed.append(issue_id)
        task.position += len(batch)
        task.updated_ms = now
        if task.position >= len(task.issue_ids):
            task.status = TaskStatus.COMPLETE
