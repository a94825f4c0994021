"""Semantic search on real chunks: HNSW recall@10 against exact search, and query latency per mode.

    .venv/bin/python benchmarks/search_quality.py                       # 20,000 chunks, 200 queries
    .venv/bin/python benchmarks/search_quality.py --sample 40000 --embedding-backend torch

Reads a stable sample of curated chunks (md5 of chunk_id) and of real queries (the anchors of
`heldout_pairs`, md5 of query_id) from a built project's DuckDB file (`--source`, default the project's
own, after `make build CORPUS=../shared/data`), read-only. The chunks are embedded with the base model
(all-MiniLM-L6-v2) by `--embedding-backend` (vectorfin.ml.encoders; cached in the work folder, so a
rerun embeds nothing), and written to a scratch DuckDB file as the published run's `chunk_embeddings`,
with `training_runs` naming the base model and `int_chunks_curated` holding the sample. The real
`search_chunks` model then builds the table and its HNSW and full-text indexes (`dbt run --select
search_chunks`), and the real `semantic_search` macro compiles each mode's SQL (`dbt compile`): what
is timed is what a user runs, query embedding included (`vectorfin_embed`, the PyTorch model, as dbt
runs it), and again with the query's vector kept (the SQL alone).

Reported: recall@10 of the HNSW search (dense mode, no filter) against the exact top 10 by cosine
similarity over the same stored vectors and query vectors; the same for a dense search `as_of` a date
keeping about half the chunks, forced to over-fetch from the index (var search_exact_max_chunks below the
kept chunks); latency p50/p95 per mode over the queries, whole and SQL alone (one warm-up query
first); the index build time; the machine's load. Then, per evaluation set (`--eval-sets`), its corpus is
made the published run the same way, and NDCG@10 of each mode is measured through semantic_search on a
stable sample of its queries (`--eval-queries`), judged by its qrels. Its documents are indexed as
the corpus is: split into chunks of at most `--max-seq-length` word pieces (the evaluation's own
splitter), each chunk a row of search_chunks; a search returns the top `--chunk-hits` chunks and a
document ranks by its best chunk, as the evaluation in retrieval_metrics scores it. This is measured
for the base model and, when the source has one, for the run `chunk_embeddings` publishes (the tuned
model search serves), whose artifact embeds both the documents and the queries. Results are printed
and written to benchmarks/results/search_quality.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from vectorfin import duck, search_index
from vectorfin.config.locations import project_environment
from vectorfin.config.training import TrainingConfig
from vectorfin.dbt_workspace import DbtWorkspace, run_dbt
from vectorfin.ml.model_folders import linked_base_model
from vectorfin.search import query_embedding, register_search_functions

PROJECT_ROOT = Path(__file__).resolve().parents[1]

RESULTS_FILE = PROJECT_ROOT / "benchmarks" / "results" / "search_quality.json"
QUERY_SET = "heldout_pairs"
PUBLISHED_RUN = "base-model"
QUERY_PLACEHOLDER = "__search_quality_query__"
SEARCH_MARKER = "-- next search --"
MODES = ("dense", "keyword", "hybrid")


def percentile(values: list[float], share: float) -> float:
    return float(np.percentile(np.array(values), share * 100))


def read_sample(source: Path, chunks: int) -> list[tuple]:
    with duckdb.connect(str(source), read_only=True) as connection:
        return connection.execute(
            "select chunk_id, ticker, fiscal_period, knowledge_ts, chunk_text from int_chunks_curated "
            "order by md5(chunk_id) limit ?",
            [chunks],
        ).fetchall()


def read_queries(source: Path, queries: int) -> list[str]:
    with duckdb.connect(str(source), read_only=True) as connection:
        texts = connection.execute(
            "select query_text from eval_queries where eval_set = ? order by md5(query_id) limit ?",
            [QUERY_SET, queries],
        ).fetchall()
    return [text for (text,) in texts]


def published_corpus(
    source: Path, folder: Path
) -> tuple[DbtWorkspace, np.ndarray, np.ndarray, np.ndarray, Path]:
    """A copy of the built `source` in a scratch workspace, searched as the build left it: every chunk of
    its published run. Returns the workspace, the chunk ids, their knowledge_ts and vectors (as stored
    in search_chunks), and the published run's artifact."""
    import shutil

    workspace = DbtWorkspace.create(folder)
    Path(f"{workspace.duckdb_path}.wal").unlink(missing_ok=True)
    shutil.copyfile(source, workspace.duckdb_path)
    with duckdb.connect(str(workspace.duckdb_path), read_only=True) as connection:
        [(artifact,)] = connection.execute(
            "select artifact_path from training_runs "
            "where run_id = (select any_value(model_run_id) from chunk_embeddings)"
        ).fetchall()
        chunks = connection.execute(
            "select chunk_id, knowledge_ts, embedding from chunk_embeddings "
            "inner join int_chunks_curated using (chunk_id) order by chunk_id"
        ).fetchnumpy()
    vectors = np.stack(chunks["embedding"]).astype(np.float32)
    return workspace, chunks["chunk_id"], chunks["knowledge_ts"], vectors, Path(artifact)


