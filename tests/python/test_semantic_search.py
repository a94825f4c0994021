"""Hybrid, indexed, point-in-time search in SQL, end to end on the demo corpus: real dbt builds
`search_chunks` and its HNSW and full-text indexes after a tiny training run, and the searches run through
`dbt show`, `dbt run-operation` and `dbt compile` as a user runs them.

One build (module fixture) feeds every test; the searches whose hits the tests judge run in one
`dbt show` (a union of searches), to keep the module quick. External evaluation sets are left out.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from demo_builds import TrainedDemo

from vectorfin import duck, search_index
from vectorfin.config import PROJECT_ROOT
from vectorfin.dbt_workspace import DbtResult, DbtWorkspace, dbt_executable, run_dbt
from vectorfin.fusion import rrf_score
from vectorfin.search import query_embedding, register_search_functions
from vectorfin.search_index import search_index_path

pytestmark = pytest.mark.slow

# A date between the demo chunks' knowledge_ts (2022-12-30 .. 2024-09-29): some text is public by then,
# some is not. The README's example date.
AS_OF = "2023-06-30"
# Below the chunks AS_OF keeps and above those of the smallest company (MRDN): AS_OF searches over-fetch
# from the HNSW index, a one-company search is exact. Both plans, one build.
EXACT_MAX_CHUNKS = 10
SMALL_COMPANY, LARGE_COMPANY = "MRDN", "NRTH"
# Quotes, a statement separator and both comment markers: text, never SQL (no double quote: the searches
# are written as Jinja calls with the query in double quotes).
NASTY = "What's the CEO's view on margins?'); create table pwned as select 1; -- /* drop */"
# The figures of one demo chunk (NRTH's Q3 2022 call: revenue of $1,184.3 million, operating ratio 88.4%):
# a query of figures alone, which the keyword side finds and the dense side ranks far down.
FIGURES_QUERY = "1,184.3 million and 88.4%"
FIGURES_CHUNK_TEXT = "%$1,184.3 million%88.4%"
# Where the hybrid must lift that chunk among the demo's 84 (the dense side alone leaves it about 20th).
# Not first: reciprocal rank fusion also rewards the few chunks both sides rank well, and which those
# are is the tuned model's call.
NEAR_THE_TOP = 5
MODES = ("dense", "keyword", "hybrid")
K = 3
ALL = 1000  # more than the demo's chunks: a search returns every chunk it may


class SearchBuild:
    def __init__(self, workspace: DbtWorkspace) -> None:
        self.workspace = workspace

    def dbt(self, *args: str, vars: dict[str, Any] | None = None) -> DbtResult:
        return run_dbt(list(args), self.workspace.env, vars=vars)

    def show(self, searches: dict[str, str], vars: dict[str, Any] | None = None) -> dict[str, list[dict]]:
        """Run `{name: semantic_search call}` in one `dbt show` and return each search's hits, best first."""
        union = " union all by name ".join(
            f"select '{name}' as search_name, * from ({{{{ {call} }}}})" for name, call in searches.items()
        )
        result = self.dbt(
            "--quiet", "show", "--inline", union, "--output", "json", "--limit", "-1", vars=vars
        )
        assert result.ok, result.summary()
        rows = json.loads(result.stdout)["show"]
        hits: dict[str, list[dict]] = {name: [] for name in searches}
        for row in rows:
            hits[row.pop("search_name")].append(row)
        for found in hits.values():
            found.sort(key=lambda hit: (-hit["score"], hit["chunk_id"]))
        return hits

    def compiled(self, calls: list[str], vars: dict[str, Any] | None = None) -> list[str]:
        """The SQL each semantic_search call compiles to, from one `dbt compile`."""
        marker = "-- next search --"
        inline = f"\n{marker}\n".join(f"{{{{ {call} }}}}" for call in calls)
        result = self.dbt("--quiet", "compile", "--inline", inline, "--output", "json", vars=vars)
        assert result.ok, result.summary()
        return json.loads(result.stdout)["compiled"].split(marker)

    def query(self, sql: str) -> list[tuple]:
        return self.workspace.query(sql)


def table_names(workspace: DbtWorkspace) -> set[str]:
    return {name for (name,) in workspace.query("select table_name from duckdb_tables()")}


