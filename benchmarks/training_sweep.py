"""Training choices, measured: one setting at a time around a centre, a learning curve, LoRA vs full
fine-tuning at the same budget.

The centre is the project's training defaults at a CPU-sized budget (1,000 pairs, 128 word pieces);
every variant samples its pairs from all strategies alike and trains on each once (labelled pairs are
neither kept first nor repeated), so the learning curve counts pairs of one mix.

Every variant trains with the project's own `train_model` on a stable sample of the built project's
`training_pairs` and is scored with `evaluate_models` on the same capped evaluation sets (NDCG@10 on
each, STS Benchmark Spearman). Reads the marts of a built project:

    make build CORPUS=../shared/data DBT_ARGS="--exclude training_runs+"
    .venv/bin/python benchmarks/training_sweep.py                       # every group
    .venv/bin/python benchmarks/training_sweep.py --groups learning_rate learning_curve

Each finished variant is appended to benchmarks/results/training_sweep.jsonl at once (a long sweep
that is stopped keeps what it measured; rerunning skips variants already there), and the table of
all of them is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from sentence_transformers import SentenceTransformer

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.config.training import TrainingConfig
from vectorfin.ml.evaluation import evaluate_models, sts_spearman
from vectorfin.ml.runs import STS_SPLIT, sample_pairs, tune_sample
from vectorfin.ml.training import load_trained_model, train_model

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "training_sweep.jsonl"
# The centre every group varies one setting around: the project defaults at a CPU-sized budget,
# trained and scored once.
QUESTIONS = "filing_figure_questions"
CENTRE: dict[str, Any] = {"max_pairs": 1000, "max_seq_length": 128, "kept_strategies_passes": 1}
GROUPS: dict[str, list[dict[str, Any]]] = {
    "learning_curve": [{"max_pairs": pairs} for pairs in (250, 500, 2000, 4000)],
    "full_fine_tuning": [{"method": "full", "learning_rate": rate} for rate in (2e-5, 5e-5, 1e-4)],
    "learning_rate": [{"learning_rate": rate} for rate in (5e-5, 1e-4, 2e-4, 1e-3, 2e-3)],
    "epochs": [{"epochs": 2}, {"epochs": 3}],
    "lora_rank": [{"lora_r": rank, "lora_alpha": 2 * rank} for rank in (4, 64)],
    "target_modules": [{"target_modules": ["query", "value"]}, {"target_modules": ["query", "key", "value"]}],
    "max_seq_length": [{"max_seq_length": length} for length in (64, 256)],
    "scale": [{"scale": scale} for scale in (10.0, 50.0)],
    "batch_size": [{"batch_size": size} for size in (16, 256)],
    # the question-shaped strategy alone, and the mix without it (the centre is the mix with it)
    "question_pairs": [{"only_strategy": QUESTIONS}, {"without_strategy": QUESTIONS}],
    "matryoshka": [{"matryoshka_dims": []}],
}
# Keys of a variant that choose its pairs rather than a training setting.
PAIR_CHOICES = ("only_strategy", "without_strategy")


def load_marts(
    max_queries: int, max_corpus: int, duckdb_path: Path | None = None
) -> tuple[pd.DataFrame, ...]:
    """training_pairs, the capped evaluation sets and STS pairs of a built project (default: this one's)."""
    with duckdb.connect(
        str(duckdb_path or StateLocations.from_env().duckdb_path), read_only=True
    ) as connection:
        pairs = connection.sql("select * from training_pairs").df()
        queries, corpus, qrels = (
            connection.sql(f"select * from {name}").df()
            for name in ("eval_queries", "eval_corpus", "eval_qrels")
        )
        sts = connection.sql(f"select * from stg_external_files__stsb_pairs where split = '{STS_SPLIT}'").df()
    queries, corpus, qrels = tune_sample(queries, corpus, qrels, max_queries, max_corpus)
    return pairs, queries, corpus, qrels, sts


def score(
    model: SentenceTransformer | None, label: str, marts: tuple[pd.DataFrame, ...], window: int
) -> dict[str, float]:
    """NDCG@10 per eval set, documents cut into `window` word pieces (and STS Spearman for a dense model)."""
    _, queries, corpus, qrels, sts = marts
    metrics = evaluate_models({label: model}, queries, corpus, qrels, max_seq_length=window).metrics
    ndcg = metrics[metrics["metric"] == "ndcg@10"]
    scores = dict(zip(ndcg["eval_set"], ndcg["value"].round(4), strict=True))
    if model is not None and len(sts):
        scores["stsb_spearman"] = round(sts_spearman(model, sts), 4)
    return scores


def baseline_windows(groups: list[str]) -> list[int]:
    """The centre's window and every window a chosen group trains at: a variant is compared with the
    base model and BM25 on documents cut to its own window."""
    changes = [change for group in groups for change in GROUPS[group]]
    windows = {change.get("max_seq_length", CENTRE["max_seq_length"]) for change in changes}
    return sorted({CENTRE["max_seq_length"], *windows})


def baseline_name(model: str, window: int) -> str:
    name = f"baseline:{model}"
    return name if window == CENTRE["max_seq_length"] else f"{name}:max_seq_length={window}"


def variant_name(group: str, change: dict[str, Any]) -> str:
    return ":".join([group, *(f"{key}={value}" for key, value in change.items())])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", nargs="*", choices=sorted(GROUPS), help="default: every group")
    parser.add_argument("--max-queries", type=int, default=200, help="per evaluation set")
    parser.add_argument("--max-corpus", type=int, default=1500, help="documents per evaluation set")
    args = parser.parse_args()

    marts = load_marts(args.max_queries, args.max_corpus)
    done = (
        {json.loads(line)["variant"] for line in RESULTS.read_text().splitlines()}
        if RESULTS.exists()
        else set()
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    chosen_groups = args.groups or list(GROUPS)
    for window in baseline_windows(chosen_groups):
        for model in ("base", "bm25"):
            name = baseline_name(model, window)
            if name in done:
                continue
            base = None
            if model == "base":
                base = SentenceTransformer(TrainingConfig().resolved_base_model(), local_files_only=True)
                base.max_seq_length = window
            _append({"variant": name, "scores": score(base, model, marts, window)})

    variants = [("centre", {})] + [(group, change) for group in chosen_groups for change in GROUPS[group]]
    for group, change in variants:
        name = variant_name(group, change)
        if name in done:
            continue
        settings = {**CENTRE, **change}
        config = TrainingConfig.from_mapping({k: v for k, v in settings.items() if k not in PAIR_CHOICES})
        pairs = sample_pairs(chosen_pairs(marts[0], settings), config.max_pairs)
        with tempfile.TemporaryDirectory(prefix="vectorfin-sweep-") as scratch:
            started = time.perf_counter()
            result = train_model(pairs, config, Path(scratch, "model"))
            tuned = load_trained_model(result.artifact_path)
            scores = score(tuned, "tuned", marts, config.max_seq_length)
        _append(
            {
                "variant": name,
                "settings": settings,
                "examples": len(pairs),
                "steps": result.steps,
                "train_minutes": round(result.duration_s / 60, 1),
                "trainable_share_%": round(100 * result.trainable_params / result.total_params, 2),
                "wall_minutes": round((time.perf_counter() - started) / 60, 1),
                "scores": scores,
            }
        )
        print(f"{name}: {scores}", flush=True)
    print_table()


def chosen_pairs(pairs: pd.DataFrame, settings: dict[str, Any]) -> pd.DataFrame:
    """The pairs a variant samples from: one strategy's, all but one strategy's, or all."""
    if "only_strategy" in settings:
        return pairs[pairs["strategy"] == settings["only_strategy"]]
    if "without_strategy" in settings:
        return pairs[pairs["strategy"] != settings["without_strategy"]]
    return pairs


def _append(row: dict[str, Any]) -> None:
    with RESULTS.open("a") as results:
        results.write(json.dumps(row) + "\n")


def print_table() -> None:
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines()]
    table = pd.DataFrame(
        [
            {
                "variant": row["variant"],
                **row["scores"],
                **{k: row[k] for k in ("examples", "train_minutes") if k in row},
            }
            for row in rows
        ]
    ).set_index("variant")
    print(table.to_string())


if __name__ == "__main__":
    main()
