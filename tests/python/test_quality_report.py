"""benchmarks/quality_report.py: memory samples placed in the dbt step that was running when each was
taken (the benchmark's peak is reported per step), and the quality table read from the locked test part."""

from __future__ import annotations

import importlib.util
import json
import os
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from vectorfin.config import PROJECT_ROOT
from vectorfin.ml.evaluation import RESULT_COLUMNS
from vectorfin.ml.memory import GIB

spec = importlib.util.spec_from_file_location(
    "quality_report", PROJECT_ROOT / "benchmarks" / "quality_report.py"
)
quality_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(quality_report)

T0 = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run_results(*nodes: tuple[str, float, float]) -> dict:
    """A run_results.json body with one executed node per (name, start s, end s); dbt writes UTC times
    with a trailing Z."""
    return {
        "results": [
            {
                "unique_id": f"model.vectorfin_finetune.{name}",
                "timing": [
                    {
                        "name": "compile",
                        "started_at": at(start - 1).isoformat(),
                        "completed_at": at(start).isoformat(),
                    },
                    {
                        "name": "execute",
                        "started_at": at(start).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "completed_at": at(end).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                    },
                ],
            }
            for name, start, end in nodes
        ]
    }


def test_each_sample_counts_for_the_node_running_at_its_time() -> None:
    intervals = quality_report.node_intervals(
        run_results(("training_runs", 100, 200), ("stg_chunks", 10, 20))
    )
    assert [name for name, _, _ in intervals] == ["stg_chunks", "training_runs"]
    samples = [(at(5), 2 * GIB), (at(15), 1 * GIB), (at(50), 3 * GIB), (at(150), 7 * GIB), (at(199), 6 * GIB)]
    steps = quality_report.peaks_by_step(samples, intervals)
    assert steps == {
        "training_runs": 7.0,
        quality_report.BETWEEN_NODES: 3.0,
        quality_report.BEFORE_DBT: 2.0,
        "stg_chunks": 1.0,
    }
    assert next(iter(steps)) == "training_runs"  # largest first: the step the peak fell in


def test_node_names_drop_the_project_and_a_data_test_hash() -> None:
    assert quality_report.node_name("model.vectorfin_finetune.training_runs") == "training_runs"
    assert quality_report.node_name("test.vectorfin_finetune.not_null_x_id.04099d3bd4") == "not_null_x_id"
    assert quality_report.node_name("unit_test.vectorfin_finetune.int_x.shows_y") == "int_x.shows_y"


def test_without_dbt_results_every_sample_is_the_load() -> None:
    samples = [(at(1), GIB), (at(2), 2 * GIB)]
    assert quality_report.peaks_by_step(samples, []) == {quality_report.BEFORE_DBT: 2.0}


def test_results_older_than_the_command_are_not_used(tmp_path) -> None:
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps(run_results(("training_runs", 0, 10))))
    written = path.stat().st_mtime
    assert [name for name, _, _ in quality_report.read_intervals(since=written - 1, path=path)] == [
        "training_runs"
    ]
    os.utime(path, (written - 100, written - 100))
    assert quality_report.read_intervals(since=written - 1, path=path) == []


def test_the_quality_table_reads_the_test_part_and_compares_what_the_targets_name() -> None:
    rows = []
    for part, shift in (("tune", 0.3), ("test", 0.0)):
        for model, value in (
            ("base", 0.40),
            ("tuned", 0.50),
            ("tuned@128", 0.49),
            ("bm25", 0.45),
            ("tuned+bm25", 0.55),
            ("all-mpnet-base-v2", 0.44),
        ):
            interval = (0.1, 0.05, 0.15) if model == "tuned" else (None, None, None)
            rows.append((model, model, "tatqa_dev", part, "ndcg@10", value + shift, 80, None, *interval))
    table = quality_report.quality_table(pd.DataFrame(rows, columns=RESULT_COLUMNS)).loc["tatqa_dev"]
    assert table["test_queries"] == 80
    assert table["tuned"] == 0.5  # the test part's, never the tune part's
    assert table["tuned_vs_base_%"] == pytest.approx(25.0)
    assert table["tuned_minus_base_ci"] == "[+0.0500, +0.1500]"
    assert table["tuned_vs_all-mpnet-base-v2_%"] == pytest.approx(13.6364)
    assert table["hybrid_vs_best_side_%"] == pytest.approx(10.0)
    assert table["tuned@128_vs_full_%"] == pytest.approx(-2.0)
