# Undersigned — `make run` to serve, `make test` to test (both install into .venv first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint format bench system-deps pdf-deps clean messages catalogs bench-embed lock
I18N := app/i18n/locales
# Every package, transitive ones and build tools included, pinned with its hashes. After
# changing pyproject.toml's dependencies: `make lock` (keeps the other pins; add --upgrade-package
# NAME to move one).
LOCK := requirements-dev.lock
COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --all-build-deps \
	--strip-extras --no-emit-index-url

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pybabel -q compile -d $(I18N) -D messages
	touch $(STAMP)

lock: $(STAMP)
	$(COMPILE) -o requirements.lock pyproject.toml
	$(COMPILE) --extra dev -o requirements-dev.lock pyproject.toml

# Gettext catalogs: .po files are in git, .mo files are built (the app also builds missing ones).
catalogs: $(STAMP)
	$(BIN)/pybabel -q compile -d $(I18N) -D messages

# After changing UI strings: re-extract them and merge them into every language's .po.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k ui_gettext:2 --add-comments=Translators: \
		--no-location --sort-output --project=Undersigned -o $(I18N)/messages.pot .
	$(BIN)/pybabel update -i $(I18N)/messages.pot -d $(I18N) -D messages \
		--no-fuzzy-matching --ignore-obsolete -w 100

run: $(STAMP) catalogs pdf-deps
	$(BIN)/undersigned serve --host $(HOST) --port $(PORT)

# Debian packages, installed only when missing. The letter PDF (WeasyPrint) needs Pango and fonts
# for Han, Kana, Cyrillic and Arabic; the tests also drive Chromium through Playwright (never
# `playwright install`), read PDFs with poppler and start a throwaway PostgreSQL when none answers.
PDF_PACKAGES := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-core fonts-noto-cjk
TEST_PACKAGES := $(PDF_PACKAGES) chromium poppler-utils postgresql
define apt_missing
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
		| grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then echo "installing Debian packages:" $$missing; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $$missing; fi
endef

pdf-deps:
	$(call apt_missing,$(PDF_PACKAGES))

system-deps:
	$(call apt_missing,$(TEST_PACKAGES))

test: $(STAMP) catalogs system-deps
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