def plan_operators(connection: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    """The operators of the physical plan (from the JSON plan: the drawn one elides wide subtrees)."""
    [(_, plan)] = connection.execute(f"explain (format json) {sql}").fetchall()
    nodes, names = json.loads(plan), set()
    while nodes:
        node = nodes.pop()
        names.add(node["name"])
        nodes.extend(node.get("children", []))
    return names


def search_call(query: str, **arguments: Any) -> str:
    rendered = "".join(f", {name}={json.dumps(value)}" for name, value in arguments.items())
    return f'semantic_search("{query}"{rendered})'


@pytest.fixture(scope="module")
def search_build(trained_demo: TrainedDemo, tmp_path_factory: pytest.TempPathFactory) -> SearchBuild:
    assert trained_demo.first.status("search_chunks") == "success"
    return SearchBuild(trained_demo.pristine.copy_to(tmp_path_factory.mktemp("search_demo")))


@pytest.fixture(scope="module")
def hits(search_build: SearchBuild) -> dict[str, list[dict]]:
    """Every search the result tests judge, run once."""
    searches = {f"{mode}": search_call("gross margin guidance", k=K, mode=mode) for mode in MODES}
    for mode in MODES:
        searches[f"{mode}_all"] = search_call("gross margin guidance", k=ALL, mode=mode)
        searches[f"{mode}_as_of_all"] = search_call("gross margin guidance", k=ALL, mode=mode, as_of=AS_OF)
        searches[f"{mode}_as_of"] = search_call("gross margin guidance", k=K, mode=mode, as_of=AS_OF)
        searches[f"{mode}_figures"] = search_call(FIGURES_QUERY, k=ALL, mode=mode)
        searches[f"{mode}_nasty"] = search_call(NASTY, k=K, mode=mode, ticker=NASTY, period=NASTY)
        for company in (SMALL_COMPANY, LARGE_COMPANY):
            searches[f"{mode}_{company}"] = search_call("margins", k=ALL, mode=mode, ticker=company.lower())
        searches[f"{mode}_period"] = search_call("margins", k=ALL, mode=mode, period=["2023q3", "FY2023"])
    return search_build.show(searches, vars={"search_exact_max_chunks": EXACT_MAX_CHUNKS})


def test_search_chunks_holds_the_published_run_with_both_indexes(search_build: SearchBuild) -> None:
    """The table and its full-text index in the warehouse file, which holds no custom index; the HNSW
    index in its own file, over the same chunks, naming the build of search_chunks it indexes."""
    [(published, embedded)] = search_build.query(
        "select any_value(model_run_id), count(*) from chunk_embeddings"
    )
    [(runs, rows, fts_docs, build_id)] = search_build.query(
        "select count(distinct model_run_id), count(*), (select count(*) from fts_main_search_chunks.docs), "
        "any_value(build_id) from search_chunks"
    )
    index_file = search_index_path(search_build.workspace.duckdb_path)
    with duckdb.connect(str(index_file), read_only=True) as connection:
        indexed = connection.execute(
            "select count(*), (select count(*) from duckdb_indexes() where index_name = ?) from vectors",
            [search_index.INDEX],
        ).fetchone()
        manifest = connection.execute("select build_id, model_run_id, chunks from manifest").fetchall()

    assert (runs, rows, fts_docs) == (1, embedded, embedded)
    assert search_build.query("select distinct model_run_id from search_chunks") == [(published,)]
    assert search_build.query("select index_name from duckdb_indexes()") == []
    assert indexed == (embedded, 1)
    assert manifest == [(build_id, published, embedded)]


def test_every_mode_returns_ranked_hits_of_the_published_run(
    search_build: SearchBuild, hits: dict[str, list[dict]]
) -> None:
    [(published,)] = search_build.query("select distinct model_run_id from chunk_embeddings")
    for mode in MODES:
        found = hits[mode]
        assert len(found) == K, mode
        assert all(hit["model_run_id"] == published and hit["chunk_text"] for hit in found), mode
    assert [hit["dense_rank"] for hit in hits["dense"]] == [1, 2, 3]
    assert [hit["keyword_rank"] for hit in hits["keyword"]] == [1, 2, 3]
    assert all(-1 <= hit["score"] <= 1 for hit in hits["dense"])


def test_hybrid_fuses_the_two_rankings_by_the_evaluations_rule(
    search_build: SearchBuild, hits: dict[str, list[dict]]
) -> None:
    """Every hybrid score is vectorfin.fusion.rrf_score of the hit's dense and keyword ranks (a rank a side
    did not return counts as infinite), at the weight retrieval_metrics chose for the published run on the
    main eval set's tune part (var hybrid_dense_weight is null by default)."""
    [(weight,)] = search_build.query(
        "select dense_weight from retrieval_metrics where model = 'tuned+bm25' "
        "and eval_set = 'heldout_pairs' and eval_part = 'test' and metric = 'ndcg@10'"
    )
    fused = hits["hybrid_all"]
    assert any(hit["dense_rank"] and hit["keyword_rank"] for hit in fused)
    for hit in fused:
        ranks = [hit[side] if hit[side] is not None else math.inf for side in ("dense_rank", "keyword_rank")]
        assert math.isclose(hit["score"], rrf_score(*ranks, weight), rel_tol=1e-9), hit
    dense_ids = {hit["chunk_id"] for hit in hits["dense_all"]}
    keyword_ids = {hit["chunk_id"] for hit in hits["keyword_all"]}
    assert {hit["chunk_id"] for hit in fused} == dense_ids | keyword_ids


def test_a_set_fusion_weight_is_served_and_a_missing_chosen_one_is_a_clear_error(
    search_build: SearchBuild, tmp_path: Path
) -> None:
    call = search_call("gross margin", k=ALL, mode="hybrid")
    [hits] = search_build.show({"fixed": call}, vars={"hybrid_dense_weight": 1.0}).values()
    # weight 1: the dense ranking alone orders the hits
    dense_ranked = [hit for hit in hits if hit["dense_rank"] is not None]
    assert [hit["dense_rank"] for hit in dense_ranked] == sorted(hit["dense_rank"] for hit in dense_ranked)
    # retrieval_metrics holding another run's scores (a newer run that was not published)
    copy = search_build.workspace.copy_to(tmp_path / "another_run_evaluated")
    with duck.connect(str(copy.duckdb_path)) as connection:
        connection.execute(
            "update retrieval_metrics set model_run_id = 'another-run+bm25' where model = 'tuned+bm25'"
        )
    result = run_dbt(["show", "--inline", f"{{{{ {call} }}}}"], copy.env)
    output = result.stdout + result.stderr
    assert not result.ok
    assert "no fusion weight for the published run" in output and "set var hybrid_dense_weight" in output, (
        result.summary()
    )


def test_a_matryoshka_prefix_is_served_with_var_search_embedding_dims(
    search_build: SearchBuild, tmp_path: Path
) -> None:
    """search_chunks rebuilt with search_embedding_dims holds unit-length prefixes of the published run's
    vectors, and a dense search cuts the query's vector to the same prefix (through the HNSW index)."""
    copy = search_build.workspace.copy_to(tmp_path / "prefix")
    dims = {"search_embedding_dims": 128}
    rebuilt = run_dbt(["run", "--select", "search_chunks"], copy.env, vars=dims)
    assert rebuilt.ok, rebuilt.summary()
    [(vector_type, shortest, longest)] = copy.query(
        "select any_value(typeof(embedding)), min(sqrt(list_sum(list_transform(embedding::float[], "
        "lambda v: v * v)))), max(sqrt(list_sum(list_transform(embedding::float[], lambda v: v * v)))) "
        "from search_chunks"
    )
    assert vector_type == "FLOAT[128]"
    assert math.isclose(shortest, 1, rel_tol=1e-5) and math.isclose(longest, 1, rel_tol=1e-5)
    [(same_prefix,)] = copy.query(
        "select bool_and(array_cosine_similarity(search.embedding, chunks.embedding[1:128]::float[128]) "
        "> 0.9999) from search_chunks as search inner join chunk_embeddings as chunks using (chunk_id)"
    )
    assert same_prefix
    result = run_dbt(
        ["--quiet", "show", "--inline", f"{{{{ {search_call('gross margin', k=K)} }}}}", "--output", "json"],
        copy.env,
        vars=dims,
    )
    assert result.ok, result.summary()
    found = json.loads(result.stdout)["show"]
    assert [hit["dense_rank"] for hit in found] == [1, 2, 3]


def test_as_of_returns_only_text_public_by_then(
    search_build: SearchBuild, hits: dict[str, list[dict]]
) -> None:
    """A search as of a date never returns text that became public later. With AS_OF keeping more chunks
    than EXACT_MAX_CHUNKS, the dense side over-fetches from the HNSW index and filters: it still returns k
    hits, where the nearest k chunks of all include later text (what a plain HNSW search would return,
    and lose to the filter)."""
    as_of = datetime.fromisoformat(AS_OF)
    [(public, later)] = search_build.query(
        f"select count(*) filter (where knowledge_ts <= '{AS_OF}'), count(*) filter (where knowledge_ts > "
        f"'{AS_OF}') from search_chunks"
    )
    assert public > EXACT_MAX_CHUNKS and later > 0
    for mode in MODES:
        assert all(datetime.fromisoformat(hit["knowledge_ts"]) <= as_of for hit in hits[f"{mode}_as_of_all"])
        assert all(datetime.fromisoformat(hit["knowledge_ts"]) <= as_of for hit in hits[f"{mode}_as_of"])
        assert any(datetime.fromisoformat(hit["knowledge_ts"]) > as_of for hit in hits[f"{mode}_all"])
    assert len(hits["dense_as_of_all"]) == len(hits["hybrid_as_of_all"]) == public
    nearest = hits["dense_all"][:K]
    assert any(datetime.fromisoformat(hit["knowledge_ts"]) > as_of for hit in nearest)
    assert len(hits["dense_as_of"]) == len(hits["hybrid_as_of"]) == K


def test_ticker_and_period_filters(search_build: SearchBuild, hits: dict[str, list[dict]]) -> None:
    """Filters take a value or a list, in any case. The small company's search is exact (fewer chunks than
    EXACT_MAX_CHUNKS), the large one's over-fetches from the index: both return every chunk they may."""
    per_ticker = dict(search_build.query("select ticker, count(*) from search_chunks group by ticker"))
    [(in_periods,)] = search_build.query(
        "select count(*) from search_chunks where fiscal_period in ('2023Q3', 'FY2023')"
    )
    assert per_ticker[SMALL_COMPANY] <= EXACT_MAX_CHUNKS < per_ticker[LARGE_COMPANY]
    for mode in ("dense", "hybrid"):
        for company in (SMALL_COMPANY, LARGE_COMPANY):
            found = hits[f"{mode}_{company}"]
            assert {hit["ticker"] for hit in found} == {company}, (mode, company)
            assert len(found) == per_ticker[company], (mode, company)
        assert {hit["fiscal_period"] for hit in hits[f"{mode}_period"]} == {"2023Q3", "FY2023"}
        assert len(hits[f"{mode}_period"]) == in_periods
    assert {hit["ticker"] for hit in hits[f"keyword_{LARGE_COMPANY}"]} == {LARGE_COMPANY}
    assert {hit["fiscal_period"] for hit in hits["keyword_period"]} <= {"2023Q3", "FY2023"}


def test_hybrid_ranks_a_chunk_with_the_exact_figures_near_the_top(
    search_build: SearchBuild, hits: dict[str, list[dict]]
) -> None:
    """A query of figures: BM25 (figures kept whole by the index's tokenizer) finds the chunk that reports
    them, the dense model ranks it far down, and the hybrid brings it to the top."""
    [(figures_chunk,)] = search_build.query(
        f"select chunk_id from search_chunks where chunk_text like '{FIGURES_CHUNK_TEXT}'"
    )

    def rank(mode: str) -> int:
        return [hit["chunk_id"] for hit in hits[f"{mode}_figures"]].index(figures_chunk) + 1

    assert rank("keyword") == 1
    assert rank("hybrid") <= NEAR_THE_TOP < rank("dense")


def test_quotes_and_sql_in_the_query_and_filters_are_text(
    search_build: SearchBuild, hits: dict[str, list[dict]]
) -> None:
    """The query, ticker and period carry quotes, `;`, `--` and `/*`: every search runs, finds no company
    or period of that name, and creates nothing. The documented run-operation, with every argument,
    prints hits too."""
    tables = table_names(search_build.workspace)
    printed = search_build.dbt(
        "run-operation",
        "print_semantic_search",
        "--args",
        json.dumps(
            {"query": NASTY, "k": K, "mode": "hybrid", "as_of": AS_OF, "period": ["2023Q1", "2023Q2"]}
        ),
    )

    for mode in MODES:
        assert hits[f"{mode}_nasty"] == [], mode
    assert printed.ok, printed.summary()
    rows = [line for line in printed.stdout.splitlines() if line.startswith("| 0.")]
    assert len(rows) == K and all("2023Q1" in row or "2023Q2" in row for row in rows)
    assert table_names(search_build.workspace) == tables
    assert "pwned" not in tables


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"mode": "semantic; drop table search_chunks"},
            "semantic_search: mode must be one of dense, keyword, hybrid",
        ),
        ({"as_of": "2023-06-31' or true --"}, "semantic_search: as_of must be a date or timestamp"),
        ({"ticker": {"NRTH": 1}}, "semantic_search: ticker must be a non-empty text or a list of them"),
        ({"period": ["2023Q1", ""]}, "semantic_search: period must be a non-empty text or a list of them"),
        ({"as_of": "infinity"}, "semantic_search: as_of must be a date or timestamp (a finite one)"),
        # DuckDB's parser ends a query at a NUL: sql_string refuses one in any value, query or filter
        ({"query": "gross\u0000margin"}, "the text 'gross\\u0000margin' contains a NUL character"),
        ({"ticker": "NR\u0000TH"}, "the text 'NR\\u0000TH' contains a NUL character"),
    ],
)
def test_bad_arguments_are_clear_errors(search_build: SearchBuild, arguments: dict, message: str) -> None:
    tables = table_names(search_build.workspace)

    result = search_build.dbt(
        "run-operation", "print_semantic_search", "--args", json.dumps({"query": "margins", **arguments})
    )

    assert not result.ok
    assert message in result.stdout
    assert table_names(search_build.workspace) == tables


