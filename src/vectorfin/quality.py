"""The data-quality gate over `training_pairs`: a Great Expectations suite that must pass before training.

The dbt Python model `training_pairs_quality_gate` calls `run_training_pairs_gate` with the mart, the
ids of every training pair (from `int_pairs_with_hard_negatives`, which keeps the pairs no rule found a
negative for) and the `quality_gate` var's thresholds. Every expectation becomes one row of the returned
table, which the model stores whether or not the gate passed, so a failure can be read back. The build
is stopped by the dbt test on the table's `success` column (`dbt build` then skips everything downstream)
and, for `dbt run` without tests, by `training_runs` itself, which calls `require_passed_gate` on the
stored rows before it trains: bad pairs never reach a GPU.

Three batches are validated, each with its own suite, in an ephemeral GX context (nothing is written
to disk; the pandas frames are the data source):

* `training_pairs`  one row per training example: row count, nulls, duplicate examples, text lengths,
                    the strategies and negative rules present;
* `pairs`           one row per training pair, including pairs without a negative (n_negatives 0):
                    negatives per pair, share of distinct anchors;
* `strategy_mix`    one row per strategy: no strategy above `max_strategy_share` of the examples.
"""

from __future__ import annotations

import json
import logging
import os
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from vectorfin.config.project_vars import is_number, project_var

logger = logging.getLogger(__name__)

TEXT_COLUMNS = ("anchor_text", "positive_text", "negative_text")
REQUIRED_COLUMNS = (
    "pair_id",
    "example_id",
    "strategy",
    *TEXT_COLUMNS,
    "negative_rule",
    "anchor_chunk_id",
    "positive_chunk_id",
    "negative_chunk_id",
    "knowledge_ts",
)
# Present in every row but null where the anchor is free text (a taxonomy description, a labelled question).
NULLABLE_COLUMNS = ("anchor_chunk_id",)
RESULT_COLUMNS = (
    "batch",
    "expectation",
    "column_name",
    "kwargs",
    "success",
    "observed_value",
    "unexpected_percent",
)


class QualityGateError(RuntimeError):
    """At least one expectation of the gate failed; the message lists them."""

    def __init__(self, message: str, results: pd.DataFrame) -> None:
        super().__init__(message)
        self.results = results


# The defaults are the `quality_gate` var of dbt_project.yml (and its `negatives_per_pair` var), written
# there once: `GateThresholds()` is the gate a plain `dbt build` runs.
_DEFAULTS: dict[str, Any] = project_var("quality_gate")


@dataclass(frozen=True)
class GateThresholds:
    """The gate's limits; dbt passes var('quality_gate'), missing keys keep the project's defaults."""

    min_rows: int = _DEFAULTS["min_rows"]
    max_rows: int = _DEFAULTS["max_rows"]
    max_null_share: float = _DEFAULTS["max_null_share"]
    max_duplicate_example_share: float = _DEFAULTS["max_duplicate_example_share"]
    min_distinct_anchor_share: float = _DEFAULTS["min_distinct_anchor_share"]
    min_text_chars: int = _DEFAULTS["min_text_chars"]
    max_text_chars: int = _DEFAULTS["max_text_chars"]
    min_median_passage_chars: float = _DEFAULTS["min_median_passage_chars"]
    max_median_passage_chars: float = _DEFAULTS["max_median_passage_chars"]
    min_strategies: int = _DEFAULTS["min_strategies"]
    max_strategy_share: float = _DEFAULTS["max_strategy_share"]
    negatives_per_pair: int = project_var("negatives_per_pair")
    min_mean_negatives_share: float = _DEFAULTS["min_mean_negatives_share"]

    def __post_init__(self) -> None:
        problems = []
        for name, kind in _field_types().items():
            problem = _number_problem(name, getattr(self, name), kind)
            if problem:
                problems.append(problem)
            else:
                # YAML writes 60 for a float threshold: keep each field's declared type
                object.__setattr__(self, name, kind(getattr(self, name)))
        problems = problems or _threshold_problems(self)
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> GateThresholds:
        """Thresholds from a mapping of numbers; a ValueError names every unknown key and bad value."""
        values = dict(values or {})
        types = _field_types()
        problems = []
        unknown = sorted(set(values) - set(types))
        if unknown:
            problems.append(
                f"unknown quality_gate setting(s) {', '.join(unknown)}; valid: {', '.join(types)}"
            )
        problems.extend(
            problem
            for name, kind in types.items()
            if name in values and (problem := _number_problem(name, values[name], kind))
        )
        if problems:
            raise ValueError("; ".join(problems))
        return cls(**{name: values[name] for name in types if name in values})


def _field_types() -> dict[str, type]:
    """{field name: int or float} of GateThresholds, in declaration order."""
    hints = typing.get_type_hints(GateThresholds)
    return {field.name: hints[field.name] for field in fields(GateThresholds)}


def _number_problem(name: str, value: Any, kind: type) -> str | None:
    if not is_number(value) or (kind is int and not float(value).is_integer()):
        return f"{name} must be a {'whole number' if kind is int else 'number'}, got {value!r}"
    return None