def embed_chunks(
    texts: list[str], model_path: str, backend: str, max_seq_length: int, cache: Path, onnx_folder: Path
) -> tuple[np.ndarray, float | None]:
    """Unit vectors of `texts` (cached in `cache`), and the seconds embedding took (None when cached)."""
    if cache.is_file():
        return np.load(cache), None
    from sentence_transformers import SentenceTransformer

    from vectorfin.ml.encoders import encode_by_length, use_backend

    model = SentenceTransformer(model_path, device="cpu", local_files_only=True)
    model.max_seq_length = max_seq_length
    use_backend(model, backend, onnx_folder)
    started = time.perf_counter()
    vectors = encode_by_length(model, texts, batch_size=64)
    seconds = time.perf_counter() - started
    np.save(cache, vectors)
    return vectors, seconds


def base_model_artifact(folder: Path) -> Path:
    """An artifact folder of the untrained base model, which `vectorfin_embed` (as for any published run)
    loads: the model's files linked, and the result marker a finished training writes, saying what it is."""
    from vectorfin.ml.training import RESULT_MARKER

    linked_base_model(folder)
    (folder / RESULT_MARKER).write_text(json.dumps({"note": "the untrained base model (search_quality.py)"}))
    return folder


def publishable_artifact(source: Path) -> Path | None:
    """The artifact of the run `chunk_embeddings` publishes from the built `source` (the tuned model that
    search serves: the Ray job's `published_run`), or None when it publishes none."""
    from dataclasses import replace

    from vectorfin.config.locations import StateLocations
    from vectorfin.scale.ray_embedding import JobError, published_run

    try:
        return Path(published_run(replace(StateLocations.from_env(), duckdb_path=source)).model_path)
    except JobError:
        return None


def write_published_run(path: Path, rows: list[tuple], vectors: np.ndarray, model_path: str) -> None:
    """The tables `search_chunks` and `semantic_search` read, as a build leaves them for one published run."""
    import pyarrow as pa

    columns = list(zip(*rows, strict=True))
    chunks = pa.table(
        {
            name: list(values)
            for name, values in zip(
                ("chunk_id", "ticker", "fiscal_period", "knowledge_ts", "chunk_text"), columns, strict=True
            )
        }
    )
    embeddings = pa.table(
        {
            "chunk_id": list(columns[0]),
            "model_run_id": [PUBLISHED_RUN] * len(rows),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), vectors.shape[1]),
        }
    )
    with duckdb.connect(str(path)) as connection:
        connection.register("chunks_arrow", chunks)
        connection.register("embeddings_arrow", embeddings)
        connection.execute("create or replace table int_chunks_curated as select * from chunks_arrow")
        connection.execute("create or replace table chunk_embeddings as select * from embeddings_arrow")
        connection.execute(
            "create or replace table training_runs as select ? as run_id, ? as artifact_path",
            [PUBLISHED_RUN, model_path],
        )


def compile_searches(workspace: DbtWorkspace, calls: list[str], vars: dict[str, Any]) -> list[str]:
    inline = f"\n{SEARCH_MARKER}\n".join(f"{{{{ {call} }}}}" for call in calls)
    result = run_dbt(["--quiet", "compile", "--inline", inline, "--output", "json"], workspace.env, vars=vars)
    if not result.ok:
        raise RuntimeError(result.summary())
    return json.loads(result.stdout)["compiled"].split(SEARCH_MARKER)


def search_sql(compiled: str, query: str) -> str:
    return compiled.replace(duck.sql_string(QUERY_PLACEHOLDER), duck.sql_string(query))


