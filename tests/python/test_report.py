"""The run report on small frames: real matplotlib charts, real files; no dbt (the full build in
test_dbt_python_models.py checks the dbt model and the model card's link)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from PIL import Image

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.ml.evaluation import RESULT_COLUMNS
from vectorfin.report import DOCS_SUBDIR, REPORT_DIR, REPORT_PAGE, write_run_report

RUN_ID = "lora-0123456789ab-20261128T100000Z"
SECTIONS = [
    "pairs_per_strategy",
    "quarantine_reasons",
    "quality_gate",
    "loss_curve",
    "ndcg_at_10",
    "regression_checks",
    "run_comparison",
]
REFERENCE_RUN = "lora-ba9876543210-20261127T100000Z"
COMPARISON_COLUMNS = [
    "latest_run_id",
    "reference_run_id",
    "section",
    "model",
    "eval_set",
    "eval_part",
    "item",
    "n_queries",
    "latest_value",
    "reference_value",
    "difference",
    "ci_low",
    "ci_high",
    "verdict",
    "latest_text",
    "reference_text",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MIN_CHART_BYTES = 5_000  # a chart with axes, bars and labels; an empty canvas is far smaller


def training_run(artifact: Path) -> pd.Series:
    return pd.Series(
        {
            "run_id": RUN_ID,
            "artifact_path": str(artifact),
            "base_model": "all-MiniLM-L6-v2",
            "device": "cpu",
            "precision": "fp32",
            "steps": 12,
            "loss_curve": json.dumps([[step, 2.0 / step] for step in range(1, 13)]),
            "n_train_pairs": 96,
            "trained_at": "2026-11-28T10:00:00+00:00",
            "reused": False,
        }
    )


def gate_rows(failing: bool = False) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "batch": ["training_pairs", "training_pairs", "pairs"],
            "expectation": [
                "expect_table_row_count_to_be_between",
                "expect_column_values_to_not_be_null",
                "expect_column_mean_to_be_between",
            ],
            "column_name": [None, "anchor_text", "n_negatives"],
            "kwargs": ["{}", "{}", "{}"],
            "success": [True, not failing, True],
            "observed_value": ["96", "0 unexpected of 96", "0.98"],
            "unexpected_percent": [None, 0.0, None],
        }
    )


def retrieval_metrics(tuned_run: str = RUN_ID) -> pd.DataFrame:
    """Both parts of two sets; the test part's tuned gain over base is +0.06 (heldout, a 95% interval
    clear of 0) and +0.02 (tatqa, an interval holding 0), and a comparison model is scored beside them."""
    rows = []
    for eval_set, base, tuned, bm25, interval in (
        ("heldout_pairs", 0.30, 0.36, 0.28, (0.03, 0.09)),
        ("tatqa_dev", 0.70, 0.72, 0.80, (-0.01, 0.05)),
    ):
        for part, shift in (("tune", 0.05), ("test", 0.0)):
            for model, value in (
                ("base", base),
                ("tuned", tuned),
                ("tuned@128", tuned - 0.01),
                ("all-mpnet-base-v2", base + 0.01),
                ("bm25", bm25),
                ("base+bm25", 0.5),
                ("tuned+bm25", 0.6),
            ):
                run = {"tuned": tuned_run, "tuned+bm25": f"{tuned_run}+bm25"}.get(model, model)
                difference = (tuned - base, *interval) if model == "tuned" else (None, None, None)
                rows.append((model, run, eval_set, part, "ndcg@10", value + shift, 50, None, *difference))
    rows += [
        ("base", "base", "stsb", "test", "spearman", 0.82, 1379, None, None, None, None),
        ("tuned", tuned_run, "stsb", "test", "spearman", 0.81, 1379, None, None, None, None),
    ]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def regression_checks(tuned_run: str = RUN_ID, forgetting_passed: bool = True) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "check_name": ["retrieval", "forgetting"],
            "model_run_id": [tuned_run, tuned_run],
            "eval_set": ["heldout_pairs", "stsb"],
            "metric": ["ndcg@10", "spearman"],
            "base_value": [0.30, 0.82],
            "tuned_value": [0.36, 0.81 if forgetting_passed else 0.70],
            "max_regression": [0.02, 0.02],
            "passed": [True, forgetting_passed],
            "reason": [
                "tuned ndcg@10 0.36 is within 0.02 of base 0.3",
                "tuned spearman 0.81 is within 0.02 of base 0.82"
                if forgetting_passed
                else "tuned spearman 0.7 is more than 0.02 below base 0.82",
            ],
        }
    )


def run_comparison(reference: str | None = REFERENCE_RUN) -> pd.DataFrame:
    """The latest run against `reference`: heldout_pairs better (+0.04, interval clear of 0), tatqa_dev
    within noise; one strategy with more pairs and one training setting changed."""
    rows = [
        (
            RUN_ID,
            reference,
            "metric",
            "tuned",
            "heldout_pairs",
            "test",
            "ndcg@10",
            50,
            0.36,
            0.32,
            0.04,
            0.01,
            0.07,
            "better",
            None,
            None,
        ),
        (
            RUN_ID,
            reference,
            "metric",
            "tuned",
            "tatqa_dev",
            "test",
            "ndcg@10",
            50,
            0.72,
            0.73,
            -0.01,
            -0.05,
            0.03,
            "within noise",
            None,
            None,
        ),
        (
            RUN_ID,
            reference,
            "pairs per strategy",
            None,
            None,
            None,
            "qa_turns",
            None,
            40,
            30,
            10,
            None,
            None,
            "changed",
            None,
            None,
        ),
        (
            RUN_ID,
            reference,
            "training setting",
            None,
            None,
            None,
            "learning_rate",
            None,
            None,
            None,
            None,
            None,
            None,
            "changed",
            "0.001",
            "0.0005",
        ),
    ]
    if reference is None:
        rows = [(*row[:9], None, None, None, None, "no reference", None, None) for row in rows[:2]]
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def write_report(tmp_path: Path, **overrides: pd.DataFrame) -> pd.DataFrame:
    frames = {
        "pairs": pd.DataFrame(
            {
                "pair_id": [f"p{i}" for i in range(60)] + ["p0", "p1"],  # two pairs with a second negative
                "strategy": ["qa_turns"] * 40 + ["filing_headings"] * 20 + ["qa_turns"] * 2,
            }
        ),
        "rejected": pd.DataFrame({"reason": ["too_short"] * 7 + ["near_duplicate"] * 3 + ["safe_harbour"]}),
        "gate": gate_rows(),
        "metrics": retrieval_metrics(),
        "checks": regression_checks(),
        "comparison": run_comparison(),
    } | overrides
    return write_run_report(
        training_run(tmp_path / "artifact"), docs_assets_dir=tmp_path / "assets", **frames
    )


def summary(rows: pd.DataFrame, section: str) -> str:
    return rows.set_index("section").loc[section, "summary"]


def test_every_section_is_a_valid_png_beside_the_artifact_and_in_the_docs_assets(tmp_path: Path) -> None:
    rows = write_report(tmp_path)

    assert rows["section"].tolist() == SECTIONS
    assert set(rows["run_id"]) == {RUN_ID}
    for section in SECTIONS:
        chart = tmp_path / "artifact" / REPORT_DIR / f"{section}.png"
        docs_chart = tmp_path / "assets" / DOCS_SUBDIR / f"{section}.png"
        data = chart.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > MIN_CHART_BYTES, section
        with Image.open(chart) as image:
            image.verify()  # the whole file decodes
        with Image.open(chart) as image:
            assert image.format == "PNG" and image.width >= 600 and image.height >= 100
        assert docs_chart.read_bytes() == data
    assert not list((tmp_path / "artifact" / REPORT_DIR).glob(".*.tmp"))  # no temporary file left


def test_the_page_shows_every_chart_with_its_figures(tmp_path: Path) -> None:
    rows = write_report(tmp_path)
    page = (tmp_path / "artifact" / REPORT_DIR / REPORT_PAGE).read_text()

    assert set(rows["report_path"]) == {str(tmp_path / "artifact" / REPORT_DIR / REPORT_PAGE)}
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", page) == [f"{section}.png" for section in SECTIONS]
    assert RUN_ID in page
    assert "| qa_turns | 40 | 42 |" in page and "| filing_headings | 20 | 20 |" in page
    assert "| too_short | 7 |" in page
    # the test part (the tune part scores 0.05 higher): base, tuned, bm25, the hybrids, the comparison model
    assert "| heldout_pairs | 50 | 0.3000 | 0.3600 | 0.2800 | 0.5000 | 0.6000 | 0.3100 |" in page
    assert "| heldout_pairs | 0.3600 | 0.3500 |" in page  # tuned beside its 128-dim prefix
    assert summary(rows, "pairs_per_strategy").startswith("60 pairs (62 examples")
    assert summary(rows, "quality_gate") == "3 of 3 expectations passed"
    assert summary(rows, "ndcg_at_10") == (
        "tuned vs base NDCG@10 on the test part: heldout_pairs +20.0% "
        "(+0.0600, 95% interval [+0.0300, +0.0900]), "
        "tatqa_dev +2.9% (+0.0200, 95% interval [-0.0100, +0.0500], within noise)"
    )
    assert summary(rows, "regression_checks") == "every check passed: the run may be published"
    assert summary(rows, "loss_curve") == "12 steps; training loss 2.0000 at step 1 -> 0.1667"
    assert summary(rows, "run_comparison") == (
        f"against run {REFERENCE_RUN} on the same test queries: "
        "heldout_pairs / tuned better, tatqa_dev / tuned within noise"
    )
    assert (
        "| heldout_pairs | tuned | test | 50 | 0.3600 | 0.3200 | 0.0400 | [0.0100, 0.0700] | better |" in page
    )
    assert "| training setting | learning_rate | 0.001 | 0.0005 |" in page
    assert "| pairs per strategy | qa_turns | 40 | 30 |" in page


def test_failures_are_named(tmp_path: Path) -> None:
    rows = write_report(
        tmp_path, gate=gate_rows(failing=True), checks=regression_checks(forgetting_passed=False)
    )

    assert summary(rows, "quality_gate") == (
        "2 of 3 expectations passed; failed: column_values_to_not_be_null (anchor_text)"
    )
    assert summary(rows, "regression_checks") == (
        "failed: forgetting: tuned spearman 0.7 is more than 0.02 below base 0.82"
    )
    page = (tmp_path / "artifact" / REPORT_DIR / REPORT_PAGE).read_text()
    assert "| forgetting | stsb | spearman | 0.8200 | 0.7000 | 0.0200 | FAIL |" in page


def test_scores_of_another_run_are_not_reported_as_this_runs(tmp_path: Path) -> None:
    """retrieval_metrics not rebuilt after training (e.g. `dbt run --select training_runs run_report`)
    still holds the previous run's scores: the report says so instead of charting them."""
    rows = write_report(
        tmp_path,
        metrics=retrieval_metrics("lora-older"),
        checks=regression_checks("lora-older"),
        comparison=run_comparison().assign(latest_run_id="lora-older"),
    )

    assert summary(rows, "ndcg_at_10") == (
        "retrieval_metrics has no scores of this run (it holds run lora-older): "
        "build retrieval_metrics after training_runs"
    )
    assert summary(rows, "regression_checks").startswith("regression_check has no scores of this run")
    assert summary(rows, "run_comparison") == (
        "run_comparison does not compare this run (lora-older): build it after training_runs"
    )
    page = (tmp_path / "artifact" / REPORT_DIR / REPORT_PAGE).read_text()
    assert "0.3600" not in page


