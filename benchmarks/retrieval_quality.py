"""Retrieval quality: base model vs BM25 vs a LoRA-tuned model per pair strategy, and all mixed.

Every strategy is trained and measured on its own (one careless strategy can cancel the good
ones), then all strategies together, on the same evaluation sets. Reads the marts of a built
project: run `make build CORPUS=../shared/data` first (or point VECTORFIN_DUCKDB_PATH at one).
Prints an NDCG@10 table and writes benchmarks/results/retrieval_quality.json.

    .venv/bin/python benchmarks/retrieval_quality.py --pairs 600 --max-seq-length 128
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
from sentence_transformers import SentenceTransformer

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.config.training import TrainingConfig
from vectorfin.ml.device import choose_device
from vectorfin.ml.evaluation import evaluate_models
from vectorfin.ml.runs import sample_pairs, tune_sample
from vectorfin.ml.training import load_trained_model, train_model

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "retrieval_quality.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=600, help="training pairs per run")
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-queries", type=int, default=300, help="per evaluation set")
    parser.add_argument("--max-corpus", type=int, default=3000, help="documents per evaluation set")
    parser.add_argument("--strategies", nargs="*", help="default: every strategy in training_pairs")
    args = parser.parse_args()
    started = time.perf_counter()

    settings = StateLocations.from_env()
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        pairs = connection.sql("select * from training_pairs").df()
        queries, corpus, qrels = (
            connection.sql(f"select * from {name}").df()
            for name in ("eval_queries", "eval_corpus", "eval_qrels")
        )
    queries, corpus, qrels = tune_sample(queries, corpus, qrels, args.max_queries, args.max_corpus)
    config = TrainingConfig(
        max_seq_length=args.max_seq_length, batch_size=args.batch_size, learning_rate=args.learning_rate
    )
    base = SentenceTransformer(config.resolved_base_model(), local_files_only=True)
    base.max_seq_length = args.max_seq_length
    metrics = [evaluate_models({"base": base, "bm25": None}, queries, corpus, qrels).metrics]
    runs = []

    strategies = args.strategies or sorted(pairs["strategy"].unique())
    with tempfile.TemporaryDirectory(prefix="vectorfin-quality-") as scratch:
        for strategy in [*strategies, "all"]:
            chosen = pairs if strategy == "all" else pairs[pairs["strategy"] == strategy]
            chosen = sample_pairs(chosen, args.pairs)
            result = train_model(chosen, config, Path(scratch, strategy))
            tuned = load_trained_model(result.artifact_path)
            label = f"tuned:{strategy}"
            metrics.append(evaluate_models({label: tuned}, queries, corpus, qrels).metrics)
            runs.append(
                {
                    "strategy": strategy,
                    "pairs": len(chosen),
                    "steps": result.steps,
                    "train_s": result.duration_s,
                    "pairs_per_second": result.pairs_per_second,
                }
            )
            print(f"{label}: {len(chosen)} pairs, {result.duration_s:.0f}s training", flush=True)

    table = pd.concat(metrics, ignore_index=True)
    ndcg = table[table["metric"] == "ndcg@10"].pivot(index="model", columns="eval_set", values="value")
    sizes = {
        eval_set: {
            "queries": int((queries["eval_set"] == eval_set).sum()),
            "corpus": int((corpus["eval_set"] == eval_set).sum()),
        }
        for eval_set in sorted(queries["eval_set"].unique())
    }
    result = {
        "settings": vars(args),
        "device": choose_device().device,
        "eval_sets": sizes,
        "training_runs": runs,
        "metrics": table.to_dict(orient="records"),
        "ndcg@10": ndcg.round(4).to_dict(orient="index"),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(ndcg.round(4).to_string())
    print(json.dumps({"eval_sets": sizes, "wall_s": result["wall_s"]}, indent=2))


if __name__ == "__main__":
    main()
