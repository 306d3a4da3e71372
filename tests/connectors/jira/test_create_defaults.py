"""The learned create defaults answer creates for `LEARNED_TTL_SECONDS`, then a create reads back again."""

from __future__ import annotations

from ticketbridge.connectors.base import MetadataCache
from ticketbridge.connectors.jira import mapping
from ticketbridge.connectors.jira.create_defaults import LEARNED_TTL_SECONDS, CreateDefaults
from ticketbridge.domain.tickets import CreateItem, VendorTicket
from ticketbridge.domain.vocabulary import StatusCategory


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def item(**changes: object) -> CreateItem:
    fields: dict[str, object] = {
        "key": "0", "marker": "tb-m", "name": "Exposed bucket", "project_vendor_id": "DEMO",
        "type_vendor_id": None, "type_name": "Task", "description": None, "priority_name": None,
        "assignee_vendor_id": None, "parent_vendor_id": None, "target_status": None,
    }  # fmt: skip
    return CreateItem.model_validate({**fields, **changes})


def issue(**changes: object) -> VendorTicket:
    fields: dict[str, object] = {
        "vendor_id": "10001", "key": "DEMO-1", "project_vendor_id": "DEMO", "type_name": "Task",
        "type_vendor_id": "10002", "status_name": "To Do", "status_category": StatusCategory.TODO,
        "priority_name": "Medium", "assignee_vendor_id": None, "reporter_vendor_id": "u-1",
        "parent_vendor_id": None, "name": "Exposed bucket", "description": None, "labels": ("tb-m",),
        "url": "https://site/browse/DEMO-1", "created_at": None, "updated_at": None,
        "version": mapping.UNCHANGED_SINCE_CREATED,
    }  # fmt: skip
    return VendorTicket.model_validate({**fields, **changes})


def test_defaults_answer_creates_until_they_are_too_old_to_trust() -> None:
    clock = Clock()
    defaults = CreateDefaults(MetadataCache(), clock=clock)
    placeholder = issue(status_name=None, status_category=None, priority_name=None, version="created")
    assert defaults.complete(item(), placeholder) is None  # nothing learned yet: read back

    defaults.learn(item(), issue())
    clock.now += LEARNED_TTL_SECONDS
    completed = defaults.complete(item(), placeholder)
    assert completed is not None
    assert (completed.status_name, completed.priority_name, completed.type_vendor_id) == ("To Do", "Medium", "10002")

    clock.now += 1
    assert defaults.complete(item(), placeholder) is None  # stale: the next create reads back and learns again


def test_an_issue_changed_since_its_creation_teaches_nothing() -> None:
    defaults = CreateDefaults(MetadataCache(), clock=Clock())
    defaults.learn(item(), issue(version="2026-12-01T10:00:00.000+0000"))
    assert defaults.complete(item(), issue(status_name=None)) is None
