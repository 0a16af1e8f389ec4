# Modelhouse — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml sdk/pyproject.toml 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: setup run test lint format bench clean

setup: $(STAMP)

$(STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[embedded,dev]'
	@if [ -f sdk/pyproject.toml ]; then $(PY) -m pip install --quiet -e './sdk[cli]'; fi
	@rm -f $(VENV)/.installed-* && touch $@

run: setup
	DJANGO_SETTINGS_MODULE=saas.settings.local $(PY) manage.py runstack

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) bench/run_all.py

clean:
	rm -rf var/test-* .pytest_cache
