# Undersigned — `make run` to serve, `make test` to test (both install into .venv first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench browser-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/undersigned serve --host $(HOST) --port $(PORT)

# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
browser-deps:
	@test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check app tests bench migrations/env.py
	$(BIN)/ruff check app tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format app tests bench migrations/env.py
	$(BIN)/ruff check --fix app tests bench

clean:
	rm -rf $(VENV) undersigned.db undersigned.db-wal undersigned.db-shm test-artifacts