def test_text_from_the_tables_cannot_break_the_page(tmp_path: Path) -> None:
    """Values reach the page's tables as text: a pipe or a line break stays inside its cell, and a
    dollar sign is drawn as text in the charts, not parsed as TeX."""
    rows = write_report(
        tmp_path,
        rejected=pd.DataFrame({"reason": ["a | b\nc", "cost $x^{2$ and $5"]}),
        pairs=pd.DataFrame({"pair_id": ["p1"], "strategy": ["$\\frac{a}$"]}),
    )

    page = (tmp_path / "artifact" / REPORT_DIR / REPORT_PAGE).read_text()
    assert "| a \\| b c | 1 |" in page
    assert len(rows) == len(SECTIONS)


def test_the_docs_show_the_charts_from_the_asset_path_the_report_writes() -> None:
    """The run_report description embeds each section's chart from the folder dbt copies into the docs
    site: the first `asset-paths` entry, under run_report/."""
    project = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())
    [model] = yaml.safe_load((PROJECT_ROOT / "python_models" / "_run_report.yml").read_text())["models"]
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", model["description"])

    assert images == [f"{project['asset-paths'][0]}/{DOCS_SUBDIR}/{section}.png" for section in SECTIONS]


def test_a_first_run_has_no_reference_to_compare_with(tmp_path: Path) -> None:
    rows = write_report(tmp_path, comparison=run_comparison(reference=None))

    assert summary(rows, "run_comparison").startswith("no reference run")
    assert (tmp_path / "artifact" / REPORT_DIR / "run_comparison.png").read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize("empty", ["rejected", "gate"])
def test_an_empty_input_draws_a_chart_saying_so(tmp_path: Path, empty: str) -> None:
    frames = {"rejected": pd.DataFrame({"reason": []}), "gate": gate_rows().iloc[0:0]}
    rows = write_report(tmp_path, **{empty: frames[empty]})

    section = {"rejected": "quarantine_reasons", "gate": "quality_gate"}[empty]
    assert summary(rows, section) in {"no chunk was quarantined", "0 of 0 expectations passed"}
    assert (tmp_path / "artifact" / REPORT_DIR / f"{section}.png").read_bytes().startswith(PNG_MAGIC)


def test_the_charts_go_to_the_asset_path_unless_the_environment_names_another_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())
    monkeypatch.delenv("VECTORFIN_DOCS_ASSETS", raising=False)
    assert StateLocations.from_env().docs_assets_dir == PROJECT_ROOT / project["asset-paths"][0]
    monkeypatch.setenv("VECTORFIN_DOCS_ASSETS", str(tmp_path / "docs" / ".." / "assets"))
    assert StateLocations.from_env().docs_assets_dir == tmp_path / "assets"
