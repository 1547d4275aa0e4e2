# Undersigned — `make run` to serve, `make test` to test (both install into .venv first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench browser-deps clean messages catalogs bench-embed
I18N := app/i18n/locales

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/pybabel -q compile -d $(I18N) -D messages
	touch $(STAMP)

# Gettext catalogs: .po files are in git, .mo files are built (the app also builds missing ones).
catalogs: $(STAMP)
	$(BIN)/pybabel -q compile -d $(I18N) -D messages

# After changing UI strings: re-extract them and merge them into every language's .po.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k ui_gettext:2 --add-comments=Translators: \
		--no-location --sort-output --project=Undersigned -o $(I18N)/messages.pot .
	$(BIN)/pybabel update -i $(I18N)/messages.pot -d $(I18N) -D messages \
		--no-fuzzy-matching --ignore-obsolete -w 100

run: $(STAMP) catalogs
	$(BIN)/undersigned serve --host $(HOST) --port $(PORT)

# Browser tests drive Debian's Chromium through Playwright (never `playwright install`).
browser-deps:
	@test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

test: $(STAMP) catalogs browser-deps
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

# Every benchmark, by hand (minutes each; embed needs Debian's wrk); results go in
# docs/benchmarks.md with the machine and date. The 10-minute soak: bench/soak.py.
bench: $(STAMP) catalogs
	$(BIN)/python bench/resolution.py
	$(BIN)/python bench/admin.py --orgs 100000
	$(BIN)/python bench/imports.py
	$(BIN)/python bench/embed.py

# Partner endpoints under load (needs Debian's wrk); results go in docs/benchmarks.md, "Embeds".
bench-embed: $(STAMP) catalogs
	$(BIN)/python bench/embed.py
	$(BIN)/python bench/embed_asgi.py
