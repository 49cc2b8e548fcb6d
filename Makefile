# The two commands: `make dev` and `make test`. Both create .venv from uv.lock when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
UV := $(VENV)/bin/uv
SYNCED := $(VENV)/.synced-lock

.PHONY: dev test test-sqlite lint typecheck check bench-journeys bench-coaching fault-test bench-region clean-dev

$(SYNCED): uv.lock pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) sync --frozen --quiet
	@touch $(SYNCED)

dev: $(SYNCED)
	$(VENV)/bin/polku dev

# Two pytest workers (pytest-xdist), a test file at a time each: every worker starts its own
# servers and stack, and most of a test's time is spent waiting on them, not on the CPU.
PYTEST := $(VENV)/bin/pytest -p no:cacheprovider -n 2 --dist loadfile

# The whole suite on PostgreSQL (the production database), then the whole-stack integration
# tests again on SQLite, the embedded default of `make dev`. Tests taking `db_settings` run on both in
# the first run already.
test: $(SYNCED)
	POLKU_TEST_DATABASE=postgresql $(PYTEST)
	$(MAKE) --no-print-directory test-sqlite

# The whole-stack integration tests (marked `live_stack`) on SQLite, except the route matrix,
# isolation and schemathesis, which test the HTTP layer (the same on both databases). The
# browser tests run once, on PostgreSQL; `polku dev` on SQLite has a test of its own.
test-sqlite: $(SYNCED)
	POLKU_TEST_DATABASE=sqlite $(PYTEST) -m live_stack tests/integration \
		-k "not test_route_permissions and not test_schemathesis and not test_isolation"

lint: $(SYNCED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(SYNCED)
	$(VENV)/bin/mypy

check: lint typecheck test

bench-journeys: $(SYNCED)
	$(VENV)/bin/polku bench journeys

bench-coaching: $(SYNCED)
	$(VENV)/bin/python bench/coaching.py

fault-test: $(SYNCED)
	$(VENV)/bin/polku bench faults

bench-region: $(SYNCED)
	$(VENV)/bin/polku bench region --saturate

clean-dev:
	rm -rf .polku
