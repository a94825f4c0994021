"""The `remote` dbt target works offline: its `httpfs` extension comes from the PyPI package
`duckdb-extension-httpfs` (installed by the project's dbt plugin before dbt-duckdb's `INSTALL httpfs`),
never from DuckDB's extension server.

Real dbt on the remote target against the SQL catalog (a REST catalog is the same target with
VECTORFIN_CATALOG_URI=https://...: docs/scaling.md), with an empty home folder, so DuckDB's extension
directory holds nothing beforehand and a download would be the only other way to get httpfs.
"""

from __future__ import annotations

import json
from pathlib import Path

from vectorfin.dbt_workspace import DEMO_CORPUS, DbtWorkspace, run_dbt

HTTPFS_STATE = (
    "select extension_name, loaded, install_mode, installed_from "
    "from duckdb_extensions() where extension_name = 'httpfs'"
)


def test_the_remote_target_loads_httpfs_from_its_package_and_builds_staging(tmp_path: Path):
    warehouse, home = tmp_path / "warehouse", tmp_path / "home"
    home.mkdir()
    workspace = DbtWorkspace.create(
        tmp_path,
        {
            "VECTORFIN_TARGET": "remote",
            "VECTORFIN_WAREHOUSE": str(warehouse),
            "VECTORFIN_CATALOG_URI": f"sqlite:///{warehouse}/catalog.db",
            "HOME": str(home),  # DuckDB's extension directory: ~/.duckdb/extensions
        },
    )
    workspace.load_corpus(DEMO_CORPUS)

    built = run_dbt(["run", "--select", "path:models/staging"], workspace.env)
    assert built.ok, built.summary()
    shown = run_dbt(["show", "--inline", HTTPFS_STATE, "--output", "json", "--quiet"], workspace.env)
    assert shown.ok, shown.summary()

    [httpfs] = json.loads(shown.stdout)["show"]
    assert httpfs["loaded"] is True
    assert httpfs["install_mode"] == "CUSTOM_PATH"
    assert "duckdb_extension_httpfs" in httpfs["installed_from"]
    assert (home / ".duckdb" / "extensions").is_dir()
    [(staged,)] = workspace.query("select count(*) from stg_raw__transcript_chunks")
    assert staged > 0