@pytest.mark.parametrize(
    ("search_vars", "message"),
    [
        (
            {"search_fusion_depth": "5; drop table search_chunks"},
            "search_fusion_depth: must be a whole number",
        ),
        ({"search_exact_max_chunks": 0}, "search_exact_max_chunks: must be at least 1"),
        ({"hybrid_dense_weight": 1.5}, "hybrid_dense_weight: must be"),
    ],
)
def test_a_search_checks_the_vars_as_a_build_does(
    search_build: SearchBuild, search_vars: dict, message: str
) -> None:
    """A search runs no on-run-start hook: it calls the settings check itself, the one that stops a build."""
    tables = table_names(search_build.workspace)

    result = search_build.dbt(
        "run-operation",
        "print_semantic_search",
        "--args",
        json.dumps({"query": "margins", "mode": "hybrid"}),
        vars=search_vars,
    )

    assert not result.ok
    assert message in result.stdout, result.stdout[-2000:]
    assert table_names(search_build.workspace) == tables


# The searches the README and docs/ give, as a reader would type them.
DOCUMENTED_SEARCHES = sorted(
    {
        line
        for document in [PROJECT_ROOT / "README.md", *(PROJECT_ROOT / "docs").glob("*.md")]
        for line in document.read_text().splitlines()
        if line.startswith("dbt run-operation print_semantic_search ")
    }
)