def _threshold_problems(t: GateThresholds) -> list[str]:
    problems = []
    for name in (
        "max_null_share",
        "max_duplicate_example_share",
        "min_distinct_anchor_share",
        "max_strategy_share",
        "min_mean_negatives_share",
    ):
        if not 0.0 <= getattr(t, name) <= 1.0:
            problems.append(f"{name} must be in [0, 1], got {getattr(t, name)}")
    for low, high in (
        ("min_rows", "max_rows"),
        ("min_text_chars", "max_text_chars"),
        ("min_median_passage_chars", "max_median_passage_chars"),
    ):
        if getattr(t, low) < 0:
            problems.append(f"{low} must be at least 0, got {getattr(t, low)}")
        if getattr(t, high) < getattr(t, low):
            problems.append(f"{high} ({getattr(t, high)}) must be at least {low} ({getattr(t, low)})")
    for name in ("min_strategies", "negatives_per_pair"):
        if getattr(t, name) < 1:
            problems.append(f"{name} must be at least 1, got {getattr(t, name)}")
    return problems


def gate_thresholds(quality_gate: Mapping[str, Any] | None, negatives_per_pair: int | None) -> GateThresholds:
    """The gate's thresholds: var quality_gate over the defaults, negatives per pair from its own var
    (None: the default)."""
    values = dict(quality_gate or {})
    problems = []
    if "negatives_per_pair" in values:
        problems.append("negatives_per_pair is not a quality_gate setting: set the var negatives_per_pair")
        del values["negatives_per_pair"]
    if negatives_per_pair is not None:
        values["negatives_per_pair"] = negatives_per_pair
    try:
        thresholds = GateThresholds.from_mapping(values)
    except ValueError as error:
        problems.append(str(error))
    if problems:
        raise ValueError("; ".join(problems))
    return thresholds


