# Madoguchi — the two commands are `make run` and `make test`; everything else is for developers.
# Each target sets itself up: uv (bootstrapped with pip if missing), the virtual environment
# from uv.lock, never downloading a Python.

SHELL := /bin/bash
PYTHON ?= python3
PORT ?= 8000
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
UV = $(PYTHON) -m uv
STAMP := $(VENV)/.madoguchi-synced

.PHONY: run test lint bench setup assets messages clean help

help:
	@echo "make run    — set up and serve on http://127.0.0.1:$(PORT) (SQLite, demo data)"
	@echo "make test   — set up and run the test suite (MADOGUCHI_DATABASE_URL for PostgreSQL)"
	@echo "make lint   — ruff, mypy (strict), import-linter"
	@echo "make bench  — benchmarks: figures, a baseline from the same run, their ratio (BENCH_ARGS=…)"
	@echo "make messages — update the English translation (.po) and compile it (.mo); needs gettext"

$(STAMP): pyproject.toml uv.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "Python 3.12 以上が必要です / Python 3.12+ is required")'
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	@touch $@

setup: $(STAMP)

run: $(STAMP)
	@$(BIN)/madoguchi bootstrap --demo --base-url http://127.0.0.1:$(PORT)
	@echo "  http://127.0.0.1:$(PORT)/ で待ち受けています。停止は Ctrl-C。"
	@MADOGUCHI_CONSOLE_URL="$${MADOGUCHI_CONSOLE_URL:-http://127.0.0.1:$(PORT)}" MADOGUCHI_PORTAL_URL="$${MADOGUCHI_PORTAL_URL:-http://127.0.0.1:$(PORT)}" exec $(BIN)/madoguchi serve --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src bench
	$(BIN)/ruff format --check src bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

# Speed is measured here, never as a threshold in a test (DESIGN.md, "Tests and measurements").
# No database: the data directory is a throw-away one under var/.
bench: $(STAMP)
	@mkdir -p $(CURDIR)/var/bench
	DJANGO_SETTINGS_MODULE=madoguchi.conf.settings MADOGUCHI_DATA_DIR=$(CURDIR)/var/bench \
		$(BIN)/python bench/run.py $(BENCH_ARGS)

assets:
	cd assets && npm install --no-audit --no-fund
	cp assets/node_modules/@digital-go-jp/design-tokens/dist/tokens.css src/madoguchi/core/static/madoguchi/vendor/dads-tokens.css
	cp assets/node_modules/@digital-go-jp/design-tokens/LICENSE src/madoguchi/core/static/madoguchi/vendor/dads-tokens.LICENSE
	cp assets/node_modules/htmx.org/dist/htmx.min.js src/madoguchi/core/static/madoguchi/vendor/htmx.min.js
	cp assets/node_modules/htmx.org/LICENSE src/madoguchi/core/static/madoguchi/vendor/htmx.LICENSE

# Translations: Japanese is the source language; English covers the portal's chrome. makemessages
# adds new marked strings to the .po (kept translations stay), msgfmt compiles the .mo. Both files
# are committed, so a machine without gettext still serves English. Fill in every empty msgstr
# before committing: a test fails on an empty translation or a .mo that differs from the .po.
LOCALE_PO := src/madoguchi/locale/en/LC_MESSAGES/django.po
messages: $(STAMP)
	cd src/madoguchi && MADOGUCHI_DATA_DIR=$(CURDIR)/var $(BIN)/python -m django makemessages \
		--locale en --no-obsolete --settings=madoguchi.conf.settings
	msgfmt --check -o $(LOCALE_PO:.po=.mo) $(LOCALE_PO)
	@! grep -n -A1 '^#, fuzzy' $(LOCALE_PO) || { echo "fuzzy translations above: check them, then remove the fuzzy flag"; exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
