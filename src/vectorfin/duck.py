"""DuckDB sessions that can read the warehouse and search it: extensions installed offline.

DuckDB would normally download extensions; here they come from their PyPI packages, pinned to
DuckDB's version in requirements.txt: `duckdb-extension-iceberg` and `duckdb-extension-avro` (read
the Iceberg tables), `duckdb-extension-fts` (BM25 full-text index) and `duckdb-extension-vss` (HNSW
vector index), installed with `INSTALL '<file>'` into DuckDB's extension directory, after which
`LOAD iceberg` (fts, vss) works without a network. `duckdb-extension-httpfs` is installed the same
way but loaded only by the `remote` dbt target (object-store warehouses), whose `INSTALL httpfs`
then finds it installed and downloads nothing.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

import duckdb

# Install order matters: avro before iceberg, which needs it.
EXTENSION_PACKAGES = (
    "duckdb_extension_avro",
    "duckdb_extension_iceberg",
    "duckdb_extension_fts",
    "duckdb_extension_vss",
    "duckdb_extension_httpfs",
)
# Loaded into every session: avro is loaded by iceberg itself; httpfs only by the remote target.
LOADED_EXTENSIONS = ("iceberg", "fts", "vss")


def sql_string(value: object) -> str:
    """`value` as a DuckDB string literal, single quotes doubled: the one way Python code puts text
    into SQL that cannot take a bound parameter (`INSTALL`, a relation handed to dbt). The dbt macro
    `sql_string` (macros/sql/sql_string.sql) is its twin for Jinja."""
    return "'" + str(value).replace("'", "''") + "'"


def extension_files() -> list[Path]:
    """The `.duckdb_extension` files for this DuckDB version, in EXTENSION_PACKAGES' order."""
    version = f"v{duckdb.__version__}"
    files = []
    for package in EXTENSION_PACKAGES:
        folder = Path(import_module(package).__path__[0]) / "extensions" / version
        found = sorted(folder.glob("*.duckdb_extension"))
        if not found:
            raise RuntimeError(
                f"{package} ships no extension for DuckDB {version} (looked in {folder}); "
                "pin duckdb and the extension packages to the same version"
            )
        files.extend(found)
    return files


def install_extensions(connection: duckdb.DuckDBPyConnection | None = None) -> list[Path]:
    """Install the extension files into DuckDB's extension directory (idempotent, offline)."""
    files = extension_files()
    target = connection or duckdb.connect()
    for file in files:
        target.execute(f"INSTALL {sql_string(file)}")
    return files


def load_extensions(connection: duckdb.DuckDBPyConnection) -> None:
    install_extensions(connection)
    for extension in LOADED_EXTENSIONS:
        connection.execute(f"LOAD {extension}")


def connect(database: str = ":memory:", read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection where `iceberg_scan('<warehouse>/raw/<table>')` works and the search
    indexes (fts, vss) are usable."""
    connection = duckdb.connect(database, read_only=read_only)
    load_extensions(connection)
    return connection
