"""Corpus loading: read the `../shared/data` layout (or the demo corpus), chunk, append to Iceberg."""

from vectorfin.loading.loader import load_corpus
from vectorfin.loading.validation import LoadError

__all__ = ["LoadError", "load_corpus"]
