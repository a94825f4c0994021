"""The package code behind the Great Expectations gate model."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from vectorfin.config.project_vars import project_var
from vectorfin.quality import GateThresholds, QualityGateError, require_passed_gate, run_training_pairs_gate


def training_pairs(n_pairs: int = 40) -> pd.DataFrame:
    rows = []
    for i in range(n_pairs):
        strategy = ["qa_turns", "filing_headings"][i % 2]
        rows.append(
            {
                "pair_id": f"pair{i}",
                "example_id": f"example{i}",
                "strategy": strategy,
                "anchor_text": f"What drove margin in quarter {i}?",
                "positive_text": f"Margin rose {i} basis points on mix and pricing, " * 3,
                "negative_text": f"Freight volumes fell {i}% on weaker industrial demand, " * 3,
                "negative_rule": "same_company_other_period",
                "anchor_chunk_id": f"a{i}",
                "positive_chunk_id": f"p{i}",
                "negative_chunk_id": f"n{i}",
                "knowledge_ts": pd.Timestamp("2022-01-01"),
            }
        )
    return pd.DataFrame(rows)


def test_gate_passes_good_pairs_with_one_row_per_expectation() -> None:
    results = run_training_pairs_gate(training_pairs(), strategies=["qa_turns", "filing_headings"])

    assert results["success"].all()
    assert len(results) >= 20 and {"training_pairs", "pairs", "strategy_mix"} == set(results["batch"])


def test_gate_raises_on_nulls_unknown_strategies_and_one_sided_mix() -> None:
    pairs = training_pairs()
    pairs.loc[0, "negative_text"] = None
    pairs["strategy"] = "qa_turns"
    pairs.loc[1, "strategy"] = "made_up"

    with pytest.raises(QualityGateError) as raised:
        run_training_pairs_gate(pairs, strategies=["qa_turns", "filing_headings"])

    failed = raised.value.results[~raised.value.results["success"]]
    assert {"expect_column_values_to_not_be_null", "expect_column_values_to_be_in_set"} <= set(
        failed["expectation"]
    )
    assert "expect_column_max_to_be_between" in set(failed["expectation"])  # qa_turns is 97.5% of the rows


def test_gate_counts_pairs_left_without_a_negative() -> None:
    """training_pairs leaves out pairs that found no negative; given every training pair's id, the gate
    counts them with 0 negatives: a few are tolerated (min_mean_negatives_share), more fail the gate
    instead of passing on the survivors."""
    pairs = training_pairs()
    strategies = ["qa_turns", "filing_headings"]
    one_missing = run_training_pairs_gate(
        pairs, strategies=strategies, training_pair_ids=[*pairs["pair_id"], "lonely_pair"]
    )
    assert one_missing["success"].all()

    results = run_training_pairs_gate(
        pairs,
        strategies=strategies,
        training_pair_ids=[*pairs["pair_id"], *(f"lonely_pair_{i}" for i in range(5))],
        raise_on_failure=False,
    )

    failed = results[~results["success"]]
    assert list(failed["column_name"]) == ["n_negatives", "n_negatives"]  # per pair, and on average
    assert "5 unexpected of 45" in failed["observed_value"].iloc[0]
    with pytest.raises(QualityGateError, match=r"failed 2 of \d+ quality expectations"):
        require_passed_gate(results)


def test_stored_gate_results_must_exist_and_pass() -> None:
    with pytest.raises(QualityGateError, match="stored no results"):
        require_passed_gate(pd.DataFrame({"success": []}))


def test_gate_defaults_are_read_from_dbt_project_yml() -> None:
    """GateThresholds() is var quality_gate of dbt_project.yml (and var negatives_per_pair), written only
    there: a changed project value is the new default (checked in a fresh interpreter that changes the
    parsed dbt_project.yml before the gate's module is imported)."""
    defaults, project_gate = GateThresholds(), project_var("quality_gate")
    assert {name: getattr(defaults, name) for name in project_gate} == project_gate
    assert defaults.negatives_per_pair == project_var("negatives_per_pair")
    assert isinstance(defaults.min_median_passage_chars, float)  # 60 in YAML, a float threshold

    changed = (
        "from vectorfin.config import project_vars\n"
        "project_vars._project_vars()['quality_gate']['min_distinct_anchor_share'] = 0.123\n"
        "project_vars._project_vars()['negatives_per_pair'] = 4\n"
        "from vectorfin.quality import GateThresholds\n"
        "print(GateThresholds().min_distinct_anchor_share, GateThresholds().negatives_per_pair)\n"
    )
    completed = subprocess.run([sys.executable, "-c", changed], capture_output=True, text=True, check=True)
    assert completed.stdout.split() == ["0.123", "4"]
