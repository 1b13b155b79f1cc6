# `make run` and `make test` do all the set-up on a fresh machine (Python 3.11+ needed).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run migrate doctor test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run the bot (migrates first; embedded PostgreSQL when DATABASE_URL is unset)
run: install
	$(VENV)/bin/charbot run --migrate

migrate: install
	$(VENV)/bin/charbot migrate

doctor: install
	$(VENV)/bin/charbot doctor

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

## the tests; -rs lists every skipped test with its reason
unit: install
	$(VENV)/bin/python -m pytest -q -rs -p no:cacheprovider $(PYTEST_ARGS)

## lint, type check, then the whole test suite
test: lint typecheck unit

bench: install
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
