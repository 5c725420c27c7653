# The verbs a newcomer needs. `make demo` and `make test` work on a fresh machine: they install
# uv, the locked Python environment and (through it) the embedded PostgreSQL server.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV_VERSION := 0.13.9
PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
MANIFEST := dbt_project/target/manifest.json
# dbt's docs site: built apart from the manifest Dagster loads, served on 127.0.0.1
DOCS_TARGET := target/docs
DOCS_PORT ?= 8080

export DAGSTER_DISABLE_TELEMETRY := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export UV_PYTHON_DOWNLOADS := never

.PHONY: help install prepare demo test test-ui lint format dev docs bench db-start db-stop simulators clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-11s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --compile-bytecode
	@touch $@

install: $(VENV)/.synced ## create .venv from uv.lock (uv sync --frozen)

$(MANIFEST): $(VENV)/.synced $(shell find dbt_project/models dbt_project/macros dbt_project/tests -type f 2>/dev/null) dbt_project/dbt_project.yml
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir .

prepare: $(MANIFEST) ## install and build the dbt manifest (dbt parse)

demo: prepare ## run every built flow end to end on the bundled sample data and print the summaries
	$(BIN)/vppal demo

test: prepare ## run the test suite against the embedded PostgreSQL (or VPPAL_DATABASE_URL)
	$(BIN)/pytest

test-ui: prepare ## the UI tests only: Dagster UI and dbt docs in headless Chromium (apt-get installs it)
	$(BIN)/pytest tests/ui

lint: prepare ## ruff (lint + format check) and sqlfluff on the dbt models
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/vppal with-db $(BIN)/sqlfluff lint dbt_project

format: install ## apply ruff's formatter and fixes, and sqlfluff's fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/vppal with-db $(BIN)/sqlfluff fix dbt_project/models

dev: prepare ## the Dagster UI on http://127.0.0.1:3000 (webserver + daemon, project instance)
	$(BIN)/vppal dev

simulators: install ## serve the TSO (8701) and device-cloud (8702) simulators in the foreground
	$(BIN)/vppal simulators

docs: prepare ## build and serve dbt's docs on http://127.0.0.1:8080 (DOCS_PORT=...)
	$(BIN)/vppal dbt docs generate --target-path $(DOCS_TARGET)
	$(BIN)/vppal dbt docs serve --target-path $(DOCS_TARGET) --host 127.0.0.1 --port $(DOCS_PORT) --no-browser

bench: prepare ## benchmarks: definitions load, registry build (100k devices), measurement ingest (9 M rows), baselines (50 pools)
	$(BIN)/python -m benchmarks.definitions_load
	$(BIN)/python -m benchmarks.registry_build
	$(BIN)/python -m benchmarks.measurement_ingest
	$(BIN)/python -m benchmarks.baseline_issue

db-start: install ## start the embedded PostgreSQL (prints its URL)
	$(BIN)/vppal db start

db-stop: install ## stop the embedded PostgreSQL
	$(BIN)/vppal db stop

clean: ## stop the database and remove var/, .venv/ and build output
	-$(BIN)/vppal db stop
	rm -rf var $(VENV) $(TOOLS) dbt_project/target dbt_project/logs