def timed_searches(
    connection: duckdb.DuckDBPyConnection, compiled: str, queries: list[str]
) -> tuple[list[list[str]], list[float], list[float]]:
    """Each query's hit ids, and the milliseconds each search took: as a new query (embedded by the search)
    and again with its vector kept (the SQL alone). One warm-up search first."""
    connection.execute(search_sql(compiled, queries[0])).fetchall()
    hits, whole_ms, sql_ms = [], [], []
    for query in queries:
        query_embedding.cache_clear()
        for timings in (whole_ms, sql_ms):
            started = time.perf_counter()
            cursor = connection.execute(search_sql(compiled, query))
            rows = cursor.fetchall()
            timings.append((time.perf_counter() - started) * 1000)
        chunk_id = [column[0] for column in cursor.description].index("chunk_id")
        hits.append([row[chunk_id] for row in rows])
    return hits, whole_ms, sql_ms


def recall(found: list[list[str]], exact: list[list[str]]) -> float:
    return statistics.fmean(
        len(set(hits) & set(best)) / len(best) for hits, best in zip(found, exact, strict=True)
    )


def exact_top(
    query_vectors: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int, kept: np.ndarray
) -> list[list[str]]:
    """The k chunks (among `kept`) most similar to each query: every kept chunk scored."""
    similarities = query_vectors @ vectors[kept].T
    kept_ids = ids[kept]
    return [list(kept_ids[np.argsort(-row, kind="stable")[:k]]) for row in similarities]


def latency(milliseconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(milliseconds, 0.5), 1),
        "p95_ms": round(percentile(milliseconds, 0.95), 1),
    }


def build_search(
    folder: Path, rows: list[tuple], vectors: np.ndarray, artifact: Path
) -> tuple[DbtWorkspace, float]:
    """A fresh DuckDB file holding `rows` as the published run, and `search_chunks` built on it by dbt;
    the seconds the model (table and both indexes) took."""
    workspace = DbtWorkspace.create(folder)
    workspace.duckdb_path.unlink(missing_ok=True)
    Path(f"{workspace.duckdb_path}.wal").unlink(missing_ok=True)
    write_published_run(workspace.duckdb_path, rows, vectors, str(artifact))
    return workspace, build_search_chunks(workspace)


def build_search_chunks(workspace: DbtWorkspace) -> float:
    """`dbt run --select search_chunks` in `workspace`: the seconds the model (table, indexes) took."""
    built = run_dbt(["run", "--select", "search_chunks"], workspace.env)
    if not built.ok:
        raise RuntimeError(built.summary())
    [seconds] = [
        result["execution_time"] for result in built.results if result["unique_id"].endswith(".search_chunks")
    ]
    return seconds


def ndcg(ranked: list[str], relevance: dict[str, int], k: int) -> float:
    """NDCG@k with linear gains (trec_eval's ndcg_cut)."""
    gains = [relevance.get(doc, 0) / np.log2(rank + 2) for rank, doc in enumerate(ranked[:k])]
    ideal = [
        gain / np.log2(rank + 2) for rank, gain in enumerate(sorted(relevance.values(), reverse=True)[:k])
    ]
    return float(sum(gains) / sum(ideal)) if sum(ideal) else 0.0


def documents_as_chunks(
    documents: list[tuple], tokenizer: Any, max_seq_length: int
) -> tuple[list[tuple], dict]:
    """Each document's chunks (the evaluation's splitter) as rows of the published run, and the document
    of each chunk id."""
    from vectorfin.ml.evaluation import chunk_corpus

    chunks = chunk_corpus(
        [row[0] for row in documents], [row[4] for row in documents], tokenizer, max_seq_length
    )
    rows, document_of = [], {}
    for index, (doc_id, ticker, period, knowledge_ts, _) in enumerate(documents):
        for part, text in enumerate(chunks.texts[chunks.starts[index] : chunks.starts[index + 1]]):
            chunk_id = f"{doc_id}#{part}"
            rows.append((chunk_id, ticker, period, knowledge_ts, text))
            document_of[chunk_id] = doc_id
    return rows, document_of


def documents_by_best_chunk(chunk_hits: list[str], document_of: dict[str, str]) -> list[str]:
    """Documents in the order of their best (first) chunk among a search's hits."""
    return list(dict.fromkeys(document_of[chunk_id] for chunk_id in chunk_hits))