@pytest.mark.parametrize("command", DOCUMENTED_SEARCHES)
def test_the_documented_searches_find_hits_on_the_demo(search_build: SearchBuild, command: str) -> None:
    result = search_build.dbt(*shlex.split(command)[1:])

    assert result.ok, result.summary()
    assert "No chunk matches the filters" not in result.stdout
    assert any(re.match(r"\| -?\d", line) for line in result.stdout.splitlines()), result.stdout[-2000:]


def test_dense_search_uses_the_hnsw_index(search_build: SearchBuild) -> None:
    """EXPLAIN, in a new DuckDB session on the built files (the index file attached): an unfiltered dense or
    hybrid search and an over-fetching filtered one scan the HNSW index; a selective filter scores every
    kept chunk instead (an HNSW scan there would lose hits to the filter)."""
    calls = [
        search_call("margins", k=K),
        search_call("margins", k=K, mode="hybrid"),
        search_call("margins", k=K, as_of=AS_OF),
        search_call("margins", k=K, ticker=SMALL_COMPANY),
    ]
    compiled = search_build.compiled(calls, vars={"search_exact_max_chunks": EXACT_MAX_CHUNKS})

    with duck.connect(str(search_build.workspace.duckdb_path), read_only=True) as connection:
        register_search_functions(connection)
        search_index.attach(connection, search_build.workspace.duckdb_path)
        uses_index = ["HNSW_INDEX_SCAN" in plan_operators(connection, sql) for sql in compiled]

    assert uses_index == [True, True, True, False]


