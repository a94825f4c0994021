import math

import pandas as pd
import pytest

from vectorfin.ml.config import TrainingConfig, content_hash


def _pairs(negative=None):
    return pd.DataFrame(
        {
            "pair_id": ["p2", "p1"],
            "strategy": ["section_title", "qa"],
            "anchor_text": ["Risk factors", "What was Q3 revenue?"],
            "positive_text": ["Interest rate risk may hurt margins.", "Q3 revenue was $4.1 billion."],
            "negative_text": [negative, "The CFO joined in 2019."],
        }
    )


def test_defaults_are_valid_and_resolve_the_packaged_base_model():
    config = TrainingConfig()
    assert config.learning_rate == 5e-5
    assert config.base_model_name == "sentence-transformers/all-MiniLM-L6-v2"
    assert config.resolved_base_model().endswith("model")


@pytest.mark.parametrize("learning_rate", [1e-6, 1e-3])
def test_learning_rate_outside_the_stable_range_is_rejected(learning_rate):
    with pytest.raises(ValueError, match=r"learning_rate=.* is outside \[1e-05, 0\.0001\]"):
        TrainingConfig(learning_rate=learning_rate)


def test_all_problems_are_reported_at_once():
    with pytest.raises(ValueError) as error:
        TrainingConfig(batch_size=0, lora_dropout=1.0, early_stopping_patience=0)
    message = str(error.value)
    assert "batch_size must be at least 1" in message
    assert "lora_dropout must be in [0, 1)" in message
    assert "early_stopping_patience" in message


def test_from_mapping_converts_yaml_scalars_and_lists():
    config = TrainingConfig.from_mapping(
        {"learning_rate": "5e-5", "epochs": "2", "target_modules": ["query", "value"], "base_model": None}
    )
    assert config.learning_rate == 5e-5
    assert config.epochs == 2
    assert config.target_modules == ("query", "value")
    assert TrainingConfig.from_mapping(None) == TrainingConfig()


def test_from_mapping_rejects_unknown_keys_naming_the_valid_ones():
    with pytest.raises(
        ValueError, match=r"unknown training setting\(s\) lr, rank; valid settings: base_model"
    ):
        TrainingConfig.from_mapping({"lr": 1e-4, "rank": 8})


@pytest.mark.parametrize("value", [1.5, True, "many"])
def test_from_mapping_rejects_values_of_the_wrong_type(value):
    with pytest.raises(ValueError, match="training setting epochs="):
        TrainingConfig.from_mapping({"epochs": value})


def test_content_hash_ignores_row_order_and_the_kind_of_null():
    config = TrainingConfig()
    pairs = _pairs(negative=None)
    reordered_with_nan = _pairs(negative=math.nan).iloc[::-1]
    assert content_hash(pairs, config) == content_hash(reordered_with_nan, config)
    assert len(content_hash(pairs, config)) == 64


def test_content_hash_changes_with_text_config_and_eval_pairs():
    config = TrainingConfig()
    pairs = _pairs()
    baseline = content_hash(pairs, config)
    edited = pairs.assign(positive_text=pairs["positive_text"].str.replace("4.1", "4.2"))
    assert content_hash(edited, config) != baseline
    assert content_hash(pairs, TrainingConfig(lora_r=8)) != baseline
    assert content_hash(pairs, config, eval_pairs_df=pairs) != baseline


def test_content_hash_needs_the_pair_columns():
    with pytest.raises(ValueError, match="lack column"):
        content_hash(_pairs().drop(columns="strategy"), TrainingConfig())
