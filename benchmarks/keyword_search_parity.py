"""Served keyword search against the evaluation's BM25: how far apart their rankings are.

    .venv/bin/python benchmarks/keyword_search_parity.py                  # the project's DuckDB file
    .venv/bin/python benchmarks/keyword_search_parity.py --source /path/to/vectorfin.duckdb --part tune

`retrieval_metrics` scores BM25 with `vectorfin.bm25` (bm25s: lowercased `\\w+` terms, no stemming, no
stop words, k1 1.5), while keyword search serves DuckDB's full-text index (`vectorfin.keyword_index`:
Porter stems, English stop words, a period inside a term kept, k 1.2). This scores both on the same
text: each evaluation set's documents (from a built project's `eval_corpus`, read-only) cut into chunks
of at most `--max-seq-length` word pieces by the evaluation's own splitter, a document ranked by its best
chunk, as `retrieval_metrics` does; its queries of one part (`--part`, default the locked `test` part)
judged by `eval_qrels`. The full-text index is built by the statement `search_chunks`' post-hook runs
and queried with `match_bm25` as keyword search does. Reported per set: NDCG@10 of each, the difference,
and the mean overlap of their top 10. Printed and written to benchmarks/results/keyword_search_parity.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from vectorfin import keyword_index
from vectorfin.bm25 import BM25Index
from vectorfin.config.training import TrainingConfig
from vectorfin.ml.evaluation import (
    SELECTION_METRIC,
    chunk_corpus,
    document_scores,
    rank_documents,
    set_metrics,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS_FILE = PROJECT_ROOT / "benchmarks" / "results" / "keyword_search_parity.json"
TOP = 10


def read_sets(source: Path, part: str, eval_sets: list[str] | None) -> dict[str, dict[str, pd.DataFrame]]:
    """{eval set: {queries, corpus, qrels}} of one part, from a built project's marts."""
    with duckdb.connect(str(source), read_only=True) as connection:
        queries = connection.execute(
            "select eval_set, query_id, query_text from eval_queries where eval_part = ?", [part]
        ).df()
        corpus = connection.execute("select eval_set, doc_id, doc_text from eval_corpus").df()
        qrels = connection.execute("select eval_set, query_id, doc_id, relevance from eval_qrels").df()
    names = sorted(set(queries["eval_set"]) & set(corpus["eval_set"]))
    if eval_sets:
        names = [name for name in names if name in eval_sets]
    return {
        name: {
            "queries": queries[queries["eval_set"] == name].reset_index(drop=True),
            "corpus": corpus[corpus["eval_set"] == name].reset_index(drop=True),
            "qrels": qrels[qrels["eval_set"] == name],
        }
        for name in names
    }


def served_keyword_scores(chunk_texts: list[str], queries: list[str]) -> np.ndarray:
    """(queries x chunks) match_bm25 scores over DuckDB's full-text index, built as search_chunks' is."""
    scores = np.zeros((len(queries), len(chunk_texts)))
    with duckdb.connect() as connection:
        connection.execute("create table main.chunks (chunk_index integer, chunk_text varchar)")
        connection.executemany("insert into main.chunks values (?, ?)", list(enumerate(chunk_texts)))
        connection.execute(keyword_index.create_index_sql("main.chunks", "chunk_index", "chunk_text"))
        [(fts_schema,)] = connection.execute(
            "select schema_name from duckdb_schemas() where schema_name like 'fts_%'"
        ).fetchall()
        statement = (
            f"select chunk_index, score from (select chunk_index, {fts_schema}.match_bm25(chunk_index, ?)"
            " as score from main.chunks) where score is not null"
        )
        for row, query in enumerate(queries):
            for chunk_index, score in connection.execute(statement, [query]).fetchall():
                scores[row, chunk_index] = score
    return scores


def compare(name: str, data: dict[str, pd.DataFrame], max_seq_length: int, tokenizer: Any) -> dict[str, Any]:
    corpus, queries = data["corpus"], data["queries"]
    judgements: dict[str, dict[str, int]] = {}
    for query_id, doc_id, grade in data["qrels"][["query_id", "doc_id", "relevance"]].itertuples(index=False):
        if grade > 0:
            judgements.setdefault(query_id, {})[doc_id] = int(grade)
    queries = queries[queries["query_id"].isin(judgements)]
    doc_ids = list(corpus["doc_id"])
    chunks = chunk_corpus(doc_ids, list(corpus["doc_text"]), tokenizer, max_seq_length)
    texts, query_ids = list(queries["query_text"]), list(queries["query_id"])
    started = time.perf_counter()
    evaluated = document_scores(BM25Index(chunks.texts).scores(texts), chunks)
    evaluated_seconds = time.perf_counter() - started
    started = time.perf_counter()
    served = document_scores(served_keyword_scores(chunks.texts, texts), chunks)
    served_seconds = time.perf_counter() - started
    evaluated_ndcg = set_metrics(evaluated, doc_ids, query_ids, judgements)[SELECTION_METRIC]
    served_ndcg = set_metrics(served, doc_ids, query_ids, judgements)[SELECTION_METRIC]
    overlap = [
        len(set(a) & set(b)) / TOP
        for a, b in zip(
            rank_documents(evaluated, doc_ids, TOP), rank_documents(served, doc_ids, TOP), strict=True
        )
    ]
    return {
        "eval_set": name,
        "queries": len(query_ids),
        "documents": len(doc_ids),
        "chunks": len(chunks.texts),
        "evaluated_bm25_ndcg@10": round(evaluated_ndcg, 4),
        "served_keyword_ndcg@10": round(served_ndcg, 4),
        "served_minus_evaluated": round(served_ndcg - evaluated_ndcg, 4),
        "mean_top10_overlap": round(float(np.mean(overlap)), 3) if overlap else None,
        "seconds": {"evaluated": round(evaluated_seconds, 1), "served": round(served_seconds, 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_source = Path(os.environ.get("VECTORFIN_DUCKDB_PATH", PROJECT_ROOT / "vectorfin.duckdb"))
    parser.add_argument("--source", type=Path, default=default_source, help="a built project's DuckDB file")
    parser.add_argument("--part", default="test", help="the part scored (default: the locked test part)")
    parser.add_argument("--eval-sets", nargs="*", help="default: every set of eval_queries")
    parser.add_argument("--max-seq-length", type=int, default=128, help="word pieces per chunk, as evaluated")
    parser.add_argument("--output", type=Path, default=RESULTS_FILE)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TrainingConfig().resolved_base_model(), local_files_only=True)
    rows = []
    for name, data in read_sets(args.source, args.part, args.eval_sets).items():
        row = compare(name, data, args.max_seq_length, tokenizer)
        print(json.dumps(row), flush=True)
        rows.append(row)
    report = {
        "source": str(args.source),
        "part": args.part,
        "max_seq_length": args.max_seq_length,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "sets": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
