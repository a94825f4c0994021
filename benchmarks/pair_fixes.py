"""Each pair fix measured on its own: a strategy's pairs with the fix and without it.

A fix is a var of a pair strategy's SQL. The pair models are rebuilt on copies of a built project's
DuckDB file (`dbt run` of the strategy and what follows it, up to training_pairs): once with the
project's settings and, per fix, once with its var turned off. The script counts the pairs each fix
removes, adds or changes, then trains the training sweep's centre (benchmarks/training_sweep.py) on the
strategy's own training pairs of both builds (or, with --train-on all_strategies, on a sample of all
strategies' pairs, the mix the README trains on) and scores the two models on the same evaluation
sets, those of the build with every fix: only the training pairs differ.

    make build CORPUS=../shared/data DBT_ARGS="--exclude training_runs+"
    .venv/bin/python benchmarks/pair_fixes.py
    .venv/bin/python benchmarks/pair_fixes.py --seeds 42 7 --vars '{tatqa_training: true}'
    .venv/bin/python benchmarks/pair_fixes.py --fixes summary_bullet_figure_span --train-on all_strategies

--vars are the vars the project was built with; every rebuild uses them. Each finished row is appended
to benchmarks/results/pair_fixes.jsonl at once (a rerun skips rows already there), and the table is
printed at the end.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml
from sentence_transformers import SentenceTransformer
from training_sweep import CENTRE, load_marts, score

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations, project_environment
from vectorfin.config.training import TrainingConfig
from vectorfin.dbt_workspace import DbtWorkspace, run_dbt
from vectorfin.ml.runs import sample_pairs
from vectorfin.ml.training import load_trained_model, train_model

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "pair_fixes.jsonl"


@dataclass(frozen=True)
class PairFix:
    strategy: str
    var_turning_it_off: dict[str, Any]
    what: str


FIXES: dict[str, PairFix] = {
    "qa_non_answers": PairFix(
        "qa_turns", {"qa_non_answer_max_chars": 0}, "short answers matching seed non_answer_patterns left out"
    ),
    "risk_factor_definition_lists": PairFix(
        "risk_factors", {"risk_factor_skip_definition_lists": False}, "lists of defined terms never pair"
    ),
    "summary_bullet_figure_span": PairFix(
        "summary_bullets",
        {"summary_bullet_span_from_figure": False},
        "the positive starts a sentence before its first shared figure",
    ),
}
WITH_FIXES = "with_fixes"
# A figure of two characters or more, as a bullet states it ("481.1", "1,725", "12"): not "q1"'s 1.
FIGURE = re.compile(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?(?![\w])")


def rebuild_pairs(
    source: DbtWorkspace, scratch: Path, strategies: list[str], dbt_vars: dict[str, Any]
) -> Path:
    """A copy of the built project's DuckDB file with the strategies' models and everything after them
    up to training_pairs rebuilt under `dbt_vars`; returns the copy's path."""
    workspace = source.copy_to(scratch)
    selection = [f"int_pairs__{strategy}+" for strategy in strategies]
    result = run_dbt(["run", "--select", *selection, "--exclude", "training_runs+"], workspace.env, dbt_vars)
    if not result.ok:
        raise RuntimeError(f"dbt run with vars {dbt_vars} failed:\n{result.summary()}")
    return workspace.duckdb_path


def training_pairs(duckdb_path: Path) -> pd.DataFrame:
    with duckdb.connect(str(duckdb_path), read_only=True) as connection:
        return connection.sql("select * from training_pairs").df()


def figures_in_window(pairs: pd.DataFrame, tokenizer: Any, window: int) -> float | None:
    """Of the pairs whose anchor states a figure, the share whose positive states one of them within its
    first `window` word pieces (the text the model reads)."""
    hits, counted = 0, 0
    for anchor, positive in zip(pairs["anchor_text"], pairs["positive_text"], strict=True):
        figures = {figure for figure in FIGURE.findall(anchor) if len(figure) >= 2}
        if not figures:
            continue
        offsets = tokenizer(positive, truncation=True, max_length=window, return_offsets_mapping=True)
        seen = positive[: max(end for _, end in offsets["offset_mapping"])]
        hits += any(figure in seen for figure in figures)
        counted += 1
    return round(100 * hits / counted, 1) if counted else None


def pair_changes(with_fix: pd.DataFrame, without_fix: pd.DataFrame, tokenizer: Any) -> dict[str, Any]:
    """What a fix does to its strategy's training pairs (distinct pair_id; a pair is trained with each
    of its hard negatives)."""
    fixed = with_fix.drop_duplicates("pair_id").set_index("pair_id")
    unfixed = without_fix.drop_duplicates("pair_id").set_index("pair_id")
    common = fixed.index.intersection(unfixed.index)
    window = CENTRE["max_seq_length"]
    return {
        "pairs_with_fix": len(fixed),
        "pairs_without_fix": len(unfixed),
        "removed_by_fix": len(unfixed.index.difference(fixed.index)),
        "added_by_fix": len(fixed.index.difference(unfixed.index)),
        "positive_changed": int(
            (fixed.loc[common, "positive_text"] != unfixed.loc[common, "positive_text"]).sum()
        ),
        "mean_positive_words_with_fix": round(fixed["positive_text"].str.split().str.len().mean(), 1),
        "mean_positive_words_without_fix": round(unfixed["positive_text"].str.split().str.len().mean(), 1),
        f"figure_in_first_{window}_pieces_%_with_fix": figures_in_window(fixed, tokenizer, window),
        f"figure_in_first_{window}_pieces_%_without_fix": figures_in_window(unfixed, tokenizer, window),
    }


