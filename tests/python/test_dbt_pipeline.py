"""The dbt pipeline end to end on the demo corpus: real pyiceberg warehouse, real dbt in a subprocess.

One demo build (module fixture, ~30 s) feeds every test; the tests that plant bad data work on a copy
of its DuckDB file, so they cannot disturb each other.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt_project_runner import DemoBuild, build_demo, run_dbt

STRATEGIES = {"qa_turns", "summary_bullets", "filing_headings", "risk_factors", "cross_source_figures"}


@pytest.fixture(scope="module")
def demo_dbt_build(tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    """The demo corpus loaded into a fresh warehouse and built once (ML models excluded)."""
    return build_demo(tmp_path_factory.mktemp("demo_dbt"))


def test_demo_build_passes_and_every_strategy_yields_pairs(demo_dbt_build: DemoBuild) -> None:
    result, workspace = demo_dbt_build.result, demo_dbt_build.workspace
    assert result.ok, result.summary()
    assert result.status("training_pairs_quality_gate") == "success"
    assert {name for name, status in result.statuses().items() if status == "pass"} >= {
        "assert_rows_in_equal_kept_plus_quarantined",
        "assert_eval_sets_are_consistent",
    }

    pairs = dict(workspace.query("select strategy, count(*) from int_pairs_unioned group by strategy"))
    assert set(pairs) == STRATEGIES and min(pairs.values()) >= 1, pairs
    trained = {row[0] for row in workspace.query("select distinct strategy from training_pairs")}
    assert trained == STRATEGIES

    (gate_rows, gate_failures) = workspace.query(
        "select count(*), count(*) filter (where not success) from training_pairs_quality_gate"
    )[0]
    assert gate_rows >= 20 and gate_failures == 0


def test_demo_quarantine_accounts_for_every_chunk(demo_dbt_build: DemoBuild) -> None:
    workspace = demo_dbt_build.workspace
    (rows_in, kept, quarantined) = workspace.query(
        "select (select count(*) from stg_raw__transcript_chunks)"
        " + (select count(*) from stg_raw__filing_chunks),"
        " (select count(*) from int_chunks_curated), (select count(*) from rejected_chunks)"
    )[0]
    assert rows_in == kept + quarantined and quarantined > 0
    reasons = {row[0] for row in workspace.query("select distinct reason from rejected_chunks")}
    # the demo plants an empty turn, a repeated question, operator lines and safe-harbour text
    assert {"missing_text", "exact_duplicate", "operator_line", "safe_harbour"} <= reasons


def test_demo_splits_hold_out_companies_and_respect_the_cutoff(demo_dbt_build: DemoBuild) -> None:
    workspace = demo_dbt_build.workspace
    eval_tickers = {
        row[0] for row in workspace.query("select ticker from int_company_splits where split = 'eval'")
    }
    assert eval_tickers, "the demo should hold out at least one company"
    trained_tickers = {row[0] for row in workspace.query("select distinct ticker from training_pairs")}
    assert not eval_tickers & trained_tickers
    (late,) = workspace.query(
        "select count(*) from training_pairs where knowledge_ts >= cast(? as timestamp)", ["2024-01-01"]
    )[0]
    assert late == 0
    eval_sets = {row[0] for row in workspace.query("select distinct eval_set from eval_queries")}
    assert "heldout_pairs" in eval_sets


def test_planted_bad_pairs_stop_the_build_at_the_gate(demo_dbt_build: DemoBuild, tmp_path: Path) -> None:
    """A training_pairs table flooded by one strategy's duplicated examples: the GX gate must raise,
    and everything downstream of it (training) must be skipped. dbt's own tests on training_pairs are
    not selected, so only the gate stands between these pairs and training."""
    workspace = demo_dbt_build.workspace.copy_to(tmp_path)
    workspace.execute(
        "create or replace table training_pairs as "
        "select * from training_pairs union all "
        "select training_pairs.* replace (md5(example_id || '#' || copy) as example_id) "
        "from training_pairs, range(20) as copies(copy) where strategy = 'qa_turns'"
    )

    result = run_dbt(["build", "--select", "training_pairs_quality_gate+"], workspace.env)

    assert not result.ok
    assert result.status("training_pairs_quality_gate") == "error", result.summary()
    message = result.message("training_pairs_quality_gate")
    assert "quality expectations" in message
    assert "triplet_key" in message  # duplicated (anchor, positive, negative) examples
    assert "n_negatives" in message  # the flooded pairs now have 21 "negatives" each
    assert result.status("training_runs") == "skipped"


def test_planted_train_eval_leak_is_caught_by_the_leakage_test(
    demo_dbt_build: DemoBuild, tmp_path: Path
) -> None:
    """A held-out (eval-company) pair slipped into training_pairs must fail no_train_eval_leakage."""
    workspace = demo_dbt_build.workspace.copy_to(tmp_path)
    selector = "training_pairs,test_name:no_train_eval_leakage"
    clean = run_dbt(["test", "--select", selector], workspace.env)
    assert clean.ok, clean.summary()

    workspace.execute(
        "insert into training_pairs "
        "select pairs.pair_id, md5(pairs.pair_id || '|planted') as example_id, pairs.strategy, "
        "pairs.anchor_text, pairs.positive_text, negative.negative_text, negative.negative_rule, "
        "pairs.anchor_chunk_id, pairs.anchor_doc_id, pairs.positive_chunk_id, pairs.positive_doc_id, "
        "negative.negative_chunk_id, negative.negative_doc_id, "
        "pairs.ticker, pairs.fiscal_period, pairs.knowledge_ts "
        "from int_pairs_unioned as pairs "
        "inner join int_pairs_split as splits "
        "on pairs.pair_id = splits.pair_id and splits.split_status = 'eval' "
        "cross join (select * from training_pairs limit 1) as negative "
        "limit 1"
    )

    leaked = run_dbt(["test", "--select", selector], workspace.env)

    assert not leaked.ok
    statuses = leaked.statuses("no_train_eval_leakage")
    assert statuses and set(statuses.values()) == {"fail"}, leaked.summary()


def test_disabling_a_strategy_removes_it_from_the_union(demo_dbt_build: DemoBuild, tmp_path: Path) -> None:
    workspace = demo_dbt_build.workspace.copy_to(tmp_path)

    result = run_dbt(
        ["run", "--select", "int_pairs__risk_factors", "int_pairs_unioned"],
        workspace.env,
        vars={"pair_strategy_overrides": {"risk_factors": {"enabled": False}}},
    )

    assert result.ok, result.summary()
    strategies = {row[0] for row in workspace.query("select distinct strategy from int_pairs_unioned")}
    assert strategies == STRATEGIES - {"risk_factors"}
