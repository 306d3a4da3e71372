"""Settings: the vendor timeout and retry budget must fit in a third of the job lease."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ticketbridge.config import Settings


def test_defaults_keep_one_vendor_call_within_a_third_of_the_lease() -> None:
    settings = Settings()
    assert settings.effective_vendor_timeout_seconds == 8.0
    assert settings.effective_vendor_retry_budget_seconds == pytest.approx(9.0)
    assert settings.vendor_call_worst_case_seconds <= settings.job_lease_seconds / 3


def test_a_short_lease_alone_shrinks_the_defaults_with_it() -> None:
    settings = Settings(job_lease_seconds=2.0)
    assert settings.vendor_call_worst_case_seconds <= 2.0 / 3
    assert settings.effective_vendor_timeout_seconds <= settings.effective_vendor_retry_budget_seconds


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vendor_timeout_seconds": 30.0}, "TICKETBRIDGE_VENDOR_TIMEOUT_SECONDS=30 is longer than the retry budget"),
        ({"vendor_retry_budget_seconds": 25.0}, "more than a third of TICKETBRIDGE_JOB_LEASE_SECONDS=30"),
        (
            {"job_lease_seconds": 12.0, "vendor_timeout_seconds": 8.0, "vendor_retry_budget_seconds": 9.0},
            "one vendor call can last 9 s",
        ),
    ],
)
def test_a_vendor_call_that_could_outlive_a_third_of_the_lease_is_refused(
    overrides: dict[str, float], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**overrides)


def test_the_environment_is_validated_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TICKETBRIDGE_VENDOR_TIMEOUT_SECONDS", "6")
    monkeypatch.setenv("TICKETBRIDGE_VENDOR_RETRY_ATTEMPTS", "3")
    monkeypatch.setenv("TICKETBRIDGE_VENDOR_RETRY_BUDGET_SECONDS", "20")
    monkeypatch.setenv("TICKETBRIDGE_JOB_LEASE_SECONDS", "45")
    with pytest.raises(ValidationError, match="lower the vendor timeout, the attempts or the retry budget"):
        Settings()
    monkeypatch.setenv("TICKETBRIDGE_VENDOR_RETRY_ATTEMPTS", "1")
    assert Settings().vendor_call_worst_case_seconds == 6.0  # one attempt: its timeout, whatever the budget


def test_cors_origins_are_empty_by_default_and_split_on_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().cors_origins == [] and Settings().cors_origin_regex is None
    monkeypatch.setenv("TICKETBRIDGE_CORS_ORIGINS", "https://app.example, https://admin.example")
    assert Settings().cors_origins == ["https://app.example", "https://admin.example"]
