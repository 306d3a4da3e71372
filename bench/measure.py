"""A/B measurement: interleaved repetitions, medians, per-pair ratios, and the result of one scenario.

The machine is shared, so a figure alone means little; a ratio taken from A and B run back to back
does. Repetition i runs A then B when i is even and B then A when it is odd (ABBA), so a drift in the
machine's load lands on both sides. The ratio of pair i is A_i / B_i; its median, min and max are
reported, with the median of each side. The harness's own garbage collection never lands in a timed
run: each run starts after a full collection, with the collector off until it ends (a full
collection of this process took up to 140 ms, counted against whichever side it fell in).
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Better = Literal["lower", "higher"]


@dataclass(frozen=True)
class Pairs:
    a: list[float]
    b: list[float]

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.a, self.b, strict=True) if b > 0]


async def interleave(
    run_a: Callable[[], Awaitable[float]],
    run_b: Callable[[], Awaitable[float]],
    *,
    repetitions: int,
    warmup: int = 1,
) -> Pairs:
    """`repetitions` figures of each side, alternating ABBA, after `warmup` unrecorded runs of each."""
    for _ in range(warmup):
        await _collected_before(run_a)
        await _collected_before(run_b)
    a: list[float] = []
    b: list[float] = []
    for index in range(repetitions):
        if index % 2 == 0:
            a.append(await _collected_before(run_a))
            b.append(await _collected_before(run_b))
        else:
            b.append(await _collected_before(run_b))
            a.append(await _collected_before(run_a))
    return Pairs(a, b)


async def _collected_before(run: Callable[[], Awaitable[float]]) -> float:
    gc.collect()
    gc.freeze()  # what survived stays out of the next collections' walk: they take milliseconds, not 100+
    gc.disable()
    try:
        return await run()
    finally:
        gc.enable()


@dataclass
class Calls:
    """Vendor calls (the sandbox's /__sandbox__/calls) per unit of work, beside the least possible."""

    ticketbridge: float | None = None
    baseline: float | None = None
    minimum: float | None = None
    detail: dict[str, float] = field(default_factory=dict)  #: ticketbridge's, per operationId

    def text(self) -> str:
        if self.ticketbridge is None:
            return "-"
        parts = [_num(self.ticketbridge)]
        parts.append(f"bare {_num(self.baseline)}" if self.baseline is not None else "")
        parts.append(f"min {_num(self.minimum)}" if self.minimum is not None else "")
        return " / ".join(part for part in parts if part)


@dataclass
class Result:
    """One row of the table and one object in latest.json."""

    name: str
    unit: str
    target: str
    ticketbridge: float | None = None
    baseline: float | None = None
    better: Better = "lower"
    ratio_median: float | None = None
    ratio_min: float | None = None
    ratio_max: float | None = None
    target_met: bool | None = None
    calls: Calls = field(default_factory=Calls)
    repetitions: int = 0
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None  #: why the scenario did not run (no figures then)

    def with_pairs(self, pairs: Pairs) -> Result:
        ratios = pairs.ratios
        self.ticketbridge = statistics.median(pairs.a)
        self.baseline = statistics.median(pairs.b)
        self.repetitions = len(pairs.a)
        if ratios:
            self.ratio_median = statistics.median(ratios)
            self.ratio_min, self.ratio_max = min(ratios), max(ratios)
        return self

    def check(self, limit: float) -> Result:
        """Target on the ratio's median: at most `limit` (better lower) or at least `limit` (higher)."""
        if self.ratio_median is not None:
            self.target_met = self.ratio_median <= limit if self.better == "lower" else self.ratio_median >= limit
        return self

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def skipped(name: str, unit: str, target: str, reason: str) -> Result:
    return Result(name=name, unit=unit, target=target, skipped=reason)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"
