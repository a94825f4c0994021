"""The project's Iceberg tables: their schemas, the catalog that holds them, and safe appends.

Every commit also refreshes `metadata/version-hint.text` so that DuckDB's `iceberg_scan()`
can read a table from its folder alone (`iceberg_scan('<warehouse>/raw/transcript_chunks')`),
which is how the dbt sources and analysts' ad-hoc queries read it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform, YearTransform
from pyiceberg.types import (
    IntegerType,
    NestedField,
    StringType,
    TimestampType,
    TimestamptzType,
)

from vectorfin.config import Settings

RAW_NAMESPACE = "raw"
TRANSCRIPT_CHUNKS = "transcript_chunks"
FILING_CHUNKS = "filing_chunks"


def _fields(*specs: tuple[str, object, bool]) -> Schema:
    return Schema(
        *(
            NestedField(field_id=i, name=name, field_type=field_type, required=required)
            for i, (name, field_type, required) in enumerate(specs, start=1)
        )
    )


_COMMON_CHUNK_FIELDS: tuple[tuple[str, object, bool], ...] = (
    ("chunk_id", StringType(), True),
    ("doc_id", StringType(), True),
    ("source_dataset", StringType(), True),
    ("ticker", StringType(), False),
    ("company", StringType(), False),
    ("fiscal_period", StringType(), False),
    ("chunk_idx", IntegerType(), True),
    ("chunk_text", StringType(), False),
    ("knowledge_ts", TimestampType(), False),
    ("ingested_at", TimestamptzType(), True),
)

TRANSCRIPT_CHUNKS_SCHEMA = _fields(
    *_COMMON_CHUNK_FIELDS,
    ("section", StringType(), False),
    ("speaker", StringType(), False),
    ("speaker_role", StringType(), False),
    ("turn_idx", IntegerType(), False),
)

FILING_CHUNKS_SCHEMA = _fields(
    *_COMMON_CHUNK_FIELDS,
    ("form_type", StringType(), False),
    ("item", StringType(), False),
    ("page", IntegerType(), False),
)

RAW_TABLE_SCHEMAS: dict[str, Schema] = {
    TRANSCRIPT_CHUNKS: TRANSCRIPT_CHUNKS_SCHEMA,
    FILING_CHUNKS: FILING_CHUNKS_SCHEMA,
}


def _raw_partition_spec(schema: Schema) -> PartitionSpec:
    """Partition by source and knowledge year: point-in-time reads prune whole years of files."""
    return PartitionSpec(
        PartitionField(
            source_id=schema.find_field("source_dataset").field_id,
            field_id=1000,
            transform=IdentityTransform(),
            name="source_dataset",
        ),
        PartitionField(
            source_id=schema.find_field("knowledge_ts").field_id,
            field_id=1001,
            transform=YearTransform(),
            name="knowledge_year",
        ),
    )


def get_catalog(settings: Settings | None = None) -> Catalog:
    """The configured catalog: SQLite `SqlCatalog` locally, REST or SQL when a URI says so.

    Extra properties (credentials, tokens) come from pyiceberg's own environment variables,
    `PYICEBERG_CATALOG__VECTORFIN__<PROPERTY>`, never from files in the project.
    """
    settings = settings or Settings.from_env()
    properties: dict[str, str] = {"warehouse": _as_uri(settings.warehouse)}
    uri = settings.catalog_uri
    if uri:
        properties["uri"] = uri
        properties["type"] = "rest" if urlparse(uri).scheme in {"http", "https"} else "sql"
    if properties.get("type") == "sql" and uri and uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return load_catalog(settings.catalog_name, **properties)


def _as_uri(location: str) -> str:
    return location if "://" in location else f"file://{location}"


def ensure_table(
    catalog: Catalog,
    namespace: str,
    name: str,
    schema: Schema,
    settings: Settings | None = None,
    partition_spec: PartitionSpec | None = None,
) -> Table:
    """Load `namespace.name`, creating it (and the namespace) at `<warehouse>/<namespace>/<name>`."""
    settings = settings or Settings.from_env()
    catalog.create_namespace_if_not_exists(namespace)
    identifier = f"{namespace}.{name}"
    if catalog.table_exists(identifier):
        return catalog.load_table(identifier)
    table = catalog.create_table(
        identifier,
        schema=schema,
        location=_as_uri(settings.table_location(namespace, name)),
        partition_spec=partition_spec or PartitionSpec(),
    )
    write_version_hint(table)
    return table


def ensure_raw_tables(catalog: Catalog, settings: Settings | None = None) -> dict[str, Table]:
    return {
        name: ensure_table(catalog, RAW_NAMESPACE, name, schema, settings, _raw_partition_spec(schema))
        for name, schema in RAW_TABLE_SCHEMAS.items()
    }


def write_version_hint(table: Table) -> None:
    """Point `metadata/version-hint.text` at the table's current metadata file.

    DuckDB resolves a hint `H` to `metadata/H.metadata.json`, so the hint is the file's stem.
    Written through the table's own FileIO, so it works for `file://` and `gs://` alike.
    """
    metadata_dir, _, metadata_file = table.metadata_location.rpartition("/")
    stem = metadata_file.removesuffix(".metadata.json")
    with table.io.new_output(f"{metadata_dir}/version-hint.text").create(overwrite=True) as hint:
        hint.write(stem.encode())


def existing_keys(table: Table, key: str) -> pa.Array:
    return table.scan(selected_fields=(key,)).to_arrow().column(key).combine_chunks()


def append_new_rows(table: Table, rows: pa.Table, key: str) -> int:
    """Append the rows whose `key` the table does not hold yet, in one commit; return how many.

    Loading the same rows twice therefore adds nothing.
    """
    rows = rows.cast(table.schema().as_arrow())
    first_rows = (
        rows.select([key])
        .append_column("row_number", pa.array(range(rows.num_rows), pa.int64()))
        .group_by(key)
        .aggregate([("row_number", "min")])
        .column("row_number_min")
    )
    rows = rows.take(first_rows.sort())
    if rows.num_rows and table.current_snapshot() is not None:
        rows = rows.filter(pc.invert(pc.is_in(rows.column(key), value_set=existing_keys(table, key))))
    if rows.num_rows == 0:
        return 0
    table.append(rows)
    write_version_hint(table)
    return rows.num_rows
