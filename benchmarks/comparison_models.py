"""Comparison models scored on chosen eval sets of a built project, by the code retrieval_metrics runs.

The README's CPU command leaves comparison models out: all-mpnet-base-v2 encodes about 7 texts a second
on 2 cores, an hour for heldout_pairs' 38,000 texts alone. This scores them on the sets you name (the
current run's tuned model, base and BM25 beside them, on the same chunks) and prints the quality table
of the locked test part (benchmarks/quality_report.py's); results go to
benchmarks/results/comparison_models.json.

    .venv/bin/python benchmarks/comparison_models.py --sets tatqa_dev convfinqa_dev \\
        --models comparison_models/all-mpnet-base-v2
"""

from __future__ import annotations

import argparse
import json

import duckdb
from quality_report import quality_table

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.config.project_vars import project_var
from vectorfin.ml.run_lookup import current_run
from vectorfin.ml.runs import evaluate

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "comparison_models.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", required=True, help="eval sets of eval_queries")
    parser.add_argument("--models", nargs="+", required=True, help="sentence-transformers folders")
    args = parser.parse_args()
    with duckdb.connect(str(StateLocations.from_env().duckdb_path), read_only=True) as connection:
        run = current_run(connection.sql("select * from training_runs").df())
        marts = [
            connection.execute(f"select * from {name} where eval_set in (select unnest(?))", [args.sets]).df()
            for name in ("eval_queries", "eval_corpus", "eval_qrels")
        ]
    metrics = evaluate(
        run, *marts, hybrid_dense_weight=project_var("hybrid_dense_weight"), comparison_models=args.models
    ).metrics
    table = quality_table(metrics)
    print(table.to_string())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "run_id": run["run_id"],
                "sets": args.sets,
                "models": args.models,
                "table": table.reset_index().to_dict(orient="records"),
                "metrics": metrics.to_dict(orient="records"),
            },
            indent=2,
            default=str,
        )
    )


if __name__ == "__main__":
    main()
