"""Field mapping without a vendor: choices, the priority matrix, close requirements, plain text."""

from __future__ import annotations

import pytest

from ticketbridge.connectors.credentials import parse_credentials
from ticketbridge.connectors.errors import VendorRejected
from ticketbridge.connectors.servicenow import mapping
from ticketbridge.connectors.servicenow.credentials import ServiceNowCredentials
from ticketbridge.connectors.servicenow.mapping import Choices, CloseDefaults
from ticketbridge.connectors.servicenow.plaintext import markdown_to_text
from ticketbridge.domain.tickets import TicketChanges
from ticketbridge.enums import Vendor
from ticketbridge.errors import InvalidRequest

CHOICES = Choices.from_rows(
    [
        {"element": "state", "value": "1", "label": "New", "sequence": "1"},
        {"element": "state", "value": "2", "label": "In Progress", "sequence": "2"},
        {"element": "state", "value": "6", "label": "Resolved", "sequence": "3"},
        {"element": "state", "value": "-5", "label": "Awaiting Triage", "sequence": "4"},
        {"element": "state", "value": "9", "label": "Gone", "sequence": "5", "inactive": "true"},
        {"element": "priority", "value": "1", "label": "1 - Critical", "sequence": "1"},
        {"element": "priority", "value": "4", "label": "4 - Low", "sequence": "4"},
        {"element": "category", "value": "network", "label": "Network", "sequence": "1"},
    ]
)


def test_choices_resolve_labels_values_and_priority_words() -> None:
    assert CHOICES.value("state", "in progress") == "2"
    assert CHOICES.value("state", "6") == "6"
    assert CHOICES.value("state", "Awaiting Triage") == "-5"  # a custom state
    assert CHOICES.value("state", "Gone") is None  # inactive choices are not offered
    assert CHOICES.value("priority", "Critical") == "1"
    assert CHOICES.label("state", "2") == "In Progress"


def test_a_priority_is_written_as_impact_and_urgency_from_the_standard_matrix() -> None:
    assert mapping.impact_urgency(CHOICES, "1 - Critical") == {"impact": "1", "urgency": "1"}
    assert mapping.impact_urgency(CHOICES, "Low") == {"impact": "2", "urgency": "3"}
    assert mapping.impact_urgency(CHOICES, "5") == {"impact": "3", "urgency": "3"}
    with pytest.raises(VendorRejected) as refused:
        mapping.impact_urgency(CHOICES, "Urgent")
    assert "priority" in refused.value.field_errors


def test_resolving_without_close_values_names_every_missing_one() -> None:
    with pytest.raises(VendorRejected) as refused:
        CloseDefaults().check_name("Resolved")
    assert set(refused.value.field_errors) == {"close_code", "close_notes"}
    with pytest.raises(VendorRejected) as held:
        CloseDefaults(close_code="Solution provided").check_name("3")
    assert set(held.value.field_errors) == {"hold_reason"}
    CloseDefaults().check_name("In Progress")
    CloseDefaults().check_name("Awaiting Triage")
    defaults = CloseDefaults(close_code="Solution provided", close_notes="Fixed by ticketbridge")
    values = mapping.update_values(TicketChanges(target_status="Resolved"), CHOICES, defaults)
    assert values == {"state": "6", "close_code": "Solution provided", "close_notes": "Fixed by ticketbridge"}


def test_updates_clear_with_empty_strings_and_flatten_markdown() -> None:
    changes = TicketChanges(description="Needs **16 GB**", cleared=frozenset({"assignee_vendor_id"}))
    assert mapping.update_values(changes, CHOICES, CloseDefaults()) == {
        "description": "Needs 16 GB",
        "assigned_to": "",
    }


def test_markdown_becomes_readable_plain_text() -> None:
    text = markdown_to_text("# Outage\n\nSee [the runbook](https://x.test/rb) and `ping`.\n\n- one\n- two\n\n1. a")
    assert text == "Outage\n\nSee the runbook (https://x.test/rb) and ping.\n\n- one\n- two\n\n1. a"
    assert markdown_to_text("plain words\nsecond line") == "plain words\nsecond line"


def test_credentials_are_basic_or_a_complete_oauth_pair_and_a_field_name() -> None:
    basic = parse_credentials(Vendor.SERVICENOW, {"username": "admin", "password": "pw"})
    assert isinstance(basic, ServiceNowCredentials) and basic.marker_field == "correlation_id"
    with pytest.raises(InvalidRequest):
        parse_credentials(Vendor.SERVICENOW, {"username": "admin", "password": "pw", "client_id": "c"})
    with pytest.raises(InvalidRequest):  # never a fragment of an encoded query
        parse_credentials(Vendor.SERVICENOW, {"username": "a", "password": "p", "marker_field": "x^ORactive=true"})
