# The two commands: `make dev` and `make test`. Both create .venv from uv.lock when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
UV := $(VENV)/bin/uv
SYNCED := $(VENV)/.synced-lock

.PHONY: dev test test-postgresql lint typecheck check bench-journeys bench-coaching fault-test bench-region clean-dev

$(SYNCED): uv.lock pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(UV) sync --frozen --quiet
	@touch $(SYNCED)

dev: $(SYNCED)
	$(VENV)/bin/polku dev

test: $(SYNCED)
	$(VENV)/bin/pytest
	$(MAKE) --no-print-directory test-postgresql

# The whole-stack integration tests again with every service on PostgreSQL (tests taking
# `db_settings` already ran on both). Route permissions, isolation and schemathesis check the
# HTTP layer, which is the same on both databases, so they run once, on SQLite.
test-postgresql: $(SYNCED)
	POLKU_TEST_DATABASE=postgresql $(VENV)/bin/pytest -p no:cacheprovider -m live_stack tests/integration \
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
