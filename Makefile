# The two set-up commands: `make demo` and `make test`. Each creates the virtualenv and installs the
# locked dependency tree (requirements-dev.lock, every package pinned with its hashes) whenever the
# lock or pyproject.toml is newer than the last install. Plain pip installs it: nothing to bootstrap.
# `make lock` regenerates both locks after a change to the dependencies in pyproject.toml.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
INSTALLED := $(VENV)/.installed
LOCK_TOOLS := .venv-lock
UV_VERSION := 0.13.9
UV_COMPILE := $(LOCK_TOOLS)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" --quiet

.PHONY: demo demo-reset test fuzz lint bench lock check-python

# Fails fast, before anything is created, on an interpreter the project does not run on.
check-python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { \
		echo "error: ticketbridge needs Python 3.11, but '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing)." >&2; \
		echo "       Install Python 3.11, or run: make $(MAKECMDGOALS) PYTHON=/path/to/python3.11" >&2; \
		exit 1; }
	@if [ -x $(VENV)/bin/python ] && ! $(VENV)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
		echo "error: $(VENV) was made with $$($(VENV)/bin/python --version 2>&1), not 3.11: remove it (rm -r $(VENV))." >&2; \
		exit 1; fi

$(INSTALLED): pyproject.toml requirements-dev.lock | check-python
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(VENV)/bin/ticketbridge db upgrade
	$(VENV)/bin/ticketbridge demo

demo-reset:
	rm -rf data
	$(MAKE) demo

test: $(INSTALLED)
	$(VENV)/bin/python -m pytest

# The long schemathesis run (tests/api/test_fuzz.py, SQLite and PostgreSQL): FUZZ_EXAMPLES cases per
# operation, new ones each run; `make test` runs the same test bounded and deterministic.
FUZZ_EXAMPLES ?= 300
fuzz: $(INSTALLED)
	TICKETBRIDGE_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/python -m pytest tests/api/test_fuzz.py

lint: $(INSTALLED)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src

# Every scenario against its baseline (README "Benchmarks"); not part of `make test`. Needs PostgreSQL on
# 127.0.0.1:5432 for the PostgreSQL rows (trust auth; a throwaway database is created and dropped).
bench: $(INSTALLED)
	$(VENV)/bin/python -m bench

# The same scenarios with fewer repetitions and smaller sizes: a few minutes.
bench-quick: $(INSTALLED)
	$(VENV)/bin/python -m bench --quick

# Load on both deployment modes (README "Benchmarks", "Load"): 200 clients for 60 s on 2 API + 2 worker
# processes and PostgreSQL (127.0.0.1:5432, trust auth; a throwaway database), then 50 clients on the
# embedded default; checks every status, job and ticket. `make load-quick`: 10 s, fewer clients.
.PHONY: load load-quick
load: $(INSTALLED)
	$(VENV)/bin/python -m bench.load

load-quick: $(INSTALLED)
	$(VENV)/bin/python -m bench.load --quick

# requirements-dev.lock: what `make` installs (runtime + dev + the build backend).
# requirements.lock: the runtime tree alone, for deployments, held to the dev lock's versions.
lock: check-python
	test -x $(LOCK_TOOLS)/bin/uv || { $(PYTHON) -m venv $(LOCK_TOOLS) && \
		$(LOCK_TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION); }
	$(UV_COMPILE) --extra dev -o requirements-dev.lock
	$(UV_COMPILE) -c requirements-dev.lock -o requirements.lock
