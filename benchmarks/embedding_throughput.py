"""Embedding throughput and quality: PyTorch vs ONNX vs ONNX-int8, and the dbt model's path vs plain
`SentenceTransformer.encode`, on real curated chunks.

Reads a built project's DuckDB file read-only (default: $VECTORFIN_DUCKDB_PATH; build it on
`../shared/data` for real chunks) and writes only to a scratch folder. Measures, on one stable hash
sample of `int_chunks_curated`:

  (a) per backend, chunks/s of the package function `chunk_embeddings` runs
      (`embed_missing_chunks`: length-sorted batches, progress, one Iceberg commit per
      `--commit-every` chunks into a scratch warehouse) against plain `SentenceTransformer.encode`
      of the same texts with the same model, alternating, `--repeats` times each;
  (b) ONNX-int8 against PyTorch, plain encode, from the same runs;
  (c) NDCG@10 of each backend on every evaluation set of the eval marts (capped like the build);
  (d) chunks/s of the package path with ONNX-int8 on a big sample, extrapolated to every curated chunk.

The machine's load average is recorded beside each timing (a shared machine's speed drifts). Prints
the figures and writes benchmarks/results/embedding_throughput.json.

    .venv/bin/python benchmarks/embedding_throughput.py --chunks 1000 --big-sample 5000 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import duckdb
import pandas as pd
import torch
from sentence_transformers import SentenceTransformer

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.config.training import TrainingConfig
from vectorfin.ml.backends import EMBEDDING_BACKENDS, ONNX_INT8, TORCH
from vectorfin.ml.embedding import DEFAULT_COMMIT_EVERY, embed_missing_chunks
from vectorfin.ml.encoders import use_backend
from vectorfin.ml.evaluation import evaluate_models
from vectorfin.ml.runs import tune_sample

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "embedding_throughput.json"
NDCG = "ndcg@10"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duckdb", type=Path, default=StateLocations.from_env().duckdb_path)
    parser.add_argument("--model", default=None, help="a sentence-transformers folder (default: the base)")
    parser.add_argument("--chunks", type=int, default=1000, help="sample for (a) and (b)")
    parser.add_argument("--big-sample", type=int, default=6000, help="sample for (d); 0 skips it")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--commit-every", type=int, default=None, help="default: dbt_project.yml's")
    parser.add_argument("--backends", nargs="+", default=list(EMBEDDING_BACKENDS), choices=EMBEDDING_BACKENDS)
    parser.add_argument("--max-queries", type=int, default=200)
    parser.add_argument("--max-corpus", type=int, default=2000)
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")  # progress lines
    model_path = args.model or TrainingConfig().resolved_base_model()

    with duckdb.connect(str(args.duckdb), read_only=True) as connection:
        curated = connection.sql("select count(*) from int_chunks_curated").fetchone()[0]
        sample = _sample(connection, max(args.chunks, args.big_sample))
        eval_marts = [
            connection.sql(f"select * from {name}").df()
            for name in ("eval_queries", "eval_corpus", "eval_qrels")
        ]
    chunks = sample.iloc[: args.chunks]
    result: dict = {
        "duckdb": str(args.duckdb),
        "model": str(model_path),
        "curated_chunks": curated,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "sample_chunks": len(chunks),
        "sample_mean_chars": round(float(chunks["chunk_text"].str.len().mean()), 1),
    }

    with tempfile.TemporaryDirectory(prefix="vectorfin-embedding-bench-") as scratch:
        onnx_folder = Path(scratch, "onnx")
        models = {backend: _load(model_path, backend, onnx_folder) for backend in args.backends}
        commit_every = args.commit_every or DEFAULT_COMMIT_EVERY
        result["commit_every"] = commit_every

        # (a), (b): alternate plain and package path per backend, so drift hits both alike
        throughput: dict[str, dict[str, list]] = {}
        for repeat in range(args.repeats):
            for backend, model in models.items():
                runs = throughput.setdefault(backend, {"plain": [], "package": []})
                runs["plain"].append(
                    _timed(len(chunks), lambda model=model: _plain_encode(model, chunks, args))
                )
                warehouse = _scratch_settings(Path(scratch, f"warehouse-{backend}-{repeat}"))
                runs["package"].append(
                    _timed(
                        len(chunks),
                        lambda model=model, warehouse=warehouse: embed_missing_chunks(
                            model, chunks, "bench", warehouse, args.batch_size, commit_every
                        ),
                    )
                )
        result["throughput"] = {
            backend: {
                **runs,
                "plain_median_chunks_per_s": _median_rate(runs["plain"]),
                "package_median_chunks_per_s": _median_rate(runs["package"]),
                "package_over_plain": round(_median_rate(runs["package"]) / _median_rate(runs["plain"]), 3),
            }
            for backend, runs in throughput.items()
        }
        if TORCH in throughput and ONNX_INT8 in throughput:
            result["onnx_int8_over_torch_plain"] = round(
                _median_rate(throughput[ONNX_INT8]["plain"]) / _median_rate(throughput[TORCH]["plain"]), 3
            )

        # (d) the big sample through the package path, extrapolated to every curated chunk
        fastest = ONNX_INT8 if ONNX_INT8 in models else args.backends[-1]
        if args.big_sample:
            warehouse = _scratch_settings(Path(scratch, "warehouse-big"))
            big = _timed(
                len(sample),
                lambda: embed_missing_chunks(
                    models[fastest], sample, "bench-big", warehouse, args.batch_size, commit_every
                ),
            )
            result["big_sample"] = {
                "backend": fastest,
                **big,
                "extrapolated_minutes_for_all_curated": round(curated / big["chunks_per_s"] / 60, 1),
                # the same work with every core to itself, no other job (an estimate: assumes threads
                # scale perfectly over the cores)
                "extrapolated_minutes_on_idle_cores": round(
                    curated / (big["chunks_per_cpu_s"] * os.cpu_count()) / 60, 1
                ),
            }

        # (c) retrieval quality of each backend on every evaluation set
        if not args.skip_quality:
            queries, corpus, qrels = tune_sample(*eval_marts, args.max_queries, args.max_corpus)
            started = time.perf_counter()
            metrics = evaluate_models(
                models, queries, corpus, qrels, max_seq_length=models[args.backends[0]].max_seq_length
            ).metrics
            ndcg = metrics[metrics["metric"] == NDCG].pivot(index="eval_set", columns="model", values="value")
            result["ndcg@10"] = {
                eval_set: {
                    **{backend: round(float(row[backend]), 4) for backend in args.backends},
                    **{
                        f"{backend}_minus_torch": round(float(row[backend] - row[TORCH]), 4)
                        for backend in args.backends
                        if backend != TORCH and TORCH in args.backends
                    },
                }
                for eval_set, row in ndcg.iterrows()
            }
            result["quality_seconds"] = round(time.perf_counter() - started, 1)
            result["quality_caps"] = {"max_queries": args.max_queries, "max_corpus": args.max_corpus}

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def _sample(connection: duckdb.DuckDBPyConnection, size: int) -> pd.DataFrame:
    """A stable sample of curated chunks, by a hash of chunk_id."""
    return connection.execute(
        "select chunk_id, chunk_text from int_chunks_curated order by md5(chunk_id) limit ?", [size]
    ).df()


def _load(model_path: str, backend: str, onnx_folder: Path) -> SentenceTransformer:
    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
    return use_backend(model, backend, onnx_folder)


def _plain_encode(model: SentenceTransformer, chunks: pd.DataFrame, args: argparse.Namespace) -> None:
    model.encode(
        chunks["chunk_text"].fillna("").tolist(),
        batch_size=args.batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
    )


def _timed(count: int, work: Callable[[], object]) -> dict:
    """Wall time and this process's CPU time of `work` over `count` chunks. On a shared machine the wall
    rate depends on the other jobs; chunks per CPU-second much less so."""
    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    work()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "seconds": round(seconds, 2),
        "chunks_per_s": round(count / seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "chunks_per_cpu_s": round(count / cpu_seconds, 2),
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def _median_rate(runs: list[dict]) -> float:
    return round(statistics.median(run["chunks_per_s"] for run in runs), 2)


def _scratch_settings(folder: Path) -> StateLocations:
    """A throwaway warehouse and catalog: the benchmark writes nowhere else."""
    return replace(
        StateLocations.from_env(),
        warehouse=str(folder),
        catalog_uri=f"sqlite:///{folder}/catalog.db",
        duckdb_path=folder / "unused.duckdb",
        artifacts_dir=folder / "artifacts",
    )


if __name__ == "__main__":
    main()
