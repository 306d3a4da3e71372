"""Our normalized vocabularies: what every vendor's statuses and priorities are translated into.

A connector maps its vendor's own words into these (`connectors/<vendor>/mapping.py`); services,
the store and the API see only these, never a vendor's.
"""

from __future__ import annotations

from enum import StrEnum


class StatusCategory(StrEnum):
    """Where a status sits in a ticket's life, whichever vendor's workflow it belongs to.

    The values are what the API has always answered in `vendor_attributes.data.statusCategory` and
    what stored tickets hold (they began as Jira's category keys, which Leen's API passes through),
    so they stay: a member is ours, its value is the wire's."""

    TODO = "new"  #: not started (Jira "To Do", Rezolve's initial status, ServiceNow New)
    IN_PROGRESS = "indeterminate"  #: being worked on, or waiting (On Hold)
    DONE = "done"  #: finished: resolved, closed or cancelled


class NormalizedStatus(StrEnum):
    """A ticket's normalized status (Leen's values); a connection's status mapping targets these."""

    OPEN = "OPEN"
    TODO = "TODO"
    IN_PROGRESS = "IN_PROGRESS"
    IN_REVIEW = "IN_REVIEW"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"


class NormalizedPriority(StrEnum):
    """A ticket's normalized priority (Leen's values); UNKNOWN is for a vendor priority not mapped."""

    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    INFORMATIONAL = "INFORMATIONAL"
    UNKNOWN = "UNKNOWN"