def test_a_stale_search_table_is_a_clear_error_until_rebuilt(
    search_build: SearchBuild, tmp_path: Path
) -> None:
    """search_chunks must hold what chunk_embeddings publishes, with its full-text index: when
    chunk_embeddings changed without it (or the index is gone), a search says so and how to rebuild;
    `dbt run --select search_chunks` rebuilds the table, both indexes and the HNSW index file."""
    copy = search_build.workspace.copy_to(tmp_path)
    search = ["run-operation", "print_semantic_search", "--args", "{query: margins, mode: hybrid}"]
    copy.execute("drop schema fts_main_search_chunks cascade")
    unindexed = run_dbt(search, copy.env)
    copy.execute(
        "delete from chunk_embeddings where chunk_id in (select chunk_id from chunk_embeddings limit 5)"
    )
    stale = run_dbt(search, copy.env)
    rebuilt = run_dbt(["run", "--select", "search_chunks"], copy.env)
    after = run_dbt(search, copy.env)

    assert not unindexed.ok
    assert "lacks its full-text index fts_main_search_chunks" in unindexed.stdout
    assert "Rebuild it: `dbt run --select search_chunks`" in unindexed.stdout
    assert not stale.ok and "is out of date" in stale.stdout
    assert rebuilt.ok, rebuilt.summary()
    [(embedded,)] = copy.query("select count(*) from chunk_embeddings")
    assert copy.query(
        "select count(*), (select count(*) from fts_main_search_chunks.docs) from search_chunks"
    ) == [(embedded, embedded)]
    with duckdb.connect(str(search_index_path(copy.duckdb_path)), read_only=True) as connection:
        assert connection.execute("select count(*) from vectors").fetchall() == [(embedded,)]
    assert after.ok, after.summary()
    assert "rebuilding it" not in after.stdout


