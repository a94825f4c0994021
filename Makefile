# Two commands from a fresh clone: `make build` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Corpus folders (../shared/data layout) loaded before the build: `make build CORPUS=../shared/data`.
CORPUS ?= demo_corpus
# Extra dbt arguments, e.g. DBT_ARGS="--exclude training_runs+" for the SQL pipeline alone.
DBT_ARGS ?=

export DBT_PROFILES_DIR ?= $(CURDIR)/profiles
export VECTORFIN_WAREHOUSE ?= $(CURDIR)/warehouse
export VECTORFIN_DUCKDB_PATH ?= $(CURDIR)/vectorfin.duckdb
export VECTORFIN_ARTIFACTS ?= $(CURDIR)/artifacts
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: build load test lint docs clean

$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m vectorfin setup-duckdb
	touch $@

load: $(BIN)/.installed
	$(BIN)/python -m vectorfin load $(CORPUS)

build: load
	$(BIN)/dbt build $(DBT_ARGS)

test: $(BIN)/.installed
	$(BIN)/python -m pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests python_models benchmarks
	$(BIN)/ruff format --check src tests python_models benchmarks
	$(BIN)/sqlfluff lint models macros tests/data_tests

docs: $(BIN)/.installed
	$(BIN)/dbt docs generate
	$(BIN)/dbt docs serve

clean:
	rm -rf warehouse artifacts assets target logs vectorfin.duckdb
