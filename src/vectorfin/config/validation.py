"""Every dbt var of the project, validated in one place before `dbt build`, `run` or `test` changes anything.

The `on-run-start` hook (macros/settings/validate_settings.sql) renders
`select vectorfin_validate_settings('<every var as JSON>', '<the --vars given as JSON>')`; the dbt plugin
registers that DuckDB function, which calls `validate_settings` here. A bad setting therefore stops the
invocation before its first node, with one message naming every problem, instead of failing deep in a
build after some tables were already replaced. The defaults live in dbt_project.yml only; settings with a
structure of their own are checked by their class: `training` by
`vectorfin.config.training.TrainingConfig`, `quality_gate` by `vectorfin.quality.GateThresholds`.

Numbers must be YAML/JSON numbers (not text): many are pasted into SQL, so a validated number is also
what keeps SQL out of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vectorfin.catalog_reads import pin_problems
from vectorfin.config.project_vars import is_number
from vectorfin.config.training import TrainingConfig
from vectorfin.ml.backends import EMBEDDING_BACKENDS
from vectorfin.ml.device import DEVICES
from vectorfin.ml.labels import RESERVED_MODEL_LABELS, comparison_label
from vectorfin.quality import gate_thresholds

Check = Callable[[Any], list[str]]

# The evaluation sets main_eval_set may name (models/marts/eval_queries.sql): the held-out pairs, TAT-QA's
# held-out contexts and ConvFinQA.
EVAL_SETS = ("heldout_pairs", "tatqa_dev", "convfinqa_dev")
PAIR_STRATEGY_KEYS = ("enabled", "weight")
# A strategy's or negative rule's name becomes part of a model name (int_pairs__<name>,
# int_negatives__<name>) and a SQL literal.
REGISTERED_NAME = re.compile(r"[a-z][a-z0-9_]*")


class SettingsError(ValueError):
    """One or more dbt vars are invalid; `problems` lists them, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"invalid dbt vars ({len(problems)} problem{'s' if len(problems) > 1 else ''}); "
            "nothing was built:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )


def integer(minimum: int, optional: bool = False) -> Check:
    """A whole number >= minimum (or null when optional)."""

    def check(value: Any) -> list[str]:
        if value is None and optional:
            return []
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"must be a whole number{' or null' if optional else ''}, got {value!r}"]
        return [] if value >= minimum else [f"must be at least {minimum}, got {value}"]

    return check


def number(low: float, high: float | None, low_open: bool = False, high_open: bool = False) -> Check:
    """A finite number in the interval; `(` / `)` ends are open, `high=None` is unbounded."""
    interval = f"{'(' if low_open else '['}{low}, {'inf)' if high is None else f'{high}'}"
    if high is not None:
        interval += ")" if high_open else "]"

    def check(value: Any) -> list[str]:
        if not is_number(value):
            return [f"must be a number in {interval}, got {value!r}"]
        above = value > low if low_open else value >= low
        below = high is None or (value < high if high_open else value <= high)
        return [] if above and below else [f"must be in {interval}, got {value}"]

    return check


def one_of(*choices: Any) -> Check:
    def check(value: Any) -> list[str]:
        if value in choices and not isinstance(value, bool):
            return []
        return [f"must be one of {', '.join(repr(choice) for choice in choices)}, got {value!r}"]

    return check


def boolean(value: Any) -> list[str]:
    return [] if isinstance(value, bool) else [f"must be true or false, got {value!r}"]


def regex(value: Any) -> list[str]:
    """A pattern DuckDB's regex engine (RE2, which the models use) compiles."""
    if not isinstance(value, str) or not value:
        return [f"must be a non-empty regular expression, got {value!r}"]
    return _duckdb_problems("select regexp_full_match('', ?)", value, "is not a valid regular expression")


def optional_text(value: Any) -> list[str]:
    """A non-empty text, or null."""
    if value is None or (isinstance(value, str) and value.strip()):
        return []
    return [f"must be a non-empty text or null, got {value!r}"]


def run_id_or_null(value: Any) -> list[str]:
    """A training run's id (text) or null."""
    return (
        []
        if value is None or (isinstance(value, str) and value)
        else [f"must be a run id or null, got {value!r}"]
    )