def test_an_unreadable_or_stale_hnsw_index_file_rebuilds_itself(
    search_build: SearchBuild, tmp_path: Path
) -> None:
    """The HNSW index file not a DuckDB file, then one built for another build of search_chunks (as a
    build killed between the table's commit and the file's rename leaves it): each time the next search
    says so, rebuilds it from search_chunks and answers as before; the search after that uses the file
    as it is. (A deleted file: the kill test.)"""
    copy = search_build.workspace.copy_to(tmp_path)
    index_file = search_index_path(copy.duckdb_path)
    search = ["run-operation", "print_semantic_search", "--args", "{query: margins, k: 3}"]
    index_file.write_bytes(b"not a database" * 100)
    unreadable = run_dbt(search, copy.env)
    copy.execute("update search_chunks set build_id = 'a later build'")
    stale = run_dbt(search, copy.env)
    after = run_dbt(search, copy.env)

    assert unreadable.ok, unreadable.summary()
    assert f"The search index file {index_file} cannot be read" in unreadable.stdout
    assert stale.ok, stale.summary()
    assert f"The search index file {index_file} indexes another build of" in stale.stdout
    assert after.ok and "rebuilding it" not in after.stdout
    assert hit_lines(unreadable.stdout) == hit_lines(stale.stdout) == hit_lines(after.stdout)
    assert len(hit_lines(after.stdout)) == 3


def hit_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.match(r".*\| -?\d", line)]


# The kill test's copy of the demo build gets this many copies of each chunk (vectors nudged apart), so the
# HNSW index file takes seconds to build and the timed kills land in every phase of the build.
CHUNK_COPIES = 40
# Kills of `dbt build --select search_chunks` at these shares of an unkilled build's time: dbt's start,
# the settings check, the table, the full-text index, the HNSW file's build and rename.
KILL_SHARES = (0.2, 0.35, 0.5, 0.6, 0.7, 0.78, 0.86, 0.93)


def every_table_read_only(path: Path) -> dict[str, int]:
    """{schema.table: rows} of every table of a DuckDB file, opened read-only by plain DuckDB (no
    extension loaded): what a BI tool or `duckdb -readonly` does."""
    with duckdb.connect(str(path), read_only=True) as connection:
        tables = connection.execute(
            "select schema_name, table_name from duckdb_tables() order by all"
        ).fetchall()
        return {
            f"{schema}.{table}": connection.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[
                0
            ]
            for schema, table in tables
        }


