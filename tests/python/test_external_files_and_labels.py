"""Evaluation files read as dbt sources, labelled pairs split by group, and the evaluation sets built
from them: real dbt on the demo corpus with small TAT-QA, ConvFinQA and STS-B files written here (in
the layouts of ../shared/data, hand-written text), then with the files absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vectorfin.dbt_workspace import DEMO_CORPUS, DbtResult, DbtWorkspace, run_dbt

SQL_ONLY = ["build", "--exclude", "training_runs+"]
# ctx-alpha and ctx-bravo fall in the training half (stable_fraction('tatqa_dev|<ctx>') >= 0.5), ctx-charlie
# and ctx-echo in the held-apart half at the default labelled_eval_fraction of 0.5.
TRAIN_CONTEXTS, EVAL_CONTEXTS = ("ctx-alpha", "ctx-bravo"), ("ctx-charlie", "ctx-echo")


def tatqa_context(uid: str, subject: str) -> dict:
    return {
        "table": {
            "uid": uid,
            "table": [["", "2019", "2018"], [f"{subject} revenue", "$ 1,452.4", "$ 1,146.2"]],
        },
        "paragraphs": [
            {
                "uid": f"{uid}-p1",
                "order": 1,
                "text": f"{subject} sales are made under fixed-price contracts.",
            },
            {
                "uid": f"{uid}-p2",
                "order": 2,
                "text": f"On a cost-plus contract {subject} is paid costs plus a fee.",
            },
        ],
        "questions": [
            {
                "uid": f"{uid}-q1",
                "question": f"How is a cost-plus contract of {subject} paid?",
                "answer": "costs plus a fee",
                "answer_from": "text",
                "rel_paragraphs": ["2"],
            },
            {
                "uid": f"{uid}-q2",
                "question": f"What was {subject} revenue in 2019?",
                "answer": 1452.4,
                "answer_from": "table",
                "rel_paragraphs": [],
            },
        ],
    }


CONVFINQA = {
    "dev": [
        {
            "id": "Single_ABC/2015/page_10.pdf-1",
            "doc": {
                "pre_text": "net sales rose on higher volumes .",
                "post_text": "margins held .",
                "table": {"2015": {"net sales": 10.5, "operating income": 2.1}, "2014": {"net sales": 9.0}},
            },
            "dialogue": {"conv_questions": ["what were net sales in 2015?", "and in 2014?"]},
        },
        {
            "id": "Double_ABC/2015/page_10.pdf",
            "doc": {
                "pre_text": "net sales rose on higher volumes .",
                "post_text": "margins held .",
                "table": {},
            },
            "dialogue": {"conv_questions": ["what was the change in net sales?"]},
        },
    ]
}
STSB_TEST = (
    "main-captions\tMSRvid\t2012test\t0001\t5.000\tA plane is taking off.\tAn air plane is taking off.\n"
    "main-news\theadlines\t2013\t0002\t0.400\tStocks fell on rate fears.\tA cat sleeps.\textra\tfields\n"
)


def write_files(root: Path) -> tuple[Path, Path]:
    evals, general = root / "evals", root / "general"
    (evals / "tatqa_dev").mkdir(parents=True)
    contexts = [tatqa_context(uid, uid.split("-")[1].title()) for uid in (*TRAIN_CONTEXTS, *EVAL_CONTEXTS)]
    (evals / "tatqa_dev" / "tatqa_dataset_dev.json").write_text(json.dumps(contexts))
    (evals / "convfinqa_dev").mkdir()
    (evals / "convfinqa_dev" / "convfinqa_dev.json").write_text(json.dumps(CONVFINQA))
    (general / "stsbenchmark").mkdir(parents=True)
    (general / "stsbenchmark" / "sts-test.csv").write_text(STSB_TEST)
    return evals, general


class Built:
    def __init__(self, workspace: DbtWorkspace, result: DbtResult) -> None:
        self.workspace, self.result = workspace, result


@pytest.fixture(scope="module")
def with_files(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("external_files")
    evals, general = write_files(root)
    workspace = DbtWorkspace.create(
        root, extra_env={"VECTORFIN_EVALS_DIR": str(evals), "VECTORFIN_GENERAL_DIR": str(general)}
    )
    workspace.load_corpus(DEMO_CORPUS)
    return Built(workspace, run_dbt(SQL_ONLY, workspace.env, vars={"tatqa_training": True}))


def test_files_become_typed_staging_rows(with_files: Built) -> None:
    assert with_files.result.ok, with_files.result.summary()
    query = with_files.workspace.query
    [(table_text,)] = query(
        "select passage_text from stg_external_files__tatqa_passages where passage_id = 'ctx-alpha'"
    )
    assert table_text == "2019 | 2018\nAlpha revenue | $ 1,452.4 | $ 1,146.2"
    assert query(
        "select answer_passage_ids from stg_external_files__tatqa_questions "
        "where question_id = 'ctx-alpha-q1'"
    ) == [(["ctx-alpha-p2"],)]
    # ConvFinQA's column-wise table becomes a header of columns and one line per row label
    pages = dict(query("select conversation_id, page_text from stg_external_files__convfinqa_conversations"))
    assert pages["Single_ABC/2015/page_10.pdf-1"] == (
        "net sales rose on higher volumes .\n | 2015 | 2014\nnet sales | 10.5 | 9.0\n"
        "operating income | 2.1 | \nmargins held ."
    )
    assert query("select distinct page_id from stg_external_files__convfinqa_conversations") == [
        ("ABC/2015/page_10.pdf",)
    ]
    # the row with two extra fields keeps its first seven
    assert query("select score, sentence_2 from stg_external_files__stsb_pairs order by stsb_pair_id") == [
        (5.0, "An air plane is taking off."),
        (0.4, "A cat sleeps."),
    ]


def test_labelled_pairs_train_on_one_half_of_the_contexts_and_evaluate_on_the_other(
    with_files: Built,
) -> None:
    query = with_files.workspace.query

    def contexts(sql: str) -> set[str]:
        """The contexts of the labelled passages `sql` selects ('labelled:tatqa_dev:ctx-alpha-p2')."""
        return {re.sub(r"-p\d+$", "", passage.split(":")[2]) for (passage,) in query(sql)}

    trained = contexts(
        "select positive_chunk_id from training_pairs where positive_chunk_id like 'labelled:tatqa_dev:%'"
    )
    evaluated = contexts("select doc_id from eval_corpus where eval_set = 'tatqa_dev'")
    assert (trained, evaluated) == (set(TRAIN_CONTEXTS), set(EVAL_CONTEXTS))
    # every held-apart question is a query, with its answer (a paragraph, or the table) as relevant
    assert set(query("select query_text from eval_queries where eval_set = 'tatqa_dev'")) == {
        (f"{question} {subject}{tail}",)
        for subject in ("Charlie", "Echo")
        for question, tail in (
            ("How is a cost-plus contract of", " paid?"),
            ("What was", " revenue in 2019?"),
        )
    }
    assert query("select count(*) from eval_qrels where eval_set = 'tatqa_dev'") == [(4,)]


def test_evaluation_never_asks_what_training_saw(with_files: Built) -> None:
    """No held-out query is the text of a training anchor (the risk-factor descriptions anchor pairs of
    every company), and the probes and ConvFinQA are evaluation sets of their own."""
    query = with_files.workspace.query
    assert query(
        "select count(*) from eval_queries as queries inner join training_pairs as pairs "
        "on queries.query_text = pairs.anchor_text"
    ) == [(0,)]
    sets = dict(query("select eval_set, count(*) from eval_queries group by eval_set"))
    assert sets["convfinqa_dev"] == 2 and sets["probe_euphemisms"] >= 40 and sets["probe_risk_factors"] >= 15


def test_tatqa_trains_only_when_asked(with_files: Built, tmp_path: Path) -> None:
    workspace = with_files.workspace.copy_to(tmp_path)
    result = run_dbt(
        ["build", "--select", "int_pairs__labelled_questions+", "--exclude", "training_runs+"], workspace.env
    )
    assert result.ok, result.summary()
    assert workspace.query(
        "select count(*) from training_pairs where positive_chunk_id like 'labelled:tatqa_dev:%'"
    ) == [(0,)]
    # the held-apart half is evaluated either way
    assert workspace.query("select count(*) from eval_queries where eval_set = 'tatqa_dev'") == [(4,)]


def test_absent_files_give_no_rows_and_the_same_columns(tmp_path: Path) -> None:
    workspace = DbtWorkspace.create(
        tmp_path,
        extra_env={"VECTORFIN_EVALS_DIR": str(tmp_path / "none"), "VECTORFIN_GENERAL_DIR": str(tmp_path)},
    )
    workspace.load_corpus(DEMO_CORPUS)
    result = run_dbt(["run", "--select", "path:models/staging/external_files"], workspace.env)

    assert result.ok, result.summary()
    assert "no file at" in result.stdout
    for model, columns in {
        "stg_external_files__tatqa_questions": ["context_id", "question_id", "question_text", "answer_from"],
        "stg_external_files__convfinqa_conversations": [
            "conversation_id",
            "page_id",
            "first_question",
            "page_text",
        ],
        "stg_external_files__stsb_pairs": [
            "stsb_pair_id",
            "split",
            "genre",
            "score",
            "sentence_1",
            "sentence_2",
        ],
    }.items():
        described = workspace.query(f"select column_name from (describe {model})")
        assert [name for (name,) in described][: len(columns)] == columns
        assert workspace.query(f"select count(*) from {model}") == [(0,)]
