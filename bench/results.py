"""The run's record: the table on stdout, bench/results/latest.json, one line in history.jsonl."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.measure import Result
from bench.processes import REPO_ROOT

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def commit() -> dict[str, Any]:
    return {"sha": _git("rev-parse", "HEAD") or None, "dirty": bool(_git("status", "--porcelain"))}


def machine() -> dict[str, Any]:
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "memory_mib": memory_kib // 1024,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


@dataclass
class Run:
    mode: str  #: "full" or "quick"
    selected: list[int] = field(default_factory=list)  #: the scenarios asked for
    #: What the tree held when the commit alone does not say it (`--label`).
    label: str | None = None
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    commit: dict[str, Any] = field(default_factory=commit)
    machine: dict[str, Any] = field(default_factory=machine)
    load_before: list[float] = field(default_factory=lambda: [round(x, 2) for x in os.getloadavg()])
    load_after: list[float] = field(default_factory=list)
    duration_seconds: float = 0.0
    results: list[Result] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic, repr=False)

    def finish(self) -> None:
        self.load_after = [round(x, 2) for x in os.getloadavg()]
        self.duration_seconds = round(time.monotonic() - self._started, 1)

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "scenarios_selected": self.selected,
            "started_at": self.started_at,
            "duration_seconds": self.duration_seconds,
            "commit": self.commit,
            "label": self.label,
            "machine": self.machine,
            "load_average_before": self.load_before,
            "load_average_after": self.load_after,
            "scenarios": [result.as_json() for result in self.results],
        }

    def write(self, directory: Path = RESULTS_DIR) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        document = self.as_json()
        latest = directory / "latest.json"
        latest.write_text(json.dumps(document, indent=2) + "\n")
        with (directory / "history.jsonl").open("a") as history:
            history.write(json.dumps(document, separators=(",", ":")) + "\n")
        return latest


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.2f} {unit}" if abs(value) < 10 else f"{value:.1f} {unit}"


def _ratio(result: Result) -> str:
    if result.ratio_median is None:
        return "-"
    if result.ratio_min is None or result.ratio_max is None or result.repetitions <= 1:
        return f"{result.ratio_median:.2f}x"
    return f"{result.ratio_median:.2f}x [{result.ratio_min:.2f}-{result.ratio_max:.2f}]"


def _verdict(result: Result) -> str:
    if result.skipped:
        return "NOT RUN"
    return {True: "met", False: "MISSED", None: "-"}[result.target_met]


def table(run: Run) -> str:
    """A Markdown table (it reads on a terminal too), then each scenario's notes."""
    header = ["scenario", "ticketbridge", "baseline", "ratio median [min-max]", "target", "", "vendor calls (min)"]
    rows = []
    for result in run.results:
        if result.skipped:
            rows.append([result.name, "-", "-", "-", result.target, "NOT RUN", result.skipped])
            continue
        rows.append(
            [
                result.name,
                _figure(result.ticketbridge, result.unit),
                _figure(result.baseline, result.unit),
                _ratio(result),
                result.target,
                _verdict(result),
                result.calls.text(),
            ]
        )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    notes = [f"- {result.name}: {note}" for result in run.results for note in result.notes]
    sha = run.commit["sha"] or "unknown"
    footer = (
        f"\ncommit {sha[:12]}{' (dirty tree)' if run.commit['dirty'] else ''}"
        f"{f' [{run.label}]' if run.label else ''}, {run.mode} run, "
        f"{run.machine['nproc']} cores, {run.machine['memory_mib']:,} MiB, Python {run.machine['python']}; "
        f"load average {run.load_before[0]:.2f} before, {run.load_after[0] if run.load_after else 0:.2f} after; "
        f"{run.duration_seconds:.0f} s"
    )
    return "\n".join(lines) + footer + ("\n\nNotes:\n" + "\n".join(notes) if notes else "")