def timestamp(optional: bool = False) -> Check:
    """Text DuckDB casts to a timestamp (the models do `cast(<value> as timestamp)`)."""

    def check(value: Any) -> list[str]:
        if value is None and optional:
            return []
        if not isinstance(value, str) or not value.strip():
            return [f"must be a date or timestamp text such as '2024-01-01'{' or null' if optional else ''}"]
        return _duckdb_problems("select cast(? as timestamp)", value, "is not a date or timestamp")

    return check


def _duckdb_problems(sql: str, value: str, what: str) -> list[str]:
    import duckdb

    try:
        with duckdb.connect() as connection:
            connection.execute(sql, [value]).fetchall()
    except duckdb.Error as error:
        return [f"{value!r} {what}: {str(error).splitlines()[0]}"]
    return []


def pair_strategy_entries(value: Any) -> list[str]:
    """{name: {enabled: bool, weight: (0, 1]}}; a name may map to null (all defaults)."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [f"must be a mapping of strategy name to {{enabled, weight}}, got {value!r}"]
    problems = []
    weight = number(0, 1, low_open=True)
    for name, entry in value.items():
        if not isinstance(name, str) or not REGISTERED_NAME.fullmatch(name):
            problems.append(f"strategy name {name!r} must be lower-case letters, digits and _")
        if entry is None:
            continue
        if not isinstance(entry, Mapping):
            problems.append(f"{name}: must be a mapping with keys {', '.join(PAIR_STRATEGY_KEYS)}")
            continue
        unknown = sorted(set(entry) - set(PAIR_STRATEGY_KEYS))
        if unknown:
            problems.append(f"{name}: unknown key(s) {', '.join(map(str, unknown))}")
        if "enabled" in entry and not isinstance(entry["enabled"], bool):
            problems.append(f"{name}.enabled: must be true or false, got {entry['enabled']!r}")
        if "weight" in entry:
            problems.extend(
                f"{name}.weight: {problem} (switch a strategy off with enabled: false)"
                for problem in weight(entry["weight"])
            )
    return problems


def snapshot_pins(value: Any) -> list[str]:
    """{raw table name: Iceberg snapshot id}, each table and snapshot held by the catalog."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        return [f"must be a mapping of raw table name to snapshot id, got {value!r}"]
    problems = [
        f"{table}: a snapshot id is a whole number, got {snapshot!r}"
        for table, snapshot in value.items()
        if not isinstance(snapshot, int) or isinstance(snapshot, bool)
    ]
    return problems or (pin_problems(value) if value else [])


def comparison_models(value: Any) -> list[str]:
    """A list of local sentence-transformers folders, each named apart from the others and from the
    project's own labels (its folder name labels it in retrieval_metrics)."""
    if not isinstance(value, list):
        return [f"must be a list of local model folders, got {value!r}"]
    problems, labels = [], set()
    for path in value:
        if not isinstance(path, str) or not path.strip():
            problems.append(f"{path!r} is not a folder path")
            continue
        label = comparison_label(path)
        if not (Path(path) / "modules.json").is_file():
            problems.append(
                f"{path!r} is not a sentence-transformers folder (no modules.json); "
                "`make comparison-models` installs all-mpnet-base-v2"
            )
        if label in labels or label in RESERVED_MODEL_LABELS:
            problems.append(f"{path!r}: the label {label!r} (the folder's name) is taken; rename the folder")
        labels.add(label)
    return problems


def negative_rules(value: Any) -> list[str]:
    """The hard-negative rules in priority order: a non-empty list of distinct names, each the model
    int_negatives__<name> (a missing model dbt itself refuses) and a SQL literal; 'none_found' marks a
    pair without a negative."""
    if not isinstance(value, list) or not value:
        return [f"must be a non-empty list of rule names in priority order, got {value!r}"]
    problems, seen = [], set()
    for name in value:
        if not isinstance(name, str) or not REGISTERED_NAME.fullmatch(name) or name == "none_found":
            problems.append(f"{name!r} is not a rule name (lower-case letters, digits and _; not none_found)")
        elif name in seen:
            problems.append(f"{name!r} is listed twice")
        else:
            seen.add(name)
    return problems


