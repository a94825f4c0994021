"""The loader's sentence splitter against pysbd on real text: agreement, speed and chunk counts.

The loader splits a paragraph into sentences only when the paragraph exceeds the token budget
(`vectorfin.loading.chunking`). This compares its rule-based splitter with pysbd's (Golden Rules
English segmenter) on paragraphs of `../shared/data`: speaker turns for transcripts, 10-K items and
filing pages for filings, a stable hash sample of paragraphs holding `--sentences` sentences (as the
project's splitter counts them) per family. It reports

- agreement: the sentence boundaries inside each paragraph, pysbd's against the project's
  (precision, recall, identical paragraphs), and a stable sample of disagreements to judge by eye;
- speed: paragraphs of the sample split per second, each splitter alone;
- chunks: every unit of a stable sample of documents chunked at 256 word pieces with each splitter,
  with the count of sentences still over the budget (cut at word boundaries instead).

Prints the figures and writes benchmarks/results/sentence_splitter.json (and the disagreements to
benchmarks/results/sentence_splitter_disagreements.txt).

    .venv/bin/python benchmarks/sentence_splitter.py --data ../shared/data --sentences 2000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pysbd

from vectorfin.config import PROJECT_ROOT
from vectorfin.loading import chunking
from vectorfin.loading.readers import DATASETS
from vectorfin.loading.records import Document

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "sentence_splitter.json"
DISAGREEMENTS = RESULTS.with_name("sentence_splitter_disagreements.txt")
FAMILIES = {"transcripts": ("speaker_turns",), "filings": ("edgar_10k", "filing_pages")}
TOKEN_BUDGET = 256
MIN_PARAGRAPH_CHARS = 40

Spans = Callable[[str, int, int | None], list[tuple[int, int]]]


def pysbd_spans() -> Spans:
    """pysbd as a drop-in for chunking.sentence_spans: (start, end) within text[start:end], stripped."""
    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)

    def spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
        end = len(text) if end is None else end
        found = []
        for span in segmenter.segment(text[start:end]):
            first, last = start + span.start, start + span.end
            while first < last and text[first].isspace():
                first += 1
            while last > first and text[last - 1].isspace():
                last -= 1
            if first < last:
                found.append((first, last))
        return found

    return spans


def stable_key(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def read_documents(data: Path, dataset_names: tuple[str, ...]) -> list[Document]:
    documents: list[Document] = []
    for dataset in DATASETS:
        if dataset.name in dataset_names:
            documents.extend(dataset.read(data / dataset.folder, []))
    return documents


def paragraphs(documents: list[Document]) -> Iterator[tuple[str, str]]:
    """(key, paragraph) for every line of every unit, the unit the chunker splits into sentences."""
    for document in documents:
        for index, unit in enumerate(document.units):
            for line in unit.text.splitlines():
                line = line.strip()
                if len(line) >= MIN_PARAGRAPH_CHARS:
                    yield stable_key(document.doc_id, index, line), line


def sample_paragraphs(documents: list[Document], sentences: int) -> list[str]:
    """Paragraphs in hash order until they hold `sentences` sentences (the project's count)."""
    sample, count = [], 0
    for _, paragraph in sorted(paragraphs(documents)):
        sample.append(paragraph)
        count += len(chunking.sentence_spans(paragraph))
        if count >= sentences:
            break
    return sample


def boundaries(spans: list[tuple[int, int]]) -> set[int]:
    """Where sentences end inside the paragraph (the last sentence's end is no boundary)."""
    return {end for _, end in spans[:-1]}


def agreement(sample: list[str], ours: Spans, theirs: Spans) -> tuple[dict[str, float], list[str]]:
    both = only_ours = only_theirs = identical = sentences_ours = sentences_theirs = 0
    disagreements = []
    for paragraph in sample:
        mine, other = ours(paragraph, 0, None), theirs(paragraph, 0, None)
        sentences_ours += len(mine)
        sentences_theirs += len(other)
        a, b = boundaries(mine), boundaries(other)
        both += len(a & b)
        only_ours += len(a - b)
        only_theirs += len(b - a)
        identical += mine == other
        for end in sorted(a ^ b):
            who = "only project" if end in a else "only pysbd"
            before, after = paragraph[max(0, end - 90) : end], paragraph[end : end + 60]
            disagreements.append(f"[{who}] ...{before} || {after}...")
    return {
        "paragraphs": len(sample),
        "sentences_project": sentences_ours,
        "sentences_pysbd": sentences_theirs,
        "boundaries_both": both,
        "boundaries_only_project": only_ours,
        "boundaries_only_pysbd": only_theirs,
        "pysbd_precision_vs_project": both / (both + only_theirs) if both + only_theirs else 1.0,
        "pysbd_recall_vs_project": both / (both + only_ours) if both + only_ours else 1.0,
        "identical_paragraph_share": identical / len(sample) if sample else 1.0,
    }, disagreements


def speed(sample: list[str], splitter: Spans, repeats: int = 3) -> dict[str, float]:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for paragraph in sample:
            splitter(paragraph, 0, None)
        best = min(best, time.perf_counter() - started)
    characters = sum(map(len, sample))
    return {"seconds": best, "paragraphs_per_s": len(sample) / best, "characters_per_s": characters / best}


def chunk_counts(documents: list[Document], splitter: Spans) -> dict[str, float]:
    """Chunk every unit with `splitter` as the loader's sentence splitter (timed, tokenizing included);
    count the sentences cut at word boundaries."""
    original_spans, original_windows = chunking.sentence_spans, chunking._word_windows
    word_cuts = 0

    def counted_windows(*args: object) -> Iterator[tuple[int, int, int]]:
        nonlocal word_cuts
        word_cuts += 1
        yield from original_windows(*args)

    chunking.sentence_spans, chunking._word_windows = splitter, counted_windows
    started = time.perf_counter()
    try:
        chunks = [chunk for _, found in chunking.chunk_documents(documents, TOKEN_BUDGET) for chunk in found]
        seconds = time.perf_counter() - started
    finally:
        chunking.sentence_spans, chunking._word_windows = original_spans, original_windows
    tokens = [chunking.count_tokens(chunk.text) for chunk in chunks]
    return {
        "chunks": len(chunks),
        "seconds": seconds,
        "mean_word_pieces": sum(tokens) / len(tokens) if tokens else 0.0,
        "sentences_cut_at_words": word_cuts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--sentences", type=int, default=2000, help="per family (transcripts, filings)")
    parser.add_argument("--documents", type=int, default=40, help="per family, for the chunk counts")
    parser.add_argument("--disagreements", type=int, default=60, help="shown per family")
    args = parser.parse_args()

    ours, theirs = chunking.sentence_spans, pysbd_spans()
    chunking.get_tokenizer()  # loaded once, outside the timings
    results: dict[str, dict] = {}
    shown: list[str] = []
    for family, dataset_names in FAMILIES.items():
        documents = read_documents(args.data, dataset_names)
        sample = sample_paragraphs(documents, args.sentences)
        figures, disagreements = agreement(sample, ours, theirs)
        chunk_sample = sorted(documents, key=lambda document: stable_key(document.doc_id))[: args.documents]
        results[family] = {
            "agreement": figures,
            "speed_project": speed(sample, ours),
            "speed_pysbd": speed(sample, theirs),
            "chunks_project": chunk_counts(chunk_sample, ours),
            "chunks_pysbd": chunk_counts(chunk_sample, theirs),
            "chunk_sample_documents": len(chunk_sample),
        }
        picked = sorted(disagreements, key=stable_key)[: args.disagreements]
        shown += [f"## {family}: {len(picked)} of {len(disagreements)} disagreements", *picked, ""]
        print(f"{family}: {json.dumps(results[family], indent=2)}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    DISAGREEMENTS.write_text("\n".join(shown))
    print(f"wrote {RESULTS} and {DISAGREEMENTS}")


if __name__ == "__main__":
    main()