def run_training_pairs_gate(
    pairs: pd.DataFrame,
    thresholds: GateThresholds | Mapping[str, Any] | None = None,
    strategies: Iterable[str] | None = None,
    training_pair_ids: Iterable[str] | None = None,
    raise_on_failure: bool = True,
    negative_rules: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Validate `pairs` (the training_pairs mart); one result row per expectation.

    `strategies` are the strategy names allowed in the mart (the enabled ones); None allows any.
    `negative_rules` are the rules allowed (var negative_rules); None: the var as dbt_project.yml declares it.
    `training_pair_ids` are every training pair, including those without a negative, which the mart
    leaves out: they count as pairs with 0 negatives. Raises `QualityGateError` when an expectation
    fails, unless `raise_on_failure` is False.
    """
    if not isinstance(thresholds, GateThresholds):
        thresholds = GateThresholds.from_mapping(thresholds)
    missing = [column for column in REQUIRED_COLUMNS if column not in pairs.columns]
    if missing:
        raise QualityGateError(f"training_pairs lacks columns: {', '.join(missing)}", _empty_results())
    batches = _batches(pairs, training_pair_ids)
    rules = list(negative_rules) if negative_rules is not None else project_var("negative_rules")
    suites = _suites(thresholds, strategies, rules)
    results = _validate(batches, suites)
    if raise_on_failure:
        require_passed_gate(results)
    elif failures := gate_failures(results):
        logger.warning("%s", failures)
    return results


def gate_failures(results: pd.DataFrame) -> str | None:
    """The failed expectations of stored gate results, one line each; None when all passed."""
    if results.empty:
        return "the gate stored no results: build training_pairs_quality_gate"
    failed = results[~results["success"].astype(bool)]
    if failed.empty:
        return None
    lines = [
        f"  {row.batch}: {row.expectation}({row.column_name or ''}) {row.kwargs}"
        f" -> observed {row.observed_value}"
        for row in failed.itertuples()
    ]
    return f"training_pairs failed {len(failed)} of {len(results)} quality expectations:\n" + "\n".join(lines)


def require_passed_gate(results: pd.DataFrame) -> None:
    """Raise QualityGateError listing the failures, unless every expectation passed."""
    failures = gate_failures(results)
    if failures:
        raise QualityGateError(failures, results)


def _batches(pairs: pd.DataFrame, training_pair_ids: Iterable[str] | None) -> dict[str, pd.DataFrame]:
    examples = pairs.copy()
    for column in TEXT_COLUMNS:
        examples[column.replace("_text", "_chars")] = examples[column].str.len()
    examples["triplet_key"] = (
        examples["anchor_text"].fillna("")
        + "\x1f"
        + examples["positive_text"].fillna("")
        + "\x1f"
        + examples["negative_text"].fillna("")
    )
    per_pair = (
        pairs.groupby("pair_id", dropna=False)
        .agg(anchor_text=("anchor_text", "first"), n_negatives=("negative_chunk_id", "count"))
        .reset_index()
    )
    # pairs the mart left out (no negative found) count with 0 negatives, so the negatives checks see them
    without_negatives = sorted(
        set(training_pair_ids if training_pair_ids is not None else ()) - set(per_pair["pair_id"])
    )
    if without_negatives:
        missing = pd.DataFrame({"pair_id": without_negatives, "anchor_text": None, "n_negatives": 0})
        per_pair = pd.concat([per_pair, missing], ignore_index=True)
    mix = pairs.groupby("strategy", dropna=False).size().rename("n_examples").reset_index()
    mix["share"] = mix["n_examples"] / max(len(pairs), 1)
    return {"training_pairs": examples, "pairs": per_pair, "strategy_mix": mix}


def _suites(
    thresholds: GateThresholds, strategies: Iterable[str] | None, negative_rules: list[str]
) -> dict[str, list[Any]]:
    import great_expectations as gx

    expect = gx.expectations
    t = thresholds
    not_null = 1.0 - t.max_null_share
    examples: list[Any] = [
        expect.ExpectTableRowCountToBeBetween(min_value=t.min_rows, max_value=t.max_rows),
        *(
            expect.ExpectColumnValuesToNotBeNull(column=column, mostly=not_null)
            for column in REQUIRED_COLUMNS
            if column not in NULLABLE_COLUMNS
        ),
        expect.ExpectColumnProportionOfUniqueValuesToBeBetween(
            column="example_id", min_value=1.0 - t.max_duplicate_example_share
        ),
        expect.ExpectColumnProportionOfUniqueValuesToBeBetween(
            column="triplet_key", min_value=1.0 - t.max_duplicate_example_share
        ),
        *(
            expect.ExpectColumnValueLengthsToBeBetween(
                column=column, min_value=t.min_text_chars, max_value=t.max_text_chars
            )
            for column in TEXT_COLUMNS
        ),
        expect.ExpectColumnMedianToBeBetween(
            column="positive_chars",
            min_value=t.min_median_passage_chars,
            max_value=t.max_median_passage_chars,
        ),
        expect.ExpectColumnMedianToBeBetween(
            column="negative_chars",
            min_value=t.min_median_passage_chars,
            max_value=t.max_median_passage_chars,
        ),
        expect.ExpectColumnUniqueValueCountToBeBetween(column="strategy", min_value=t.min_strategies),
        expect.ExpectColumnValuesToBeInSet(column="negative_rule", value_set=negative_rules),
    ]
    if strategies is not None:
        examples.append(expect.ExpectColumnValuesToBeInSet(column="strategy", value_set=sorted(strategies)))
    pairs = [
        # a pair may lack a negative where no rule finds one (a labelled source of a single group):
        # tolerated in the same share as the mean allows, and counted either way
        expect.ExpectColumnValuesToBeBetween(
            column="n_negatives",
            min_value=1,
            max_value=t.negatives_per_pair,
            mostly=t.min_mean_negatives_share,
        ),
        expect.ExpectColumnMeanToBeBetween(
            column="n_negatives",
            min_value=t.min_mean_negatives_share * t.negatives_per_pair,
            max_value=t.negatives_per_pair,
        ),
        expect.ExpectColumnProportionOfUniqueValuesToBeBetween(
            column="anchor_text", min_value=t.min_distinct_anchor_share
        ),
    ]
    mix = [expect.ExpectColumnMaxToBeBetween(column="share", max_value=t.max_strategy_share)]
    return {"training_pairs": examples, "pairs": pairs, "strategy_mix": mix}


def _validate(batches: dict[str, pd.DataFrame], suites: dict[str, list[Any]]) -> pd.DataFrame:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_pandas(name="training_pairs_gate")
    rows: list[dict[str, Any]] = []
    for name, frame in batches.items():
        asset = source.add_dataframe_asset(name=name)
        batch = asset.add_batch_definition_whole_dataframe(f"{name}_all").get_batch(
            batch_parameters={"dataframe": frame}
        )
        suite = gx.ExpectationSuite(name=f"{name}_suite", expectations=suites[name])
        validation = batch.validate(suite, result_format="SUMMARY")
        for result in validation.results:
            rows.append(_result_row(name, result))
    return pd.DataFrame(rows, columns=list(RESULT_COLUMNS))


def _result_row(batch: str, result: Any) -> dict[str, Any]:
    config = result.expectation_config
    kwargs = {key: value for key, value in config.kwargs.items() if key not in {"column", "batch_id"}}
    details = result.result or {}
    observed = details.get("observed_value")
    if observed is None and "unexpected_count" in details:
        observed = f"{details.get('unexpected_count')} unexpected of {details.get('element_count')}"
    if result.exception_info and result.exception_info.get("raised_exception"):
        observed = f"error: {result.exception_info.get('exception_message')}"
    return {
        "batch": batch,
        "expectation": config.type,
        "column_name": config.kwargs.get("column"),
        "kwargs": json.dumps(kwargs, sort_keys=True, default=str),
        "success": bool(result.success),
        "observed_value": None if observed is None else json.dumps(observed, default=str),
        "unexpected_percent": details.get("unexpected_percent"),
    }


def _empty_results() -> pd.DataFrame:
    return pd.DataFrame({column: [] for column in RESULT_COLUMNS})
