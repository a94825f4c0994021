"""Hybrid, indexed, point-in-time search in SQL, end to end on the demo corpus: real dbt builds
`search_chunks` and its HNSW and full-text indexes after a tiny training run, and the searches run through
`dbt show`, `dbt run-operation` and `dbt compile` as a user runs them.

One build (module fixture) feeds every test; the searches whose hits the tests judge run in one
`dbt show` (a union of searches), to keep the module quick. External evaluation sets are left out.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt_project_runner import DbtResult, DbtWorkspace, run_dbt

from vectorfin import duck
from vectorfin.config import PROJECT_ROOT
from vectorfin.fusion import rrf_score
from vectorfin.search import query_embedding, register_search_functions

pytestmark = pytest.mark.slow

TRAINING = {"max_seq_length": 64, "batch_size": 8, "seed": 7}
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
def search_build(tmp_path_factory: pytest.TempPathFactory) -> SearchBuild:
    workspace = DbtWorkspace.demo(tmp_path_factory.mktemp("search_build"))
    built = run_dbt(["build"], workspace.env, vars={"training": TRAINING})
    assert built.ok, built.summary()
    assert built.status("search_chunks") == "success"
    return SearchBuild(workspace)


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
    [(published, embedded)] = search_build.query(
        "select any_value(model_run_id), count(*) from chunk_embeddings"
    )
    [(runs, rows, fts_docs)] = search_build.query(
        "select count(distinct model_run_id), count(*), (select count(*) from fts_main_search_chunks.docs) "
        "from search_chunks"
    )
    indexes = search_build.query("select table_name, index_name from duckdb_indexes()")

    assert (runs, rows, fts_docs) == (1, embedded, embedded)
    assert search_build.query("select distinct model_run_id from search_chunks") == [(published,)]
    assert ("search_chunks", "search_chunks_embedding_hnsw") in indexes


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


README_SEARCHES = [
    line
    for line in (PROJECT_ROOT / "README.md").read_text().splitlines()
    if line.startswith("dbt run-operation print_semantic_search ")
]


@pytest.mark.parametrize("command", README_SEARCHES)
def test_the_readmes_searches_find_hits_on_the_demo(search_build: SearchBuild, command: str) -> None:
    result = search_build.dbt(*shlex.split(command)[1:])

    assert result.ok, result.summary()
    assert "No chunk matches the filters" not in result.stdout
    assert any(re.match(r"\| -?\d", line) for line in result.stdout.splitlines()), result.stdout[-2000:]


def test_dense_search_uses_the_hnsw_index(search_build: SearchBuild) -> None:
    """EXPLAIN, in a new DuckDB session on the built file (the index persisted): an unfiltered dense or
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
        uses_index = ["HNSW_INDEX_SCAN" in plan_operators(connection, sql) for sql in compiled]

    assert uses_index == [True, True, True, False]


def test_a_stale_or_unindexed_search_table_is_a_clear_error_until_rebuilt(
    search_build: SearchBuild, tmp_path: Path
) -> None:
    """search_chunks must hold what chunk_embeddings publishes, with both indexes: when chunk_embeddings
    changed without it (or an index is gone), a search says so and how to rebuild; `dbt run --select
    search_chunks` rebuilds the table and both indexes to match."""
    copy = search_build.workspace.copy_to(tmp_path)
    search = ["run-operation", "print_semantic_search", "--args", "{query: margins, mode: hybrid}"]
    copy.execute("drop index search_chunks_embedding_hnsw")
    unindexed = run_dbt(search, copy.env)
    copy.execute(
        "delete from chunk_embeddings where chunk_id in (select chunk_id from chunk_embeddings limit 5)"
    )
    stale = run_dbt(search, copy.env)
    rebuilt = run_dbt(["run", "--select", "search_chunks"], copy.env)
    after = run_dbt(search, copy.env)

    assert not unindexed.ok
    assert "lacks its HNSW index search_chunks_embedding_hnsw" in unindexed.stdout
    assert "Rebuild it: `dbt run --select search_chunks`" in unindexed.stdout
    assert not stale.ok and "is out of date" in stale.stdout
    assert rebuilt.ok, rebuilt.summary()
    [(embedded,)] = copy.query("select count(*) from chunk_embeddings")
    assert copy.query(
        "select count(*), (select count(*) from fts_main_search_chunks.docs), (select count(*) from "
        "duckdb_indexes() where index_name = 'search_chunks_embedding_hnsw') from search_chunks"
    ) == [(embedded, embedded, 1)]
    assert after.ok, after.summary()


# A process that commits a table and its HNSW index as search_chunks' build does, then is killed before
# DuckDB checkpoints (writes the index into the file): only the write-ahead log holds them.
KILLED_WRITER = """
import os, sys
from vectorfin import duck
from vectorfin.search import allow_persistent_vector_indexes
connection = duck.connect(sys.argv[1])
allow_persistent_vector_indexes(connection)
connection.execute("pragma disable_checkpoint_on_shutdown")
connection.execute("set checkpoint_threshold = '10GB'")
connection.execute("begin")
connection.execute(
    "create table vectors as select i as id, [cos(i), sin(i), cos(3 * i) + 2]::float[3] as embedding "
    "from range(500) as r(i)"
)
connection.execute("create index vectors_hnsw on vectors using hnsw (embedding) with (metric = 'cosine')")
connection.execute("commit")
os.kill(os.getpid(), 9)
"""


def test_a_committed_index_survives_a_killed_writer(tmp_path: Path) -> None:
    """kill -9 after the commit and before any checkpoint: the next read-write session (dbt's) replays the
    log, and the index is there, used, and finds what an exact search finds."""
    path = tmp_path / "killed.duckdb"
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path)], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert Path(f"{path}.wal").stat().st_size > 0
    nearest = "select id from vectors order by array_cosine_distance(embedding, [1, 0, 3]::float[3]) limit 5"

    with duck.connect(str(path)) as connection:
        indexes = connection.execute("select index_name from duckdb_indexes()").fetchall()
        operators = plan_operators(connection, nearest)
        found = connection.execute(nearest).fetchall()
        exact = connection.execute(
            "select id from vectors "
            "order by 1 - array_cosine_similarity(embedding, [1, 0, 3]::float[3]), id limit 5"
        ).fetchall()

    assert indexes == [("vectors_hnsw",)]
    assert "HNSW_INDEX_SCAN" in operators
    assert sorted(found) == sorted(exact)


def test_a_search_embeds_its_query_once(search_build: SearchBuild) -> None:
    """DuckDB evaluates the query's vector (a constant) twice while planning a search: the second time
    comes from vectorfin_embed's cache, not the model."""
    [dense, hybrid] = search_build.compiled(
        [search_call("margins", k=K), search_call("margins", k=K, mode="hybrid")]
    )

    with duck.connect(str(search_build.workspace.duckdb_path), read_only=True) as connection:
        register_search_functions(connection)
        embedded = []
        for sql in (dense, hybrid):
            query_embedding.cache_clear()
            connection.execute(sql).fetchall()
            embedded.append(query_embedding.cache_info().misses)

    assert embedded == [1, 1]