def killed(args: list[str], workspace: DbtWorkspace, when: Callable[[], bool], timeout: float = 300) -> bool:
    """Start `dbt <args>` and SIGKILL its process group as soon as `when()` holds; False when it ended
    first."""
    run_dir = workspace.root / "dbt_runs" / f"killed-{time.time_ns()}"
    env = dict(workspace.env, DBT_TARGET_PATH=str(run_dir / "target"), DBT_LOG_PATH=str(run_dir / "logs"))
    process = subprocess.Popen(
        [*dbt_executable(), *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if when():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.002)
    process.wait(timeout=timeout)
    return False


def test_a_build_or_search_killed_at_any_point_leaves_files_any_reader_opens(
    search_build: SearchBuild, tmp_path: Path
) -> None:
    """SIGKILL at 11 points: `dbt build --select search_chunks` at 8 moments of its run and once while
    it writes the HNSW index file; a search while it rebuilds a lost index file; a search at its start.
    After every kill, plain DuckDB (no extension) opens the warehouse file read-only and every table
    keeps its rows; the last published index file opens whole. Then the project's next runs answer:
    a search (rebuilding the lost index file) and a build."""
    copy = search_build.workspace.copy_to(tmp_path / "killed")
    copy.execute(
        "insert into int_chunks_curated by name select * exclude (copy) "
        "replace (chunk_id || '-' || copy as chunk_id) "
        f"from int_chunks_curated, range(1, {CHUNK_COPIES}) as copies(copy)",
        "insert into chunk_embeddings by name select * exclude (copy) "
        "replace (chunk_id || '-' || copy as chunk_id, "
        "[value + 0.01 * (random() - 0.5) for value in embedding]::float[384] as embedding) "
        f"from chunk_embeddings, range(1, {CHUNK_COPIES}) as copies(copy)",
    )
    build = ["build", "--select", "search_chunks"]
    unkilled = run_dbt(build, copy.env)
    assert unkilled.ok, unkilled.summary()
    tables = every_table_read_only(copy.duckdb_path)
    index_file = search_index_path(copy.duckdb_path)
    building = index_file.with_name(index_file.name + search_index.BUILDING)
    search = ["run-operation", "print_semantic_search", "--args", "{query: margins, k: 3}"]

    def started_after(seconds: float) -> Callable[[], bool]:
        start = time.monotonic()
        return lambda: time.monotonic() - start >= seconds

    def kill(args: list[str], when: Callable[[], bool]) -> bool:
        """One kill, then every table read as a BI tool reads it."""
        was_killed = killed(args, copy, when)
        read_after_kills.append(every_table_read_only(copy.duckdb_path))
        return was_killed

    read_after_kills: list[dict[str, int]] = []
    kills = [kill(build, started_after(share * unkilled.seconds)) for share in KILL_SHARES]
    kills.append(kill(build, building.exists))
    with duckdb.connect(str(index_file), read_only=True) as connection:  # the last one published, whole
        published = connection.execute("select count(*) from vectors").fetchone()
    index_file.unlink()
    kills.append(kill(search, building.exists))
    kills.append(kill(search, started_after(1.0)))
    answered = run_dbt(search, copy.env)
    rebuilt = run_dbt(build, copy.env)

    assert kills.count(True) >= 10, kills
    assert all(read == tables for read in read_after_kills)
    assert published == (tables["main.search_chunks"],)
    assert answered.ok, answered.summary()
    assert f"The search index file {index_file} does not exist: rebuilding it" in answered.stdout
    assert len(hit_lines(answered.stdout)) == 3
    assert rebuilt.ok, rebuilt.summary()
    assert every_table_read_only(copy.duckdb_path) == tables


def test_a_search_embeds_its_query_once(search_build: SearchBuild) -> None:
    """DuckDB evaluates the query's vector (a constant) twice while planning a search: the second time
    comes from vectorfin_embed's cache, not the model."""
    [dense, hybrid] = search_build.compiled(
        [search_call("margins", k=K), search_call("margins", k=K, mode="hybrid")]
    )

    with duck.connect(str(search_build.workspace.duckdb_path), read_only=True) as connection:
        register_search_functions(connection)
        search_index.attach(connection, search_build.workspace.duckdb_path)
        embedded = []
        for sql in (dense, hybrid):
            query_embedding.cache_clear()
            connection.execute(sql).fetchall()
            embedded.append(query_embedding.cache_info().misses)

    assert embedded == [1, 1]
