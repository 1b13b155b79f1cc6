# `make run` and `make test` do all the set-up on a fresh machine (Python 3.11+ needed).
VENV ?= .venv
PY := $(VENV)/bin/python
# What running needs (requirements.lock), and on top of it the test and lint tools
# (requirements-dev.lock): `make run` never installs the second.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
LOCK_ARGS := --universal --python-version 3.11 --generate-hashes --custom-compile-command 'make lock'

.PHONY: install install-dev lock run migrate doctor test lint typecheck unit bench clean

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml requirements.lock | $(PY)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): $(RUN_STAMP) requirements-dev.lock
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

## what `charbot` needs to run, at the locked versions
install: $(RUN_STAMP)

## that, plus the test, lint and type-check tools
install-dev: $(DEV_STAMP)

## re-resolve both lock files from pyproject.toml (after changing a dependency there)
lock: | $(PY)
	$(PY) -m pip install --quiet 'uv>=0.5'
	$(VENV)/bin/uv pip compile --quiet pyproject.toml $(LOCK_ARGS) -o requirements.lock
	$(VENV)/bin/uv pip compile --quiet pyproject.toml --extra dev -c requirements.lock \
		$(LOCK_ARGS) -o requirements-dev.lock

## run the bot (migrates first; embedded PostgreSQL when DATABASE_URL is unset)
run: install
	$(VENV)/bin/charbot run --migrate

migrate: install
	$(VENV)/bin/charbot migrate

doctor: install
	$(VENV)/bin/charbot doctor

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install-dev
	$(VENV)/bin/mypy

## the tests. The summary names every failed, erroring, skipped (with its reason) and rerun test;
## a test that fails gets one more try (RERUNS=0: none), and one that passed only then is
## listed at the end with its first failure
RERUNS ?= 1
unit: install-dev
	$(VENV)/bin/python -m pytest -q -rfEsR --reruns $(RERUNS) -p no:cacheprovider $(PYTEST_ARGS)

## lint, type check, then the whole test suite
test: lint typecheck unit

bench: install-dev
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
