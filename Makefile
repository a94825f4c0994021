# Two commands from a fresh clone: `make build` and `make test`. Both create .venv when missing.
# Afterwards `source .venv/bin/activate` gives a shell where plain `dbt ...` and `python -m vectorfin ...`
# run with the same environment as these recipes.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The corpus folder (../shared/data layout) loaded before the build: `make build CORPUS=../shared/data`.
# The recipe reads it from its environment, so a path with spaces or quotes stays one argument.
CORPUS ?= demo_corpus
export CORPUS
# Extra dbt arguments, e.g. DBT_ARGS="--exclude training_runs+" for the SQL pipeline alone.
DBT_ARGS ?=

# The project's environment (paths, profiles, offline settings) is written once, in env.sh: every recipe
# that runs the project sources it, and so does the virtualenv's activate script (see ACTIVATE_ENV).
WITH_ENV := . ./env.sh &&
# Appends `. <project>/env.sh` to the venv's activate script, once.
ACTIVATE_LINE := . "$(CURDIR)/env.sh"
ACTIVATE_ENV = grep -qsxF '$(ACTIVATE_LINE)' $(BIN)/activate \
	|| printf '%s\n' '' '\# vectorfin_finetune: the project environment (paths, offline settings)' '$(ACTIVATE_LINE)' >> $(BIN)/activate

.PHONY: build load test lint docs clean activate-env comparison-models

$(BIN)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(WITH_ENV) $(BIN)/python -m vectorfin setup-duckdb
	$(ACTIVATE_ENV)
	touch $@

# all-mpnet-base-v2 in comparison_models/, for var comparison_models (not in the quick start: 438 MB).
comparison-models: $(BIN)/.installed
	$(WITH_ENV) $(BIN)/python -m vectorfin install-comparison-model

# For a virtualenv made before the hook existed (the install step above does this itself).
activate-env:
	$(ACTIVATE_ENV)

load: $(BIN)/.installed
	$(WITH_ENV) $(BIN)/python -m vectorfin load "$$CORPUS"

build: load
	$(WITH_ENV) $(BIN)/dbt build $(DBT_ARGS)

# pytest-xdist workers for `make test` (tests/python/conftest.py says which tests share a worker); 0 runs
# the suite in one process.
TEST_WORKERS ?= 2

test: $(BIN)/.installed
	$(WITH_ENV) $(BIN)/python -m pytest -n $(TEST_WORKERS)

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests python_models benchmarks
	$(BIN)/ruff format --check src tests python_models benchmarks
	$(BIN)/sqlfluff lint models macros tests/data_tests

docs: $(BIN)/.installed
	$(WITH_ENV) $(BIN)/dbt docs generate
	$(WITH_ENV) $(BIN)/dbt docs serve

clean:
	rm -rf warehouse artifacts assets/run_report target logs vectorfin.duckdb vectorfin.search_index.duckdb
