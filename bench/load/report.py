"""The machine, the figures, and the JSON and markdown files under bench/results/."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import ticketbridge
from bench.load.processes import REPO_ROOT, Process
from bench.load.traffic import OPERATIONS, Recorder

RESULTS_DIR = REPO_ROOT / "bench" / "results"
LOG_LINES_PER_FAILURE = 12
ERROR_LOG_SAMPLES = 10
_ACCESS_STATUS = re.compile(r'HTTP/1\.1" (\d{3})')


def machine() -> dict[str, Any]:
    memory = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("MemTotal", "MemAvailable"):
            memory[name] = round(int(rest.split()[0]) / 1024 / 1024, 1)
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": memory.get("MemTotal"),
        "memory_available_gib": memory.get("MemAvailable"),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "python": platform.python_version(),
        "kernel": platform.release(),
        **_provenance_facts(),
    }


def _provenance_facts() -> dict[str, Any]:
    """The commit the servers' code is. From the work tree: HEAD and whether src/ has uncommitted
    changes. From a snapshot on PYTHONPATH (README "Load"): BENCH_LOAD_COMMIT, as its maker says."""
    source = Path(ticketbridge.__file__).parent
    if source.is_relative_to(REPO_ROOT):
        return {
            "commit": _git("rev-parse", "HEAD"),
            "worktree_dirty": bool(_git("status", "--porcelain", "--untracked-files=no", "--", "src")),
            "ticketbridge_source": str(source),
        }
    return {
        "commit": os.environ.get("BENCH_LOAD_COMMIT", "unknown"),
        "worktree_dirty": False,
        "ticketbridge_source": str(source),
    }


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=False)
    return done.stdout.strip()


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 1)


def operations(recorder: Recorder) -> dict[str, Any]:
    elapsed = recorder.ended - recorder.started
    table: dict[str, Any] = {}
    for op in OPERATIONS:
        latencies = recorder.latencies_ms[op]
        statuses = recorder.statuses[op]
        table[op] = {
            "requests": len(latencies),
            "requests_per_second": round(len(latencies) / elapsed, 1) if elapsed > 0 else None,
            "p50_ms": percentile(latencies, 0.50),
            "p99_ms": percentile(latencies, 0.99),
            "max_ms": round(max(latencies), 1) if latencies else None,
            "statuses": {str(status): count for status, count in sorted(statuses.items())},
            "error_codes": dict(recorder.codes[op]),
        }
    total = sum(len(v) for v in recorder.latencies_ms.values())
    every = [ms for values in recorder.latencies_ms.values() for ms in values]
    table["all"] = {
        "requests": total,
        "requests_per_second": round(total / elapsed, 1) if elapsed > 0 else None,
        "p50_ms": percentile(every, 0.50),
        "p99_ms": percentile(every, 0.99),
        "max_ms": round(max(every), 1) if every else None,
        "statuses": _sum_statuses(recorder),
    }
    return table


def _sum_statuses(recorder: Recorder) -> dict[str, int]:
    total: dict[str, int] = {}
    for statuses in recorder.statuses.values():
        for status, count in statuses.items():
            total[str(status)] = total.get(str(status), 0) + count
    return dict(sorted(total.items()))


def log_evidence(services: list[Process], failures: list[dict[str, Any]]) -> dict[str, Any]:
    """Server log lines of each recorded failure (by its X-Request-ID), and the error lines of every log."""
    texts = {service.name: service.log_path.read_text(errors="replace").splitlines() for service in services}
    for failure in failures:
        found = []
        for name, lines in texts.items():
            found += [f"{name}: {line}" for line in lines if failure["request_id"] in line]
        failure["server_log"] = found[:LOG_LINES_PER_FAILURE]
    errors: dict[str, Any] = {}
    for name, lines in texts.items():
        hits = [line for line in lines if _is_error(line)]
        errors[name] = {"error_lines": len(hits), "samples": [line[:2000] for line in hits[:ERROR_LOG_SAMPLES]]}
    return errors


def sandbox_statuses(sandbox: Process) -> dict[str, int]:
    """Statuses the Jira sandbox answered over the whole run (its uvicorn access log): a 429 here would
    be its own rate limits binding."""
    found = Counter(_ACCESS_STATUS.findall(sandbox.log_path.read_text(errors="replace")))
    return dict(sorted(found.items()))


def server_statuses(apis: list[Process], mode: str) -> dict[str, int]:
    """Statuses the API processes logged (`http.request`) for the load's own requests: the server's
    side of the count the clients made."""
    found: Counter[str] = Counter()
    marker = f'"request_id": "load-{mode}-'
    for api in apis:
        for line in api.log_path.read_text(errors="replace").splitlines():
            if marker in line and '"http.request"' in line:
                found[str(json.loads(line)["status"])] += 1
    return dict(sorted(found.items()))


def _is_error(line: str) -> bool:
    if line.startswith("{"):
        try:
            level = str(json.loads(line).get("level", "")).lower()
        except ValueError:
            return False
        return level in ("error", "critical", "exception")
    return line.startswith(("ERROR", "Traceback", "CRITICAL"))


def write(mode: str, result: dict[str, Any], *, quick: bool) -> tuple[Path, Path]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"load-{mode}" + ("-quick" if quick else "")
    json_path = RESULTS_DIR / f"{stem}.json"
    md_path = RESULTS_DIR / f"{stem}.md"
    json_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    md_path.write_text(markdown(result) + "\n")
    return json_path, md_path


def _retries(result: dict[str, Any]) -> str:
    retried = result["retries_after_load"]
    if not retried:
        return "none"
    return "; ".join(
        f"{r['identifier']}: {r['during_load']} then {', '.join(a.strip() for a in r['retries'])}" for r in retried
    )


def _inline(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in counts.items()) or "none"


def _provenance(host: dict[str, Any]) -> str:
    if not Path(host["ticketbridge_source"]).is_relative_to(REPO_ROOT):
        return " (a snapshot of that commit's src/)"
    return " (work tree with uncommitted changes in src/)" if host["worktree_dirty"] else ""


def markdown(result: dict[str, Any]) -> str:
    ops = result["operations"]
    run = result["run"]
    checks = result["checks"]
    jobs = result["jobs"]
    host = result["machine"]
    lines = [
        f"### {result['mode']}: {run['description']}",
        "",
        f"{run['clients']} clients, {run['seconds']:g} s ({run['elapsed_seconds']:.1f} s measured), "
        f"{len(result['tenants'])} tenants; {host['nproc']} cores ({host['cpu']}), {host['memory_gib']} GiB, "
        f"load average {host['load_average']} before and {result['load_average_after']} after, commit "
        f"{host['commit'][:12]}{_provenance(host)}, {result['date']}. "
        "Shared 2-core machine: the figures are noisy. Tickets and issues are counted after the retries "
        "in the table below.",
        "",
        "| operation | requests | req/s | p50 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|",
    ]
    for op in (*OPERATIONS, "all"):
        row = ops[op]
        statuses = ", ".join(f"{status}: {count}" for status, count in row["statuses"].items())
        lines.append(
            f"| {op} | {row['requests']} | {row['requests_per_second']} | {row['p50_ms']} | {row['p99_ms']} "
            f"| {statuses} |"
        )
    five = sum(count for status, count in ops["all"]["statuses"].items() if status.startswith("5"))
    transport = ops["all"]["statuses"].get("0", 0)
    times = jobs["seconds_to_finish"]
    lines += [
        "",
        "| check | result |",
        "|---|---|",
        f"| 5xx answers | {five} |",
        f"| transport errors (status 0) | {transport} |",
        f"| bulk jobs accepted / SUCCESS / FAILED / unfinished | {jobs['accepted']} / "
        f"{jobs['by_status'].get('SUCCESS', 0)} / {jobs['by_status'].get('FAILED', 0)} / {jobs['unfinished_count']} "
        f"(drained in {jobs['drain_seconds']} s, limit {jobs['drain_limit_seconds']:g} s) |",
        f"| job created -> finished, p50 / p99 | {percentile(times, 0.5)} s / {percentile(times, 0.99)} s |",
        f"| identifiers sent (repeated on purpose) | {checks['identifiers']} ({checks['repeated_identifiers']}) |",
        f"| local tickets per identifier: exactly one / missing / more | {checks['local'].get('exactly_one', 0)} / "
        f"{checks['local'].get('missing', 0)} / {checks['local'].get('duplicated', 0)} |",
        f"| Jira issues per identifier: exactly one / missing / more | {checks['jira'].get('exactly_one', 0)} / "
        f"{checks['jira'].get('missing', 0)} / {checks['jira'].get('duplicated', 0)} |",
        f"| answers naming another ticket than the stored one | {checks['answered_other_ticket']} |",
        f"| identifiers no request settled, sent again after the load (outcome) | {_retries(result)} |",
        f"| leftover create claims | {checks['leftover_create_claims']} |",
        f"| statuses logged by the API processes for these requests | {_inline(result['server_statuses'])} |",
        f"| Jira sandbox statuses, whole run (a 429: its limits bind) | {_inline(result['sandbox_statuses'])} |",
        f"| load generator CPU (share of one core) | {result['load_generator_cpu_share']} |",
    ]
    return "\n".join(lines)
