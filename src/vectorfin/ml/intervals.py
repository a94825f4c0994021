"""Whether a difference in retrieval quality is more than noise: the paired bootstrap interval of a mean
difference over the same queries. Light on purpose (numpy only): retrieval_metrics uses it for tuned vs
base, and the dbt plugin serves it to SQL as `vectorfin_paired_interval` (run_comparison: one run vs
another).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_SAMPLES = 2000
BOOTSTRAP_SEED = 0
PAIRED_INTERVAL_FUNCTION = "vectorfin_paired_interval"


def paired_bootstrap_interval(
    values: np.ndarray, baseline: np.ndarray, confidence: float = CONFIDENCE, samples: int = BOOTSTRAP_SAMPLES
) -> tuple[float, float]:
    """The `confidence` percentile interval of mean(values - baseline) over queries resampled with
    replacement, the same queries for both (paired); fixed seed, so a rebuild gives the same interval."""
    differences = np.asarray(values, dtype=float) - np.asarray(baseline, dtype=float)
    if len(differences) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = differences[rng.integers(0, len(differences), size=(samples, len(differences)))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return (float(low), float(high))


def paired_interval_sql(values: Sequence[float], baseline: Sequence[float]) -> list[float] | None:
    """`vectorfin_paired_interval(values, baseline)` in SQL: [low, high] of `paired_bootstrap_interval`,
    the lists in the same query order; null for no queries. Lists of different lengths cannot be paired."""
    if len(values) != len(baseline):
        raise ValueError(
            f"{PAIRED_INTERVAL_FUNCTION}: {len(values)} values against {len(baseline)} baseline values "
            "(pair them query by query)"
        )
    if not values:
        return None
    low, high = paired_bootstrap_interval(np.asarray(values), np.asarray(baseline))
    return None if math.isnan(low) else [low, high]
