"""Incremental curation gives the tables a full rebuild gives.

Day 1 loads the demo corpus with two calls held back, one call holding a turn a later correction removes
and one with a draft company name; day 1 builds. Day 2 loads the demo corpus as it is (two new calls, one
replaced document losing a chunk, one whose every chunk gets a new version) and two new calls copying an
old call's turns: one later (its copies must be quarantined against history: an exact and a near
duplicate of old chunks) and one earlier (its copy is now the first to become public: kept, and the old
chunk quarantined instead). Day 2 builds incrementally. A full build of the same warehouse into a fresh
DuckDB file must give the same rows in every table.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vectorfin.dbt_workspace import DEMO_CORPUS, ML_MODELS_EXCLUDE, DbtResult, DbtWorkspace, run_dbt

HELD_BACK_CALLS = {"BLUO_q4_2023", "CALD_q2_2024"}
TRIMMED_CALL = "NRTH_q4_2022"  # day 1 holds one more turn, which day 2's version no longer has
RENAMED_CALL = "BLUO_q2_2023"  # day 1 has a draft company name, corrected on day 2
DRAFT_COMPANY = "Blue Oak Software (draft)"
COPIED_CALL = "NRTH_q3_2022"  # an old call whose turns day 2's new calls copy
LATER_COPY = "NRTH_q2_2023"  # published after COPIED_CALL: its copies are duplicates of old chunks
EARLIER_COPY = "NRTH_q1_2021"  # published before it: its copy becomes the first public one
EXACT_TURN, NEAR_TURN, EARLIER_TURN = 2, 3, 6  # prepared remarks, prepared remarks, an answer
INCREMENTAL_MODELS = (
    "stg_raw__transcript_chunks",
    "stg_raw__filing_chunks",
    "int_chunks_unioned",
    "int_chunk_content_tokens",
    "int_chunk_minhash",
    "int_chunks_curated",
)
TURNS = Path("transcripts/speaker_turns")


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")


def _day_one_corpus(root: Path) -> Path:
    corpus = root / "day_one"
    shutil.copytree(DEMO_CORPUS, corpus)
    calls = [
        call for call in _read_jsonl(corpus / TURNS / "calls.jsonl") if call["call_id"] not in HELD_BACK_CALLS
    ]
    for call in calls:
        if call["call_id"] == RENAMED_CALL:
            call["company"] = DRAFT_COMPANY
    turns = [
        turn for turn in _read_jsonl(corpus / TURNS / "turns.jsonl") if turn["call_id"] not in HELD_BACK_CALLS
    ]
    last = max(turn["turn_idx"] for turn in turns if turn["call_id"] == TRIMMED_CALL)
    turns.append(
        {
            "call_id": TRIMMED_CALL,
            "turn_idx": last + 1,
            "section": "q_and_a",
            "speaker": "Dana Whitcomb",
            "speech": "This concludes a draft transcript line, about freight volumes in the northern region, "
            "that the corrected version of the transcript no longer contains.",
        }
    )
    _write_jsonl(corpus / TURNS / "calls.jsonl", calls)
    _write_jsonl(corpus / TURNS / "turns.jsonl", turns)
    return corpus


def _copying_calls_corpus(root: Path) -> Path:
    """Two new calls of the same company copying COPIED_CALL's turns: one later, one earlier."""
    corpus = root / "copies"
    calls = {call["call_id"]: call for call in _read_jsonl(DEMO_CORPUS / TURNS / "calls.jsonl")}
    turns = {
        turn["turn_idx"]: turn
        for turn in _read_jsonl(DEMO_CORPUS / TURNS / "turns.jsonl")
        if turn["call_id"] == COPIED_CALL
    }
    near_copy = turns[NEAR_TURN]["speech"].replace(" the ", " our ", 1)
    assert near_copy != turns[NEAR_TURN]["speech"]
    new_calls = [
        dict(calls[COPIED_CALL], call_id=LATER_COPY, fiscal_quarter=2, fiscal_year=2023),
        dict(calls[COPIED_CALL], call_id=EARLIER_COPY, fiscal_quarter=1, fiscal_year=2021),
    ]
    new_turns = [
        dict(turns[EXACT_TURN], call_id=LATER_COPY, turn_idx=0),
        dict(turns[NEAR_TURN], call_id=LATER_COPY, turn_idx=1, speech=near_copy),
        dict(turns[EARLIER_TURN], call_id=EARLIER_COPY, turn_idx=0),
    ]
    _write_jsonl(corpus / TURNS / "calls.jsonl", new_calls)
    _write_jsonl(corpus / TURNS / "turns.jsonl", new_turns)
    return corpus