def eval_set_ndcg(
    source: Path,
    eval_set: str,
    queries: int,
    k: int,
    chunk_hits: int,
    embed: Callable[[list[str], str], tuple[np.ndarray, float | None]],
    tokenizer: Any,
    max_seq_length: int,
    artifact: Path,
    folder: Path,
) -> dict[str, Any]:
    """NDCG@k of each mode through semantic_search, over an evaluation set's corpus as chunks (the
    published run) and a stable sample of its queries, judged by its qrels; documents rank by their best
    chunk among the top `chunk_hits` chunks."""
    with duckdb.connect(str(source), read_only=True) as connection:
        documents = connection.execute(
            "select doc_id, ticker, null::varchar, null::timestamp, doc_text from eval_corpus "
            "where eval_set = ? order by doc_id",
            [eval_set],
        ).fetchall()
        asked = connection.execute(
            "select query_id, query_text from eval_queries where eval_set = ? and query_id in "
            "(select query_id from eval_qrels where eval_set = ? and relevance > 0) "
            "order by md5(query_id) limit ?",
            [eval_set, eval_set, queries],
        ).fetchall()
        qrels = connection.execute(
            "select query_id, doc_id, relevance from eval_qrels where eval_set = ? and relevance > 0",
            [eval_set],
        ).fetchall()
    relevant: dict[str, dict[str, int]] = {}
    for query_id, doc_id, relevance in qrels:
        relevant.setdefault(query_id, {})[doc_id] = relevance
    rows, document_of = documents_as_chunks(documents, tokenizer, max_seq_length)
    vectors, _ = embed([row[4] for row in rows], f"{eval_set}_chunks")
    workspace, _ = build_search(folder / "dbt", rows, vectors, artifact)
    calls = [f'semantic_search("{QUERY_PLACEHOLDER}", k={chunk_hits}, mode="{mode}")' for mode in MODES]
    compiled = dict(zip(MODES, compile_searches(workspace, calls, {}), strict=True))
    with duck.connect(str(workspace.duckdb_path), read_only=True) as connection:
        register_search_functions(connection)
        search_index.attach(connection, workspace.duckdb_path)
        found = {
            mode: [
                documents_by_best_chunk(hits, document_of)
                for hits in timed_searches(connection, sql, [text for _, text in asked])[0]
            ]
            for mode, sql in compiled.items()
        }
    return {
        "documents": len(documents),
        "chunks": len(rows),
        "queries": len(asked),
        **{
            f"{mode}_ndcg@{k}": round(
                statistics.fmean(
                    ndcg(hits, relevant[query_id], k)
                    for hits, (query_id, _) in zip(found[mode], asked, strict=True)
                ),
                4,
            )
            for mode in MODES
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--source", type=Path, default=None, help="built DuckDB file (default: the project's)"
    )
    parser.add_argument("--sample", type=int, default=20000, help="curated chunks to index")
    parser.add_argument(
        "--full-corpus",
        action="store_true",
        help="recall and latency over the source's published run (every chunk chunk_embeddings holds, "
        "search_chunks rebuilt on a copy) instead of a sample embedded by the base model",
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--embedding-backend", default="onnx_int8", help="torch, onnx or onnx_int8")
    parser.add_argument(
        "--max-seq-length", type=int, default=128, help="word pieces per chunk when embedding"
    )
    parser.add_argument(
        "--eval-sets",
        nargs="*",
        default=["tatqa_dev", "convfinqa_dev", "heldout_pairs"],
        help="NDCG@k per mode on these",
    )
    parser.add_argument("--eval-queries", type=int, default=150, help="queries per evaluation set")
    parser.add_argument(
        "--chunk-hits",
        type=int,
        default=100,
        help="chunks per search on an evaluation set, ranked into documents",
    )
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vectorfin_search_quality"))
    parser.add_argument("--output", type=Path, default=RESULTS_FILE)
    args = parser.parse_args(argv)
    source = args.source or Path(project_environment()["VECTORFIN_DUCKDB_PATH"])
    load_before = os.getloadavg()

    queries = read_queries(source, args.queries)
    model_path = TrainingConfig().resolved_base_model()
    args.workdir.mkdir(parents=True, exist_ok=True)

    def embedder(model: str, name: str) -> Callable[[list[str], str], tuple[np.ndarray, float | None]]:
        def embed(texts: list[str], what: str) -> tuple[np.ndarray, float | None]:
            cache = (
                args.workdir
                / f"{name}_{what}_{len(texts)}_{args.embedding_backend}_{args.max_seq_length}.npy"
            )
            onnx_folder = args.workdir / f"{name}_onnx"
            return embed_chunks(texts, model, args.embedding_backend, args.max_seq_length, cache, onnx_folder)

        return embed

    base_artifact = base_model_artifact(args.workdir / "base_model_artifact")
    embed_seconds = None
    if args.full_corpus:
        workspace, ids, knowledge_ts, vectors, searched_artifact = published_corpus(
            source, args.workdir / "full_corpus"
        )
        print(f"{len(ids)} chunks of the published run ({searched_artifact})", flush=True)
        index_build = build_search_chunks(workspace)
    else:
        rows = read_sample(source, args.sample)
        ids = np.array([row[0] for row in rows])
        knowledge_ts = np.array([row[3] for row in rows], dtype="datetime64[us]")
        vectors, embed_seconds = embedder(model_path, "base")([row[4] for row in rows], "chunks")
        print(f"{len(rows)} chunks embedded ({embed_seconds or 'cached'} s)", flush=True)
        searched_artifact = base_artifact
        workspace, index_build = build_search(args.workdir / "dbt", rows, vectors, base_artifact)
    print(f"search_chunks and its indexes built in {index_build:.1f} s; {len(queries)} queries", flush=True)

    as_of = np.sort(knowledge_ts)[len(knowledge_ts) // 2].astype("datetime64[D]")
    kept = knowledge_ts <= as_of
    over_fetch = {"search_exact_max_chunks": int(kept.sum()) - 1}
    calls = [f'semantic_search("{QUERY_PLACEHOLDER}", k={args.k}, mode="{mode}")' for mode in MODES]
    calls.append(f'semantic_search("{QUERY_PLACEHOLDER}", k={args.k}, as_of="{as_of}")')
    compiled = dict(zip([*MODES, "dense_as_of"], compile_searches(workspace, calls, over_fetch), strict=True))

    with duck.connect(str(workspace.duckdb_path), read_only=True) as connection:
        register_search_functions(connection)
        search_index.attach(connection, workspace.duckdb_path)
        results = {name: timed_searches(connection, sql, queries) for name, sql in compiled.items()}
    query_vectors = [query_embedding(query, str(searched_artifact)) for query in queries]

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
    tuned = publishable_artifact(source)
    models = {"base": base_artifact, **({"tuned": tuned} if tuned else {})}
    quality = {
        name: {
            eval_set: eval_set_ndcg(
                source,
                eval_set,
                args.eval_queries,
                args.k,
                args.chunk_hits,
                embedder(str(model), name),
                tokenizer,
                args.max_seq_length,
                model,
                args.workdir / name / eval_set,
            )
            for eval_set in args.eval_sets
        }
        for name, model in models.items()
    }
    print(json.dumps(quality), flush=True)
    query_matrix = np.array(query_vectors, dtype=np.float32)
    everything = np.ones(len(ids), dtype=bool)

    report = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_before": load_before},
        "source": str(source),
        "corpus": "every chunk of the published run" if args.full_corpus else "a sample, base model",
        "searched_artifact": str(searched_artifact),
        "chunks": len(ids),
        "queries": len(queries),
        "query_set": QUERY_SET,
        "k": args.k,
        "embedding_backend": args.embedding_backend,
        "max_seq_length": args.max_seq_length,
        "chunk_embedding_seconds": embed_seconds,
        "index_build_seconds": round(index_build, 1),
        "hnsw_recall_at_k": round(
            recall(results["dense"][0], exact_top(query_matrix, vectors, ids, args.k, everything)), 4
        ),
        "as_of": str(as_of),
        "as_of_kept_chunks": int(kept.sum()),
        "as_of_over_fetch_recall_at_k": round(
            recall(results["dense_as_of"][0], exact_top(query_matrix, vectors, ids, args.k, kept)), 4
        ),
        "latency": {name: latency(whole_ms) for name, (_, whole_ms, _) in results.items()},
        "latency_sql_alone": {name: latency(sql_ms) for name, (_, _, sql_ms) in results.items()},
        "tuned_artifact": str(tuned) if tuned else None,
        "chunk_hits": args.chunk_hits,
        "ndcg_per_model_and_eval_set": quality,
        "load_after": os.getloadavg(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
