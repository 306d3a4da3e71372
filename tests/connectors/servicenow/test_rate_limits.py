"""ServiceNow's inbound REST rate limiting, met by the connector: a rule of a few incident inserts an
hour binds, the instance answers 429 with Retry-After (seconds to the top of the UTC hour, when its
counts reset) and X-RateLimit-Limit/-Reset/-Rule, and every incident is still created exactly once.
On the instance's wall clock the connection's gates count the hour's inserts from those headers
(X-RateLimit-Limit an hour, no X-RateLimit-Remaining) and hold back the ones past the limit unsent.

The rule is set through the sandbox's control plane. The hour is the sandbox limiter's clock, placed
just before or well inside an hour: what a test can choose of ServiceNow's wall clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from tests.support.vendor_cases import control
from ticketbridge.connectors import ConnectorFactory
from ticketbridge.connectors.errors import VendorRetriable
from ticketbridge.connectors.http import ConnectionTransports
from ticketbridge.domain.tickets import CreateItem
from ticketbridge.sandboxes.servicenow import RateLimitConfig, RateLimitRule, ServiceNowSandboxConfig, create_app
from ticketbridge.sandboxes.servicenow.ratelimit import HOUR_SECONDS

from .conftest import Build
from .support import BASE_URL, Instance, make_item

#: Incident inserts an hour the test's rule allows.
INSERTS_PER_HOUR = 2
#: An hour boundary (UTC): 2026-12-01 16:00:00.
TOP_OF_AN_HOUR = 1_796_140_800.0


@dataclass
class LimiterClock:
    """The sandbox limiter's clock: at `now`, standing still, or from its first reading on moving as
    real time does (`running`)."""

    now: float
    running: bool = False
    _since: float | None = None

    def __call__(self) -> float:
        if not self.running:
            return self.now
        if self._since is None:
            self._since = time.monotonic()
        return self.now + time.monotonic() - self._since


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """This module's own sandbox: its rule and clock are what the tests set."""
    return create_app(ServiceNowSandboxConfig(base_url=BASE_URL))


async def limit_inserts(app: FastAPI, instance: Instance, clock: Callable[[], float]) -> None:
    rule = RateLimitRule(
        sys_id="d" * 32, name="incident inserts", table="incident", method="POST", requests_per_hour=INSERTS_PER_HOUR
    )
    await control(instance.http, "PUT", "/rate-limits", json=RateLimitConfig(rules=[rule]).model_dump())
    app.state.runtime.limiter.clock = clock


async def assert_created_once(instance: Instance, items: list[CreateItem], created: dict[str, str]) -> None:
    for item in items:
        found = await instance.incidents(f"correlation_id={item.marker}")
        assert [row["sys_id"] for row in found] == [created[item.key]], item.key


@pytest.mark.parametrize("batch_api", [True, False], ids=["batch", "single"])
async def test_a_429_a_second_before_the_hour_is_waited_out_and_every_insert_made_once(
    app: FastAPI, build: Build, instance: Instance, batch_api: bool
) -> None:
    # The limit binds a second before the hour turns: Retry-After is 1, within the inline wait.
    await limit_inserts(app, instance, LimiterClock(TOP_OF_AN_HOUR - 1, running=True))
    items = [make_item(n) for n in range(INSERTS_PER_HOUR + 1)]

    outcomes = await build(batch_api=batch_api).create_tickets(items)

    assert all(outcome.ticket is not None for outcome in outcomes), outcomes
    created = {outcome.key: outcome.ticket.vendor_id for outcome in outcomes if outcome.ticket is not None}
    await assert_created_once(instance, items, created)
    # One insert more than there are items: the one the rule refused, sent again after the hour turned.
    assert (await instance.calls())["table.incident.POST"] == len(items) + 1


@pytest.mark.parametrize("batch_api", [True, False], ids=["batch", "single"])
async def test_a_429_mid_hour_is_handed_back_with_its_wait_and_the_create_made_once_after_it(
    app: FastAPI, factory: ConnectorFactory, build: Build, instance: Instance, batch_api: bool
) -> None:
    clock = LimiterClock(TOP_OF_AN_HOUR + HOUR_SECONDS / 2)
    await limit_inserts(app, instance, clock)
    connector = build(batch_api=batch_api)
    items = [make_item(n) for n in range(INSERTS_PER_HOUR + 1)]

    first = await connector.create_tickets(items)
    created = {outcome.key: outcome.ticket.vendor_id for outcome in first if outcome.ticket is not None}
    (late,) = [item for item in items if item.key not in created]
    (refused,) = [outcome for outcome in first if outcome.key == late.key]
    assert refused.unknown and "rate limit" in (refused.error or "").lower(), refused  # retried, by marker
    with pytest.raises(VendorRetriable) as waiting:  # nothing written: the whole call waits
        await connector.create_tickets([late], reconcile={late.key})
    # To the top of the hour: the instance's Retry-After, or (single inserts) what is left of the hold
    # it put on the endpoint's gate, which refuses the second attempt before sending it.
    assert waiting.value.is_rate_limit and waiting.value.retry_after == pytest.approx(HOUR_SECONDS / 2, abs=1)

    # The job comes back when Retry-After said: the time has passed here too, the gate's hold with it.
    clock.now += HOUR_SECONDS / 2
    factory.transports = ConnectionTransports.over(factory.transport)  # type: ignore[arg-type]
    (done,) = await build(batch_api=batch_api).create_tickets([late], reconcile={late.key})

    assert done.ticket is not None, done
    created[late.key] = done.ticket.vendor_id
    await assert_created_once(instance, items, created)
    # The refusals, no repeat: a batch item's 429 reaches no gate (the batch call answered 200), so
    # its second attempt is sent and refused again; a single insert's second attempt never left.
    refusals = 2 if batch_api else 1
    assert (await instance.calls())["table.incident.POST"] == len(items) + refusals


async def test_inserts_past_the_hours_limit_wait_at_the_gate_and_none_is_sent_into_a_429(
    app: FastAPI, build: Build, instance: Instance
) -> None:
    # The limiter on the wall clock, as an instance's: its X-RateLimit-Reset (a Unix time) then means
    # here what it means there. The hour's count starts at zero (the rule was just set).
    await limit_inserts(app, instance, time.time)
    connector = build(batch_api=False)
    items = [make_item(n) for n in range(INSERTS_PER_HOUR + 4)]

    first = await connector.create_tickets(items)

    created = {outcome.key: outcome.ticket.vendor_id for outcome in first if outcome.ticket is not None}
    assert len(created) == INSERTS_PER_HOUR, first
    # The first insert went alone and its answer named the hour's limit: the gate let the rest of the
    # hour's inserts go and held back the others unsent, so the instance refused none.
    assert (await instance.calls())["table.incident.POST"] == INSERTS_PER_HOUR
    held = [item for item in items if item.key not in created]
    assert all("rate limit" in (outcome.error or "") for outcome in first if outcome.key not in created), first
    # Until the hour turns: asked again, the gate refuses them before sending, with the wait to the reset.
    with pytest.raises(VendorRetriable) as waiting:
        await connector.create_tickets(held, reconcile={item.key for item in held})
    to_the_hour = HOUR_SECONDS - time.time() % HOUR_SECONDS
    assert waiting.value.is_rate_limit and waiting.value.retry_after == pytest.approx(to_the_hour, abs=2)
    assert (await instance.calls())["table.incident.POST"] == INSERTS_PER_HOUR
    await assert_created_once(instance, [item for item in items if item.key in created], created)
    for item in held:
        assert await instance.incidents(f"correlation_id={item.marker}") == [], item.key