def mapping(check_values: Callable[[Mapping[str, Any]], Any]) -> Check:
    """A mapping that `check_values` accepts (it raises ValueError naming what is wrong)."""

    def check(value: Any) -> list[str]:
        if value is not None and not isinstance(value, Mapping):
            return [f"must be a mapping, got {value!r}"]
        try:
            check_values(value or {})
        except (TypeError, ValueError) as error:
            return [str(error)]
        return []

    return check


# A strategy's settings where neither var pair_strategies nor pair_strategy_overrides sets them.
PAIR_STRATEGY_DEFAULTS = {"enabled": True, "weight": 1.0}
PAIR_STRATEGY_SETTING_FUNCTION = "vectorfin_pair_strategy_setting"


def pair_strategy_setting(
    pair_strategies: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None, name: str, key: str
) -> Any:
    """One setting (enabled, weight) of strategy `name`: var pair_strategy_overrides (meant for
    `--vars`, merged per strategy and key), then var pair_strategies (the registry), then the default.
    The one statement of this rule: the SQL reads it through the DuckDB function
    vectorfin_pair_strategy_setting (macros/pairs/pair_contract.sql), the gate and this check directly."""
    override = (overrides or {}).get(name) or {}
    registered = (pair_strategies or {}).get(name) or {}
    return override.get(key, registered.get(key, PAIR_STRATEGY_DEFAULTS[key]))


def pair_strategy_setting_json(pair_strategies_json: str, overrides_json: str, name: str, key: str) -> str:
    """The DuckDB function `vectorfin_pair_strategy_setting(...)`: the setting as JSON."""
    setting = pair_strategy_setting(json.loads(pair_strategies_json), json.loads(overrides_json), name, key)
    return json.dumps(setting)


def enabled_pair_strategies(
    pair_strategies: Mapping[str, Any] | None, overrides: Mapping[str, Any] | None = None
) -> list[str]:
    """The registered strategies that are enabled, in the registry's order."""
    registry = pair_strategies or {}
    return [name for name in registry if pair_strategy_setting(registry, overrides, name, "enabled")]


# Every var of dbt_project.yml and its rule (a test keeps the two lists equal).
SETTINGS: dict[str, Check] = {
    "raw_snapshot_ids": snapshot_pins,
    "min_chunk_chars": integer(1),
    "max_chunk_chars": integer(1),
    "ticker_regex": regex,
    "fiscal_period_regex": regex,
    "as_of_ts": timestamp(optional=True),
    "near_duplicate_jaccard": number(0, 1, low_open=True),
    "minhash_min_tokens": integer(1),
    "pair_strategies": pair_strategy_entries,
    "pair_strategy_overrides": pair_strategy_entries,
    "summary_bullet_min_shared_figures": integer(0),
    "summary_bullet_min_figure_share": number(0, 1),
    "summary_bullet_min_shared_terms": integer(0),
    "summary_bullet_span_from_figure": boolean,
    "filing_heading_min_passage_chars": integer(1),
    "filing_heading_max_companies": integer(1),
    "risk_factor_cap_per_factor": integer(1),
    "risk_factor_min_matches": integer(1),
    "risk_factor_skip_definition_lists": boolean,
    "cross_source_min_shared_figures": integer(1),
    "cross_source_min_figure_score": number(0, None),
    "filing_question_min_table_rows": integer(1),
    "negative_rules": negative_rules,
    "negatives_per_pair": integer(1),
    "hard_negative_round": one_of(1, 2),
    "hard_negative_embeddings_run": run_id_or_null,
    "embedding_negative_margin": number(0, 2),
    "lexical_negative_max_df": integer(2),
    "lexical_negative_terms_per_chunk": integer(1),
    "eval_fraction": number(0, 1, low_open=True, high_open=True),
    "labelled_eval_fraction": number(0, 1, high_open=True),
    "tatqa_knowledge_ts": timestamp(),
    "tatqa_training": boolean,
    "qa_min_answer_words": integer(1),
    "qa_non_answer_max_chars": integer(0),
    "training_cutoff": timestamp(),
    "leakage_jaccard": number(0, 1, low_open=True),
    "quality_gate": lambda value: [],  # needs negatives_per_pair: checked in _cross_checks
    "training": mapping(TrainingConfig.from_mapping),
    "training_device": one_of("", *DEVICES),
    "main_eval_set": one_of(*EVAL_SETS),
    "max_ndcg_regression_vs_base": number(0, 1),
    "hybrid_dense_weight": lambda value: [] if value is None else number(0, 1)(value),
    "max_stsb_drop": number(0, 2),
    "regression_min_queries": integer(1),
    "eval_test_fraction": number(0, 1, low_open=True, high_open=True),
    "comparison_models": comparison_models,
    "comparison_reference_run": run_id_or_null,
    "mlflow_tracking": boolean,
    "search_fusion_depth": integer(1),
    "search_exact_max_chunks": integer(1),
    "search_embedding_dims": integer(1, optional=True),
    "embedding_backend": one_of(*EMBEDDING_BACKENDS),
    "embedding_commit_every": integer(1),
}


