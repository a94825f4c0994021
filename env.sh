# The project's environment, written once here. Everything that runs the project reads this file:
#   * `source .venv/bin/activate`: the Makefile's install step makes the virtualenv's activate script
#     source it, so plain `dbt build`, `dbt docs generate`, `dbt show`, `python -m vectorfin ...` work
#     from the project folder with the same settings as `make`;
#   * every Makefile recipe, and so CI (.ci/run runs make);
#   * the tests and the Python package (vectorfin.config.locations.project_environment reads the lines below).
# Paths already set are kept (export VECTORFIN_WAREHOUSE=... before sourcing to work elsewhere); the
# offline settings are always applied: nothing is downloaded or reported at run time.
# POSIX sh (bash, zsh and dash source it). Keep each setting on one line in the form used below.

if [ -n "${BASH_VERSION:-}" ]; then
    eval 'vectorfin_env_file=${BASH_SOURCE[0]}'
elif [ -n "${ZSH_VERSION:-}" ]; then
    eval 'vectorfin_env_file=${(%):-%x}'
else
    vectorfin_env_file=./env.sh  # plain sh (make's recipes) sources it from the project folder
fi
vectorfin_project_dir=$(cd "$(dirname "$vectorfin_env_file")" && pwd -P)

# default_path NAME PATH: NAME, when unset or empty, is PATH inside the project folder.
vectorfin_default_path() { eval "export $1=\"\${$1:-\$vectorfin_project_dir/$2}\""; }

vectorfin_default_path DBT_PROFILES_DIR profiles
vectorfin_default_path VECTORFIN_WAREHOUSE warehouse
vectorfin_default_path VECTORFIN_DUCKDB_PATH vectorfin.duckdb
vectorfin_default_path VECTORFIN_ARTIFACTS artifacts
vectorfin_default_path VECTORFIN_EVALS_DIR ../shared/data/evals
vectorfin_default_path VECTORFIN_GENERAL_DIR ../shared/data/general

export HF_HUB_OFFLINE=1
export HF_DATASETS_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export DBT_SEND_ANONYMOUS_USAGE_STATS=false
export GX_ANALYTICS_ENABLED=false
export MLFLOW_DISABLE_TELEMETRY=true
# bm25s runs a JAX computation on import when JAX is installed, as on many GPU images: on a GPU, JAX then
# takes 75% of its memory before torch starts (108 GB of an H200's 141, seen in benchmarks/gpu_build.sh).
# The project's models are torch's; JAX, if present, stays on the CPU.
export JAX_PLATFORMS=cpu
# Exposures are no-ops in `dbt build`, and dbt 1.11 crashes on them (an exposure has no schema) when the
# on-run-start settings check fails, printing a traceback instead of the list of bad settings.
export DBT_EXCLUDE_RESOURCE_TYPES=exposure

unset -f vectorfin_default_path
unset vectorfin_env_file vectorfin_project_dir
