"""The one validator of the project's dbt vars (src/vectorfin/config/validation.py), without dbt.

tests/python/test_dbt_pipeline.py checks that dbt calls it before the first node (on-run-start).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.validation import (
    SETTINGS,
    SettingsError,
    enabled_pair_strategies,
    settings_problems,
    validate_settings,
    validate_settings_json,
)
from vectorfin.quality import GateThresholds, gate_thresholds

PROJECT_VARS: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]


def with_vars(**changes: Any) -> dict[str, Any]:
    return {**PROJECT_VARS, **changes}


def test_the_validator_knows_exactly_the_vars_of_dbt_project_yml() -> None:
    assert set(SETTINGS) == set(PROJECT_VARS)
    assert settings_problems(PROJECT_VARS) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"eval_fraction": 2}, "eval_fraction: must be in (0, 1), got 2"),
        ({"eval_fraction": 0}, "eval_fraction: must be in (0, 1), got 0"),
        ({"negatives_per_pair": -3}, "negatives_per_pair: must be at least 1, got -3"),
        ({"negatives_per_pair": 1.5}, "negatives_per_pair: must be a whole number"),
        ({"negative_rules": []}, "negative_rules: must be a non-empty list of rule names"),
        (
            {"negative_rules": ["same_company_other_period", "same_company_other_period"]},
            "negative_rules: 'same_company_other_period' is listed twice",
        ),
        ({"negative_rules": ["none_found"]}, "negative_rules: 'none_found' is not a rule name"),
        ({"negative_rules": ["same-company"]}, "negative_rules: 'same-company' is not a rule name"),
        (
            {"training": {"learning_rate": 1.0}},
            "training: invalid training settings: learning_rate=1.0 is outside",
        ),
        ({"training": {"lora_r": -1}}, "lora_r must be at least 1, got -1"),
        ({"training": {"lora_rank": 8}}, "training: unknown training setting(s) lora_rank"),
        ({"training": {"max_pairs": 0}}, "max_pairs must be at least 1 or null, got 0"),
        (
            {"training": {"epochs": "3"}},
            "training: training setting epochs='3' is not a valid int: numbers must be YAML/JSON numbers",
        ),
        ({"min_chunk_chars": 500, "max_chunk_chars": 400}, "max_chunk_chars (400) must be greater"),
        ({"near_duplicate_jaccard": 1.2}, "near_duplicate_jaccard: must be in (0, 1]"),
        ({"leakage_jaccard": "0.7"}, "leakage_jaccard: must be a number in (0, 1]"),
        ({"ticker_regex": "^[A-Z"}, "ticker_regex: '^[A-Z' is not a valid regular expression"),
        ({"fiscal_period_regex": "(?=Q)"}, "fiscal_period_regex: '(?=Q)' is not a valid regular expression"),
        ({"training_cutoff": "2024-13-01"}, "training_cutoff: '2024-13-01' is not a date or timestamp"),
        ({"as_of_ts": "yesterday'; drop table x; --"}, "as_of_ts: "),
        ({"main_eval_set": "heldout"}, "main_eval_set: must be one of 'heldout_pairs'"),
        ({"training_device": "gpu"}, "training_device: must be one of '', 'cuda', 'mps', 'cpu'"),
        ({"eval_test_fraction": 1}, "eval_test_fraction: must be in (0, 1), got 1"),
        ({"search_embedding_dims": 0}, "search_embedding_dims: must be at least 1, got 0"),
        ({"search_embedding_dims": 100}, "search_embedding_dims: 100 is not a prefix the model is trained"),
        (
            {"search_embedding_dims": 128, "training": {"matryoshka_dims": []}},
            "search_embedding_dims: 128 is not a prefix the model is trained to serve alone",
        ),
        ({"hybrid_dense_weight": 1.5}, "hybrid_dense_weight: must be in [0, 1], got 1.5"),
        ({"comparison_reference_run": 42}, "comparison_reference_run: must be a run id or null, got 42"),
        ({"comparison_reference_run": ""}, "comparison_reference_run: must be a run id or null, got ''"),
        (
            {"comparison_models": "all-mpnet-base-v2"},
            "comparison_models: must be a list of local model folders",
        ),
        (
            {"comparison_models": ["/nowhere/all-mpnet-base-v2"]},
            "comparison_models: '/nowhere/all-mpnet-base-v2' is not a sentence-transformers folder",
        ),
        ({"comparison_models": ["/nowhere/tuned"]}, "the label 'tuned' (the folder's name) is taken"),
        (
            {"embedding_backend": "onnx-int8"},
            "embedding_backend: must be one of 'torch', 'onnx', 'onnx_int8'",
        ),
        ({"embedding_commit_every": 0}, "embedding_commit_every: must be at least 1, got 0"),
        ({"embedding_commit_every": "4096"}, "embedding_commit_every: must be a whole number, got '4096'"),
        ({"max_ndcg_regression_vs_base": -0.1}, "max_ndcg_regression_vs_base: must be in [0, 1]"),
        ({"quality_gate": {"min_row": 5}}, "quality_gate: unknown quality_gate setting(s) min_row"),
        ({"quality_gate": {"max_strategy_share": 1.5}}, "quality_gate: max_strategy_share must be in [0, 1]"),
        ({"quality_gate": {"negatives_per_pair": 2}}, "negatives_per_pair is not a quality_gate setting"),
        (
            {"pair_strategy_overrides": {"qa_turns": {"weight": 0}}},
            "pair_strategy_overrides: qa_turns.weight: must be in (0, 1], got 0",
        ),
        (
            {"pair_strategy_overrides": {"qa_turns": {"enabled": "yes"}}},
            "qa_turns.enabled: must be true or false, got 'yes'",
        ),
        (
            {"pair_strategy_overrides": {"qa_turn": {"enabled": False}}},
            "pair_strategy_overrides: 'qa_turn' is not registered",
        ),
        (
            {"pair_strategies": {"qa'turns": {"enabled": True}}},
            'strategy name "qa\'turns" must be lower-case letters, digits and _',
        ),
        (
            {
                "pair_strategy_overrides": {
                    name: {"enabled": False} for name in PROJECT_VARS["pair_strategies"]
                }
            },
            "every strategy is disabled",
        ),
    ],
)
def test_each_bad_setting_is_named(changes: dict[str, Any], expected: str) -> None:
    problems = settings_problems(with_vars(**changes))

    assert any(expected in problem for problem in problems), problems


def test_every_problem_is_listed_at_once_and_unknown_command_line_vars_too() -> None:
    bad = with_vars(eval_fraction=2, negatives_per_pair=-3, training={"learning_rate": 1.0, "lora_r": -1})

    with pytest.raises(SettingsError) as raised:
        validate_settings(bad, {"eval_fracton": 0.2})

    message = str(raised.value)
    assert message.startswith("invalid dbt vars (4 problems); nothing was built:")
    for name in ("'eval_fracton'", "eval_fraction", "negatives_per_pair", "learning_rate", "lora_r"):
        assert name in message
    assert len(raised.value.problems) == 4


def test_the_dbt_function_takes_json_text() -> None:
    assert validate_settings_json(json.dumps(PROJECT_VARS), "{}").endswith("settings valid")
    with pytest.raises(SettingsError, match="eval_fraction"):
        validate_settings_json(json.dumps(with_vars(eval_fraction=1.5)), '{"eval_fraction": 1.5}')


def test_gate_thresholds_take_negatives_per_pair_from_its_own_var() -> None:
    thresholds = gate_thresholds({"min_rows": 5}, negatives_per_pair=3)

    assert (thresholds.min_rows, thresholds.negatives_per_pair) == (5, 3)
    assert gate_thresholds(None, None) == GateThresholds()
    with pytest.raises(ValueError, match="min_rows must be a whole number, got 'x'"):
        GateThresholds.from_mapping({"min_rows": "x"})
    with pytest.raises(ValueError, match=r"max_rows \(1\) must be at least min_rows \(5\)"):
        GateThresholds(min_rows=5, max_rows=1)


def test_enabled_strategies_follow_overrides() -> None:
    registry = {"a": {"enabled": True}, "b": {}, "c": {"enabled": False}, "d": None}

    assert enabled_pair_strategies(registry) == ["a", "b", "d"]
    assert enabled_pair_strategies(registry, {"a": {"enabled": False}, "c": {"enabled": True}}) == [
        "b",
        "c",
        "d",
    ]