def setting_names() -> list[str]:
    return list(SETTINGS)


def settings_problems(values: Mapping[str, Any], command_line: Mapping[str, Any] | None = None) -> list[str]:
    """Every problem with the vars `values` (name -> value as dbt resolves it); `command_line` are the
    `--vars` given, whose unknown names are problems too (a misspelt var would be silently ignored)."""
    problems = [
        f"unknown var {name!r} in --vars (the vars are listed in dbt_project.yml)"
        for name in (command_line or {})
        if name not in SETTINGS
    ]
    for name, check in SETTINGS.items():
        problems.extend(f"{name}: {problem}" for problem in check(values.get(name)))
    return problems + _cross_checks(values)


def _cross_checks(values: Mapping[str, Any]) -> list[str]:
    problems = []
    low, high = values.get("min_chunk_chars"), values.get("max_chunk_chars")
    if is_number(low) and is_number(high) and low >= high:
        problems.append(f"max_chunk_chars ({high}) must be greater than min_chunk_chars ({low})")
    registry, overrides = values.get("pair_strategies"), values.get("pair_strategy_overrides")
    if isinstance(registry, Mapping) and isinstance(overrides, Mapping):
        problems.extend(
            f"pair_strategy_overrides: {name!r} is not registered in var pair_strategies "
            f"(registered: {', '.join(map(str, registry))})"
            for name in overrides
            if name not in registry
        )
        if registry and not enabled_pair_strategies(registry, overrides):
            problems.append("pair_strategies: every strategy is disabled; enable at least one")
    if isinstance(registry, Mapping) and not registry:
        problems.append("pair_strategies: registers no strategy")
    dims, training = values.get("search_embedding_dims"), values.get("training")
    if isinstance(dims, int) and not isinstance(dims, bool) and isinstance(training, Mapping):
        trained = training.get("matryoshka_dims", TrainingConfig().matryoshka_dims)
        if isinstance(trained, list | tuple) and dims not in trained:
            problems.append(
                f"search_embedding_dims: {dims} is not a prefix the model is trained to serve alone "
                f"(training.matryoshka_dims: {list(trained)})"
            )
    quality_gate = values.get("quality_gate")
    if quality_gate is not None and not isinstance(quality_gate, Mapping):
        problems.append(f"quality_gate: must be a mapping, got {quality_gate!r}")
    else:
        # an invalid negatives_per_pair is reported on its own; the gate's keys are still checked
        negatives = values.get("negatives_per_pair")
        try:
            gate_thresholds(quality_gate, negatives if not integer(1)(negatives) else None)
        except ValueError as error:
            problems.append(f"quality_gate: {error}")
    return problems


def validate_settings(values: Mapping[str, Any], command_line: Mapping[str, Any] | None = None) -> None:
    """Raise SettingsError listing every problem, if there is any."""
    problems = settings_problems(values, command_line)
    if problems:
        raise SettingsError(problems)


def validate_settings_json(values_json: str, command_line_json: str | None = None) -> str:
    """The DuckDB function `vectorfin_validate_settings(values_json, command_line_json)`."""
    values = json.loads(values_json)
    command_line = json.loads(command_line_json) if command_line_json else {}
    validate_settings(values, command_line)
    return f"{len(values)} settings valid"