def _chunk_ids(workspace: DbtWorkspace, call_id: str, turn_idx: int) -> list[str]:
    rows = workspace.query(
        "select chunk_id from int_chunks_unioned where doc_id like ? and turn_idx = ? order by chunk_idx",
        [f"%{call_id}%", turn_idx],
    )
    return [chunk_id for (chunk_id,) in rows]


def _seed_and_run(workspace: DbtWorkspace) -> DbtResult:
    """A full build without the tests (quicker than `dbt build`; day 2 runs those)."""
    seeded = run_dbt(["seed"], workspace.env)
    return run_dbt(["run", *ML_MODELS_EXCLUDE], workspace.env) if seeded.ok else seeded


@pytest.mark.slow
def test_an_incremental_day_gives_the_tables_of_a_full_rebuild(tmp_path: Path):
    daily = DbtWorkspace.without_external_files(tmp_path / "daily")
    daily.load_corpus(_day_one_corpus(tmp_path))
    day_one = _seed_and_run(daily)
    assert day_one.ok, day_one.summary()
    [(removed_chunk,)] = daily.query(
        "select chunk_id from int_chunks_curated where chunk_text like 'This concludes a draft transcript%'"
    )
    [(draft_rows,)] = daily.query(
        "select count(*) from int_chunks_curated where company = ?", [DRAFT_COMPANY]
    )
    assert draft_rows > 0

    daily.load_corpus(DEMO_CORPUS)
    daily.load_corpus(_copying_calls_corpus(tmp_path))
    day_two = run_dbt(["build", *ML_MODELS_EXCLUDE], daily.env)
    assert day_two.ok, day_two.summary()
    compiled = {
        result["unique_id"].split(".")[-1]: result.get("compiled_code") or "" for result in day_two.results
    }
    for model in INCREMENTAL_MODELS:  # day 2 really ran incrementally
        assert "not exists" in compiled[model] and "as built" in compiled[model], model

    rebuilt = DbtWorkspace(
        tmp_path / "rebuilt", dict(daily.env, VECTORFIN_DUCKDB_PATH=str(tmp_path / "rebuilt.duckdb"))
    )
    full = _seed_and_run(rebuilt)
    assert full.ok, full.summary()

    incremental_tables, full_tables = daily.table_fingerprints(), rebuilt.table_fingerprints()
    assert set(incremental_tables) == set(full_tables)
    differing = {name for name in full_tables if incremental_tables[name] != full_tables[name]}
    assert not differing, {name: (incremental_tables[name], full_tables[name]) for name in differing}

    # the rules held against all history, not just the new day's chunks
    rejected = dict(
        (chunk_id, (reason, duplicate_of))
        for chunk_id, reason, duplicate_of in daily.query(
            "select chunk_id, reason, duplicate_of_chunk_id from rejected_chunks"
        )
    )
    curated = {chunk_id for (chunk_id,) in daily.query("select chunk_id from int_chunks_curated")}
    [old_exact] = _chunk_ids(daily, COPIED_CALL, EXACT_TURN)
    [new_exact] = _chunk_ids(daily, LATER_COPY, 0)
    assert rejected[new_exact] == ("exact_duplicate", old_exact) and old_exact in curated
    [old_near] = _chunk_ids(daily, COPIED_CALL, NEAR_TURN)
    [new_near] = _chunk_ids(daily, LATER_COPY, 1)
    assert rejected[new_near] == ("near_duplicate", old_near) and old_near in curated
    [old_first] = _chunk_ids(daily, COPIED_CALL, EARLIER_TURN)
    [earlier_copy] = _chunk_ids(daily, EARLIER_COPY, 0)
    assert rejected[old_first] == ("exact_duplicate", earlier_copy)
    assert earlier_copy in curated and old_first not in curated

    # replaced documents: the removed chunk is gone from every model, the renamed chunks carry the new name
    for model in INCREMENTAL_MODELS:
        assert daily.query(f"select count(*) from {model} where chunk_id = ?", [removed_chunk]) == [(0,)], (
            model
        )
    assert daily.query("select count(*) from int_chunks_unioned where company = ?", [DRAFT_COMPANY]) == [(0,)]
