"""The package code behind the project's thin dbt Python models: external eval sets and the GX gate."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from vectorfin.external_evals import (
    CORPUS_COLUMNS,
    QRELS_COLUMNS,
    QUERY_COLUMNS,
    convfinqa_page_id,
    load_external_evals,
    resolve_evals_dir,
)
from vectorfin.quality import QualityGateError, require_passed_gate, run_training_pairs_gate

TATQA_CONTEXT = {
    "table": {"uid": "t1", "table": [["", "2019", "2018"], ["Revenue", "$ 1,452.4", "$ 1,146.2"]]},
    "paragraphs": [
        {"uid": "p1", "order": 1, "text": "Sales by contract type: most contracts are fixed-price."},
        {"uid": "p2", "order": 2, "text": "On a cost-plus contract we are paid allowable costs plus a fee."},
    ],
    "questions": [
        {
            "uid": "q1",
            "question": "How is a cost-plus contract paid?",
            "answer_from": "text",
            "rel_paragraphs": ["2"],
        },
        {"uid": "q2", "question": "What was revenue in 2019?", "answer_from": "table", "rel_paragraphs": []},
    ],
}
CONVFINQA = {
    "dev": [
        {
            "id": "Single_ABC/2015/page_10.pdf-1",
            "doc": {
                "pre_text": ["net sales rose ."],
                "post_text": "margins held .",
                "table": [["", "2015"], ["sales", "10"]],
            },
            "dialogue": {"conv_questions": ["what were net sales in 2015?", "and in 2014?"]},
        },
        {
            "id": "Double_ABC/2015/page_10.pdf",
            "doc": {"pre_text": "net sales rose .", "post_text": "margins held .", "table": []},
            "dialogue": {"conv_questions": ["what was the change in net sales?"]},
        },
    ]
}


def write_evals(folder: Path) -> Path:
    (folder / "tatqa_dev").mkdir(parents=True)
    (folder / "tatqa_dev" / "tatqa_dataset_dev.json").write_text(json.dumps([TATQA_CONTEXT]))
    (folder / "convfinqa_dev").mkdir()
    (folder / "convfinqa_dev" / "convfinqa_dev.json").write_text(json.dumps(CONVFINQA))
    return folder


def test_external_evals_take_text_questions_and_whole_pages(tmp_path: Path) -> None:
    frames = load_external_evals(write_evals(tmp_path / "evals"))

    queries = frames.queries.set_index("query_id")
    assert list(queries.loc["q1"]) == ["tatqa_dev", "How is a cost-plus contract paid?"]
    assert "q2" not in queries.index  # answered from the table: not a text-retrieval query
    qrels = set(map(tuple, frames.qrels.to_numpy().tolist()))
    assert ("tatqa_dev", "q1", "p2", 1) in qrels
    assert ("convfinqa_dev", "Double_ABC/2015/page_10.pdf", "ABC/2015/page_10.pdf", 1) in qrels
    corpus = frames.corpus.set_index(["eval_set", "doc_id"])["doc_text"]
    assert corpus[("tatqa_dev", "t1")] == "2019 | 2018\nRevenue | $ 1,452.4 | $ 1,146.2"
    assert len(frames.corpus[frames.corpus.eval_set == "convfinqa_dev"]) == 1  # one page, asked twice
    assert corpus[("convfinqa_dev", "ABC/2015/page_10.pdf")].startswith("net sales rose .\n2015\nsales | 10")


def test_external_evals_are_empty_but_typed_without_files(tmp_path: Path) -> None:
    frames = load_external_evals(tmp_path / "missing")

    assert tuple(frames.queries.columns) == QUERY_COLUMNS and frames.queries.empty
    assert tuple(frames.corpus.columns) == CORPUS_COLUMNS and frames.corpus.empty
    assert tuple(frames.qrels.columns) == QRELS_COLUMNS and str(frames.qrels["relevance"].dtype) == "int32"


def test_evals_dir_is_relative_to_the_project_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VECTORFIN_EVALS_DIR", raising=False)
    assert resolve_evals_dir().name == "evals"
    assert resolve_evals_dir("/abs/evals") == Path("/abs/evals")
    assert convfinqa_page_id("Single_MRO/2007/page_134.pdf-3") == "MRO/2007/page_134.pdf"


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
    counts them with 0 negatives, so the per-pair check fails instead of passing on the survivors."""
    pairs = training_pairs()
    strategies = ["qa_turns", "filing_headings"]
    assert run_training_pairs_gate(pairs, strategies=strategies, training_pair_ids=pairs["pair_id"])[
        "success"
    ].all()

    results = run_training_pairs_gate(
        pairs,
        strategies=strategies,
        training_pair_ids=[*pairs["pair_id"], "pair_without_negative"],
        raise_on_failure=False,
    )

    failed = results[~results["success"]]
    assert list(failed["column_name"]) == ["n_negatives"]
    assert "1 unexpected of 41" in failed["observed_value"].iloc[0]
    with pytest.raises(QualityGateError, match=r"failed 1 of \d+ quality expectations"):
        require_passed_gate(results)


def test_stored_gate_results_must_exist_and_pass() -> None:
    with pytest.raises(QualityGateError, match="stored no results"):
        require_passed_gate(pd.DataFrame({"success": []}))
