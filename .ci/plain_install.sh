#!/usr/bin/env bash
# The package as a user installs it: build the wheel, `pip install` it without extras into a fresh
# virtualenv (dependencies resolved from the index, as pip does for a user, not from our locks), then
# start `ticketbridge sandbox jira`, `ticketbridge sandbox rezolve` and `ticketbridge serve` on free
# ports with a temporary data directory, probe each one over HTTP, and stop them.
# Every wait is bounded; the trap stops what was started and removes the temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
WAIT_SECONDS=${WAIT_SECONDS:-60}
work=$(mktemp -d "${TMPDIR:-/tmp}/ticketbridge-plain.XXXXXX")
pids=()

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    # Bounded: a process that ignores SIGTERM for 10 s gets SIGKILL.
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for log in "$work"/*.log; do
      [ -f "$log" ] && { echo "--- $log"; tail -n 40 "$log"; }
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT INT TERM

step() { echo "plain-install: $*"; }

step "building the wheel"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" . 2> >(grep -v "^WARNING: Location" >&2)
wheel=$(ls "$work"/dist/ticketbridge-*.whl)

step "installing $(basename "$wheel") without extras into a fresh virtualenv"
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$wheel" 2> >(grep -v "^WARNING: Location" >&2)
if "$work/venv/bin/python" -c 'import pytest' 2>/dev/null; then
  echo "error: a development dependency (pytest) came with the plain install" >&2
  exit 1
fi
bin="$work/venv/bin"

free_port() {
  "$bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# GET $1 until it answers 200 or $WAIT_SECONDS pass; fails early when process $2 has died.
wait_for() {
  local url=$1 pid=$2 deadline=$((SECONDS + WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "error: the process behind $url exited" >&2
      return 1
    fi
    if "$bin/python" - "$url" <<'EOF' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    sys.exit(response.status != 200)
EOF
      step "ok: $url"
      return 0
    fi
    sleep 0.5
  done
  echo "error: no 200 from $url within ${WAIT_SECONDS} s" >&2
  return 1
}

mkdir -p "$work/data"
export TICKETBRIDGE_DATA_DIR="$work/data"
export TICKETBRIDGE_DATABASE_URL="sqlite+aiosqlite:///$work/data/ticketbridge.db"
export TICKETBRIDGE_LOG_FORMAT=json

jira_port=$(free_port)
step "starting ticketbridge sandbox jira on port $jira_port"
"$bin/ticketbridge" sandbox jira --port "$jira_port" --persist "$work/data/jira.db" >"$work/jira.log" 2>&1 &
pids+=($!)
jira_pid=$!

rezolve_port=$(free_port)
step "starting ticketbridge sandbox rezolve on port $rezolve_port"
"$bin/ticketbridge" sandbox rezolve --port "$rezolve_port" --persist "$work/data/rezolve.db" >"$work/rezolve.log" 2>&1 &
pids+=($!)
rezolve_pid=$!

serve_port=$(free_port)
step "starting ticketbridge serve on port $serve_port"
"$bin/ticketbridge" serve --port "$serve_port" >"$work/serve.log" 2>&1 &
pids+=($!)
serve_pid=$!

# The sandboxes have no /healthz of their own: their control plane's call counts answer for them.
wait_for "http://127.0.0.1:$serve_port/healthz" "$serve_pid"
wait_for "http://127.0.0.1:$serve_port/readyz" "$serve_pid"
wait_for "http://127.0.0.1:$jira_port/__sandbox__/calls" "$jira_pid"
wait_for "http://127.0.0.1:$rezolve_port/__sandbox__/calls" "$rezolve_pid"
step "passed"
