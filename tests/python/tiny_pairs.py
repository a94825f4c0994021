"""Tiny training pairs for tests that train for real on CPU: each a question, the passage that answers
it, and an unrelated hard negative, with distinct figures so every pair differs."""

from __future__ import annotations

import pandas as pd


def revenue_pairs(count: int) -> pd.DataFrame:
    """`count` (pair_id, strategy, anchor, positive, negative) rows in the training_pairs columns."""
    return pd.DataFrame(
        {
            "pair_id": [f"p{i}" for i in range(count)],
            "strategy": "qa_turns",
            "anchor_text": [f"What was revenue in quarter {i}?" for i in range(count)],
            "positive_text": [
                f"Revenue in quarter {i} was {10 * i + 7} million dollars." for i in range(count)
            ],
            "negative_text": [f"The finance chief joined the company in {1990 + i}." for i in range(count)],
        }
    )
