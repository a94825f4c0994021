"""Chunking rules: whole turns when they fit, sentence then word cuts when they do not, budgets kept."""

from __future__ import annotations

import pytest

from vectorfin.loading.chunking import chunk_units, count_tokens, split_sentences

BUDGET = 48


def _revenue_sentences(count: int) -> list[str]:
    return [
        f"In quarter {number}, revenue in the U.S. segment rose 3.5% to ${number}12.4 million."
        for number in range(count)
    ]


def test_sentence_splitter_ignores_abbreviations_initials_and_decimals() -> None:
    text = (
        "Revenue rose 3.5% in the U.S. Government segment. Blue Oak Software, Inc. reported growth! "
        'Mr. Whitcomb agreed, e.g. on pricing. Is that right? "Yes." Margins were 58.3%'
    )

    assert split_sentences(text) == [
        "Revenue rose 3.5% in the U.S. Government segment.",
        "Blue Oak Software, Inc. reported growth!",
        "Mr. Whitcomb agreed, e.g. on pricing.",
        "Is that right?",
        '"Yes."',
        "Margins were 58.3%",
    ]


def test_a_turn_that_fits_stays_whole() -> None:
    turn = "Thanks, Jordan. About 85% of our truckload revenue is under contract.  "

    chunks = chunk_units([turn], [0], token_budget=BUDGET)

    assert [chunk.text for chunk in chunks] == [turn]


def test_long_text_is_cut_at_sentence_ends_within_the_budget() -> None:
    sentences = _revenue_sentences(12)
    turn = " ".join(sentences)
    assert count_tokens(turn) > BUDGET

    chunks = chunk_units([turn], [0], token_budget=BUDGET)

    assert len(chunks) > 1
    assert all(count_tokens(chunk.text) <= BUDGET for chunk in chunks)
    assert all(chunk.text.endswith("million.") for chunk in chunks)
    assert " ".join(chunk.text for chunk in chunks) == turn


def test_a_sentence_over_the_budget_is_cut_between_words() -> None:
    sentence = " ".join(f"segment{number} grew" for number in range(60)) + "."

    chunks = chunk_units([sentence], [0], token_budget=BUDGET)

    assert len(chunks) > 1
    assert all(count_tokens(chunk.text) <= BUDGET for chunk in chunks)
    assert " ".join(chunk.text for chunk in chunks).split() == sentence.split()


def test_lines_of_a_long_page_are_packed_back_together() -> None:
    page = "\n".join(["Total revenue", "$", "226,900", "$", "185,984"] * 20)

    chunks = chunk_units([page], [0], token_budget=BUDGET)

    assert len(chunks) > 1
    assert all(count_tokens(chunk.text) <= BUDGET and "\n" in chunk.text for chunk in chunks)
    assert "\n".join(chunk.text for chunk in chunks) == page


def test_sentences_merge_within_a_speaker_run_only() -> None:
    texts = ["Revenue grew 4%.", "Margins held.", "What about pricing?", "Pricing was flat."]

    chunks = chunk_units(texts, groups=[0, 0, 1, 2], token_budget=BUDGET)

    assert [(chunk.first_unit, chunk.text) for chunk in chunks] == [
        (0, "Revenue grew 4%. Margins held."),
        (2, "What about pricing?"),
        (3, "Pricing was flat."),
    ]


def test_a_run_of_sentences_is_cut_when_the_budget_is_reached() -> None:
    sentences = _revenue_sentences(8)

    chunks = chunk_units(sentences, groups=[0] * len(sentences), token_budget=BUDGET)

    assert len(chunks) > 1
    assert all(count_tokens(chunk.text) <= BUDGET for chunk in chunks)
    assert " ".join(chunk.text for chunk in chunks) == " ".join(sentences)


def test_empty_and_blank_units_still_make_a_chunk() -> None:
    chunks = chunk_units(["", "   ", "Operator line."], groups=[0, 1, 2], token_budget=BUDGET)

    assert [chunk.text for chunk in chunks] == ["", "   ", "Operator line."]


def test_budget_must_leave_room_for_text() -> None:
    with pytest.raises(ValueError, match="special tokens"):
        chunk_units(["text"], [0], token_budget=2)
