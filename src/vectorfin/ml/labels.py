"""The names retrieval_metrics uses: the labels of the project's own scorers (a comparison model is
labelled by its folder's name, which may be none of these) and the parts of each eval set. Light on
purpose: the settings check and the run report import it.

Each eval set's queries are split by group (a company, a report, a filer) into a part every choice may
read and a locked part that only the reported figures read (models/marts/eval_queries.sql).
"""

from pathlib import Path

BASE_LABEL = "base"
TUNED_LABEL = "tuned"
BM25_LABEL = "bm25"
RESERVED_MODEL_LABELS = (BASE_LABEL, TUNED_LABEL, BM25_LABEL)


def comparison_label(path: str) -> str:
    """A comparison model's label in retrieval_metrics: its folder's name."""
    return Path(path).name


TUNE_PART, TEST_PART = "tune", "test"
EVAL_PARTS = (TUNE_PART, TEST_PART)
