"""The dbt pipeline end to end on the demo corpus: real pyiceberg warehouse, real dbt in a subprocess.

The suite's one SQL-only demo build (`sql_demo`, conftest.py: the quick start's `make build`) feeds
every test; the tests that plant bad data work on a copy of its DuckDB file, so they cannot disturb
each other or the tests that only read it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_builds import DemoBuild

from vectorfin.config.project_vars import project_var
from vectorfin.dbt_workspace import DbtWorkspace, run_dbt

STRATEGIES = set(project_var("pair_strategies"))  # the registry in dbt_project.yml
GATE_SUCCESS_TEST = "accepted_values_training_pairs_quality_gate_success__False__True"
SETTINGS_HOOK = "vectorfin_finetune-on-run-start-0"


def test_demo_build_passes_and_every_strategy_yields_pairs(sql_demo: DemoBuild) -> None:
    result, workspace = sql_demo.result, sql_demo.workspace
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


def test_demo_quarantine_accounts_for_every_chunk(sql_demo: DemoBuild) -> None:
    workspace = sql_demo.workspace
    (rows_in, kept, quarantined) = workspace.query(
        "select (select count(*) from stg_raw__transcript_chunks)"
        " + (select count(*) from stg_raw__filing_chunks),"
        " (select count(*) from int_chunks_curated), (select count(*) from rejected_chunks)"
    )[0]
    assert rows_in == kept + quarantined and quarantined > 0
    reasons = {row[0] for row in workspace.query("select distinct reason from rejected_chunks")}
    # the demo plants an empty turn, a repeated question, operator lines and safe-harbour text
    assert {"missing_text", "exact_duplicate", "operator_line", "safe_harbour"} <= reasons


def test_demo_splits_hold_out_companies_and_respect_the_cutoff(sql_demo: DemoBuild) -> None:
    workspace = sql_demo.workspace
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


def test_planted_bad_pairs_stop_the_build_at_the_gate(sql_demo: DemoBuild, tmp_path: Path) -> None:
    """A training_pairs table flooded by one strategy's duplicated examples: the GX gate stores its
    failed expectations, the test on their `success` fails the build, and everything downstream of the
    gate (training) is skipped. dbt's own tests on training_pairs are not selected, so only the gate
    stands between these pairs and training."""
    workspace = sql_demo.workspace.copy_to(tmp_path)
    workspace.execute(
        "create or replace table training_pairs as "
        "select * from training_pairs union all "
        "select training_pairs.* replace (md5(example_id || '#' || copy) as example_id) "
        "from training_pairs, range(20) as copies(copy) where strategy = 'qa_turns'"
    )

    result = run_dbt(["build", "--select", "training_pairs_quality_gate+"], workspace.env)

    assert not result.ok
    assert result.status("training_pairs_quality_gate") == "success", result.summary()
    assert result.status(GATE_SUCCESS_TEST) == "fail", result.summary()
    assert result.status("training_runs") == "skipped"
    failed = {
        column
        for (column,) in workspace.query(
            "select column_name from training_pairs_quality_gate where not success"
        )
    }
    assert "triplet_key" in failed  # duplicated (anchor, positive, negative) examples
    assert "n_negatives" in failed  # the flooded pairs now have 21 "negatives" each


def test_a_pair_without_negative_fails_the_gate_with_its_rows_stored(
    sql_demo: DemoBuild, tmp_path: Path
) -> None:
    """Training pairs whose negatives are gone (planted: their rows in int_pairs_with_hard_negatives
    replaced by the 'none_found' row the model writes when no rule finds one) drop out of training_pairs;
    the gate must still count them, fail (more than the tolerated share), and store its rows. Without
    tests (`dbt run`), training_runs itself must refuse to train on the stored failure."""
    workspace = sql_demo.workspace.copy_to(tmp_path)
    workspace.execute(
        "create temp table planted_ids as select distinct pair_id from int_pairs_with_hard_negatives "
        "where negative_chunk_id is not null order by pair_id limit 5",
        "create temp table planted as select * replace (null as negative_chunk_id, null as negative_doc_id, "
        "null as negative_text, 'none_found' as negative_rule, null as negative_rank, "
        "md5(pair_id || '|none_found') as example_id) "
        "from int_pairs_with_hard_negatives where pair_id in (from planted_ids) "
        "qualify row_number() over (partition by pair_id) = 1",
        "delete from int_pairs_with_hard_negatives where pair_id in (from planted_ids)",
        "insert into int_pairs_with_hard_negatives select * from planted",
        "create table planted_pair_ids as from planted_ids",
    )

    built = run_dbt(["build", "--select", "training_pairs", "training_pairs_quality_gate+"], workspace.env)

    assert not built.ok
    assert built.status("training_pairs_quality_gate") == "success", built.summary()
    assert built.status(GATE_SUCCESS_TEST) == "fail"
    assert built.status("training_runs") == "skipped"
    assert workspace.query(
        "select count(*) from training_pairs where pair_id in (from planted_pair_ids)"
    ) == [(0,)]
    failed = workspace.query("select column_name from training_pairs_quality_gate where not success")
    assert failed == [("n_negatives",), ("n_negatives",)]  # per pair, and on average

    ran = run_dbt(["run", "--select", "training_pairs_quality_gate", "training_runs"], workspace.env)

    assert not ran.ok
    assert ran.status("training_runs") == "error"
    assert "quality expectations" in ran.message("training_runs")
    assert "n_negatives" in ran.message("training_runs")
    assert workspace.query("select count(*) from duckdb_tables() where table_name = 'training_runs'") == [
        (0,)
    ]


def test_two_negatives_per_pair_give_every_pair_two(sql_demo: DemoBuild, tmp_path: Path) -> None:
    """At negatives_per_pair 2 every demo pair with a curated-chunk positive has candidates enough: each
    gets exactly 2, ranked 1 and 2 (the unit test hard_negatives_are_numbered_after_the_dedupe plants the
    case that used to lose one); labelled pairs draw from the few other labelled groups."""
    workspace = sql_demo.workspace.copy_to(tmp_path)

    result = run_dbt(
        [
            "build",
            "--select",
            "path:models/intermediate/negatives",  # the rules' models, each limited to negatives_per_pair
            "int_pairs_with_hard_negatives",
            "training_pairs",
            "training_pairs_quality_gate",
        ],
        workspace.env,
        vars={"negatives_per_pair": 2},
    )

    assert result.ok, result.summary()
    per_pair = workspace.query(
        "select pair_id, count(negative_chunk_id), list(negative_rank order by negative_rank) "
        "from int_pairs_with_hard_negatives "
        "where positive_chunk_id in (select chunk_id from int_chunks_curated) group by pair_id"
    )
    assert per_pair and all(n == 2 and ranks == [1, 2] for _, n, ranks in per_pair), per_pair
    assert workspace.query(
        "select count(*) from training_pairs "
        "where positive_chunk_id in (select chunk_id from int_chunks_curated)"
    ) == [(2 * len(per_pair),)]


def test_planted_train_eval_leak_is_caught_by_the_leakage_test(sql_demo: DemoBuild, tmp_path: Path) -> None:
    """A held-out (eval-company) pair slipped into training_pairs must fail no_train_eval_leakage."""
    workspace = sql_demo.workspace.copy_to(tmp_path)
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


def test_disabling_a_strategy_removes_it_from_the_union(sql_demo: DemoBuild, tmp_path: Path) -> None:
    workspace = sql_demo.workspace.copy_to(tmp_path)

    result = run_dbt(
        ["run", "--select", "int_pairs__risk_factors", "int_pairs_unioned"],
        workspace.env,
        vars={"pair_strategy_overrides": {"risk_factors": {"enabled": False}}},
    )

    assert result.ok, result.summary()
    strategies = {row[0] for row in workspace.query("select distinct strategy from int_pairs_unioned")}
    assert strategies == STRATEGIES - {"risk_factors"}


def test_bad_settings_stop_the_build_before_any_node(sql_demo: DemoBuild, tmp_path: Path) -> None:
    """The on-run-start settings check fails, so dbt runs no node: every table of the previous good
    build stays as it was, and the message names every bad setting. (Each of these used to fail only
    after most of the build had replaced its tables, or not at all; tests/python/test_project_settings.py
    checks each one alone.)"""
    workspace = sql_demo.workspace.copy_to(tmp_path)
    before = workspace.table_fingerprints()

    result = run_dbt(
        ["build"],
        workspace.env,
        vars={
            "training": {"learning_rate": 1.0, "lora_r": -1, "lora_rank": 8},
            "eval_fraction": 2,
            "negatives_per_pair": -3,
            # search vars (a search in an analysis once failed dbt's parse on the first of them) and
            # snapshot pins the catalog does not hold (once found only after the seeds and 8 models)
            "hybrid_dense_weight": 2,
            "search_fusion_depth": 0,
            "raw_snapshot_ids": {"transcript_chunks": 123, "nosuch": 1},
        },
    )

    assert not result.ok
    assert result.executed() == {SETTINGS_HOOK: "error"}, result.summary()
    assert len(result.results) > 200  # every node was selected, and skipped
    message = result.message(SETTINGS_HOOK)
    for expected in (
        "learning_rate=1.0 is outside",
        "lora_r must be at least 1, got -1",
        "unknown training setting(s) lora_rank",
        "eval_fraction: must be in (0, 1), got 2",
        "negatives_per_pair: must be at least 1, got -3",
        "hybrid_dense_weight: must be in [0, 1], got 2",
        "search_fusion_depth: must be at least 1, got 0",
        "raw_snapshot_ids: names tables catalog 'vectorfin'",
        "table raw.transcript_chunks has no snapshot 123",
    ):
        assert expected in message
        assert expected in result.stdout  # what the person running dbt reads
    assert workspace.table_fingerprints() == before


@pytest.mark.parametrize("command", ["run", "test"])
def test_run_and_test_check_the_settings_first(sql_demo: DemoBuild, tmp_path: Path, command: str) -> None:
    workspace = sql_demo.workspace.copy_to(tmp_path)
    before = workspace.table_fingerprints()

    result = run_dbt([command], workspace.env, vars={"quality_gate": {"min_rowz": 1}, "evalfraction": 0.2})

    assert not result.ok
    assert result.executed() == {SETTINGS_HOOK: "error"}, result.summary()
    message = result.message(SETTINGS_HOOK)
    assert "invalid dbt vars (2 problems)" in message
    assert "unknown quality_gate setting(s) min_rowz" in message
    assert "unknown var 'evalfraction'" in message
    assert workspace.table_fingerprints() == before


def test_a_quote_in_a_regex_var_is_quoted_not_pasted(sql_demo: DemoBuild, tmp_path: Path) -> None:
    """Vars reach SQL literals through the one sql_string macro: a regex with a quote must work (it
    used to end the literal early, a syntax error at best)."""
    workspace = sql_demo.workspace.copy_to(tmp_path)
    before = workspace.query("select count(*) from int_chunk_quality_flags where reason = 'malformed_ticker'")

    result = run_dbt(
        ["run", "--select", "int_chunk_quality_flags"],
        workspace.env,
        vars={"ticker_regex": "^[A-Z][A-Z0-9']{0,5}([.\\-][A-Z]{1,2})?$"},
    )

    assert result.ok, result.summary()
    assert (
        workspace.query("select count(*) from int_chunk_quality_flags where reason = 'malformed_ticker'")
        == before
    )


# A number var written as SQL: closes the expression, creates a table, reopens a query. The settings check
# (on-run-start) would refuse it, but `dbt show` and `dbt compile` run no hooks.
INJECTED_NUMBER = (
    "0.5 then 'eval' else 'train' end as split from tickers; CREATE TABLE main.pwned_show AS SELECT 1 AS x; "
    "with tickers as (select 1 as ticker) select 1 as ticker, 1 as split_fraction, case when 1 < 0"
)


@pytest.mark.parametrize(
    ("command", "vars", "message"),
    [
        (
            ["show", "--select", "int_company_splits", "--limit", "3"],
            {"eval_fraction": INJECTED_NUMBER},
            "var eval_fraction must be a number",
        ),
        (
            ["compile", "--select", "int_company_splits"],
            {"eval_fraction": INJECTED_NUMBER},
            "var eval_fraction must be a number",
        ),
        (
            ["show", "--select", "int_pairs__labelled_questions", "--limit", "1"],
            {"tatqa_training": "true or 1 = 1"},
            "var tatqa_training must be true or false",
        ),
    ],
)
def test_a_var_written_as_sql_never_runs_through_show_or_compile(
    sql_demo: DemoBuild, tmp_path: Path, command: list[str], vars: dict, message: str
) -> None:
    workspace = sql_demo.workspace.copy_to(tmp_path)
    tables = "select table_name from duckdb_tables() order by all"
    before = workspace.query(tables)

    result = run_dbt(command, workspace.env, vars=vars)

    assert not result.ok
    assert message in result.stdout + result.stderr, result.summary()
    assert workspace.query(tables) == before


def test_a_partial_build_on_a_fresh_warehouse_leaves_out_the_tests_it_cannot_run(tmp_path: Path) -> None:
    """An analyst's first `dbt build --select <model>`, on a warehouse with the corpus loaded and nothing
    built: the model and its own tests run; a test that also reads a model never built (the rows-in
    check reads both staging models) is left out, not failed (`indirect_selection: buildable`)."""
    workspace = DbtWorkspace.demo(tmp_path)

    built = run_dbt(["build", "--select", "stg_raw__filing_chunks"], workspace.env)

    assert built.ok, built.summary()
    assert built.status("stg_raw__filing_chunks") == "success"
    assert set(built.statuses("unique_stg_raw__filing_chunks").values()) == {"pass"}
    assert built.status("assert_rows_in_equal_kept_plus_quarantined") is None
