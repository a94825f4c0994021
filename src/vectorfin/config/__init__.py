"""The project's configuration, one submodule for each kind; import a name from the submodule that holds it.

- `vectorfin.config` itself: `PROJECT_ROOT`, the project folder every default location is relative to.
- `locations`: where the project keeps its local state (warehouse, Iceberg catalog, DuckDB file, artifacts,
  docs assets), read from the environment that `env.sh` sets up: `StateLocations`, `project_environment`.
- `project_vars`: what `dbt_project.yml` declares (the dbt vars' defaults, the docs assets folder) and the
  vars dbt hands to Python models: `project_var`, `mapping_setting`.
- `validation`: the check of every dbt var that runs before a dbt invocation's first node.
- `training`: `TrainingConfig`, the `training` var (every knob of a fine-tuning run) and its content hash.

Imports point one way: `validation` uses `training` (and, through other vectorfin modules, `locations`);
`training` and `locations` use `project_vars`; `project_vars` uses only `PROJECT_ROOT` here. Nothing in
this package imports a module that imports it back.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