def train_and_score(pairs: pd.DataFrame, seed: int, marts: tuple[pd.DataFrame, ...]) -> dict[str, Any]:
    config = TrainingConfig.from_mapping({**CENTRE, "seed": seed})
    sample = sample_pairs(pairs, config.max_pairs)
    with tempfile.TemporaryDirectory(prefix="vectorfin-pair-fix-") as scratch:
        started = time.perf_counter()
        result = train_model(sample, config, Path(scratch, "model"))
        scores = score(load_trained_model(result.artifact_path), "tuned", marts, config.max_seq_length)
    return {
        "examples": len(sample),
        "steps": result.steps,
        "wall_minutes": round((time.perf_counter() - started) / 60, 1),
        "scores": scores,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fixes", nargs="*", choices=sorted(FIXES), help="default: every fix")
    parser.add_argument("--seeds", nargs="*", type=int, default=[TrainingConfig().seed])
    parser.add_argument("--vars", default="{}", help="the vars the project was built with (YAML, as dbt's)")
    parser.add_argument(
        "--train-on",
        choices=("strategy", "all_strategies"),
        default="strategy",
        help="the fixed strategy's pairs (default), or a sample of every strategy's as the README trains",
    )
    parser.add_argument("--max-queries", type=int, default=200, help="per evaluation set")
    parser.add_argument("--max-corpus", type=int, default=1500, help="documents per evaluation set")
    args = parser.parse_args()
    build_vars = yaml.safe_load(args.vars) or {}
    fixes = args.fixes or list(FIXES)

    done = (
        {_row_key(json.loads(line)) for line in RESULTS.read_text().splitlines()}
        if RESULTS.exists()
        else set()
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    source_path = StateLocations.from_env().duckdb_path
    source = DbtWorkspace(source_path.parent, project_environment())
    base = SentenceTransformer(TrainingConfig().resolved_base_model(), local_files_only=True)
    base.max_seq_length = CENTRE["max_seq_length"]
    with tempfile.TemporaryDirectory(prefix="vectorfin-pair-fixes-", dir=source_path.parent) as scratch:
        fixed_path = rebuild_pairs(
            source, Path(scratch, WITH_FIXES), sorted({FIXES[name].strategy for name in fixes}), build_vars
        )
        marts = load_marts(args.max_queries, args.max_corpus, fixed_path)
        for model in ("base", "bm25"):
            if ("baseline", model) not in done:
                scores = score(base if model == "base" else None, model, marts, CENTRE["max_seq_length"])
                _append({"fix": "baseline", "variant": model, "scores": scores})
        fixed_pairs = marts[0]
        for name in fixes:
            fix = FIXES[name]
            unfixed_path = rebuild_pairs(
                source, Path(scratch, name), [fix.strategy], {**build_vars, **fix.var_turning_it_off}
            )
            unfixed_pairs = training_pairs(unfixed_path)
            unfixed_path.unlink()
            builds = {"with_fix": fixed_pairs, "without_fix": unfixed_pairs}
            own = {variant: pairs[pairs["strategy"] == fix.strategy] for variant, pairs in builds.items()}
            if (name, "changes") not in done:
                changes = pair_changes(own["with_fix"], own["without_fix"], base.tokenizer)
                _append({"fix": name, "variant": "changes", "what": fix.what, **changes})
            pools = (
                own
                if args.train_on == "strategy"
                else {f"{variant}:{args.train_on}": pairs for variant, pairs in builds.items()}
            )
            for variant, pairs in pools.items():
                for seed in args.seeds:
                    if (name, variant, seed) in done:
                        continue
                    row = {
                        "fix": name,
                        "variant": variant,
                        "seed": seed,
                        **train_and_score(pairs, seed, marts),
                    }
                    _append(row)
                    print(f"{name} {variant} seed {seed}: {row['scores']}", flush=True)
    print_table()


def _row_key(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[key] for key in ("fix", "variant", "seed") if key in row)


def _append(row: dict[str, Any]) -> None:
    with RESULTS.open("a") as results:
        results.write(json.dumps(row) + "\n")


def print_table() -> None:
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines()]
    for row in rows:
        if row["variant"] == "changes":
            print(row["fix"], {key: value for key, value in row.items() if key not in ("fix", "variant")})
    scored = pd.DataFrame(
        [
            {"fix": row["fix"], "variant": row["variant"], "seed": row.get("seed"), **row["scores"]}
            for row in rows
            if "scores" in row
        ]
    )
    print(scored.to_string(index=False))
    trained = scored.dropna(subset=["seed"]).drop(columns="seed")
    print("mean over seeds:")
    print(trained.groupby(["fix", "variant"]).mean().round(4).to_string())


if __name__ == "__main__":
    main()
