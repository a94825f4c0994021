"""Which write-ahead logs a read-only DuckDB session can replay: the measurement behind keeping the HNSW
index out of the warehouse file (docs/crash_safety.md).

    .venv/bin/python benchmarks/wal_replay.py

For each kind of write (a plain table; the table with a full-text index, as search_chunks keeps in the
warehouse; the table with an HNSW index; both indexes) and each size, a child process commits the write
in one transaction, as dbt does, and is killed with SIGKILL before DuckDB checkpoints, which leaves the
write only in the log. Then plain DuckDB (no extension loaded, the way a BI tool or `duckdb -readonly`
opens a file) opens the file read-only and reads a table written before. Printed and written to
benchmarks/results/wal_replay.json.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

RESULTS = Path(__file__).resolve().parent / "results" / "wal_replay.json"
KINDS = {
    "table": [],
    "table + full-text index": ["pragma create_fts_index('main.written', 'id', 'body', overwrite = 1)"],
    "table + HNSW index": [
        "create index written_hnsw on written using hnsw (embedding) with (metric = 'cosine')"
    ],
    "table + both indexes": [
        "pragma create_fts_index('main.written', 'id', 'body', overwrite = 1)",
        "create index written_hnsw on written using hnsw (embedding) with (metric = 'cosine')",
    ],
}
# The child: a table checkpointed into the file, then one committed transaction left in the log only.
WRITER = """
import json, os, sys
import duckdb
path, rows, statements = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
connection = duckdb.connect(path)
connection.execute("load fts; load vss; set global hnsw_enable_experimental_persistence = true")
connection.execute("create table before_the_kill as select range as id from range(1000)")
connection.execute("checkpoint")
connection.execute("begin")
connection.execute(
    "create table written as select range as id, 'term' || (range % 997) || ' words ' || range as body, "
    f"[random() for dim in range(16)]::float[16] as embedding from range({rows})"
)
for statement in statements:
    connection.execute(statement)
connection.execute("commit")
os.kill(os.getpid(), 9)
"""


def trial(folder: Path, kind: str, rows: int) -> dict[str, object]:
    path = folder / f"{kind.replace(' ', '_').replace('+', 'and')}_{rows}.duckdb"
    child = subprocess.run(
        [sys.executable, "-c", WRITER, str(path), str(rows), json.dumps(KINDS[kind])],
        capture_output=True,
        text=True,
    )
    if child.returncode != -signal.SIGKILL:
        raise RuntimeError(f"the writer was not killed: {child.stderr}")
    log = Path(f"{path}.wal")
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            connection.execute("select count(*) from before_the_kill").fetchall()
        read_only_open = "ok"
    except duckdb.Error as error:
        read_only_open = str(error).splitlines()[0]
    return {
        "kind": kind,
        "rows": rows,
        "log_bytes": log.stat().st_size if log.exists() else 0,
        "read_only_open": read_only_open,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 100000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = [trial(Path(folder), kind, rows) for kind in KINDS for rows in args.rows]
    for result in results:
        size = f"{result['rows']:>7} rows, log {result['log_bytes']:>10} B"
        print(f"{result['kind']:<26} {size}: {result['read_only_open']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"duckdb": duckdb.__version__, "trials": results}, indent=2))


if __name__ == "__main__":
    main()
