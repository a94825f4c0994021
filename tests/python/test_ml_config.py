import math

import pandas as pd
import pytest

from vectorfin.config.project_vars import project_var
from vectorfin.config.training import TrainingConfig, content_hash


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


def test_defaults_are_the_projects_training_var_and_resolve_the_packaged_base_model():
    config = TrainingConfig()
    assert config.to_dict() == TrainingConfig.from_mapping(project_var("training")).to_dict()
    assert config.learning_rate == float(project_var("training")["learning_rate"])
    assert config.base_model_name == "sentence-transformers/all-MiniLM-L6-v2"
    assert config.resolved_base_model().endswith("model")


@pytest.mark.parametrize("learning_rate", [1e-4, 5e-4, 1e-3])
def test_lora_learning_rates_are_accepted(learning_rate):
    assert TrainingConfig(learning_rate=learning_rate).learning_rate == learning_rate


@pytest.mark.parametrize("learning_rate", [1e-7, 0.05, 1.0])
def test_absurd_learning_rates_are_rejected(learning_rate):
    with pytest.raises(ValueError, match=r"learning_rate=.* is outside \[1e-06, 0\.01\]"):
        TrainingConfig(learning_rate=learning_rate)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"method": "qlora"}, "method must be one of lora, full"),
        ({"mini_batch_size": 0}, "mini_batch_size must be at least 1 or null"),
        ({"max_seq_length": 1024}, "max_seq_length must be at most 512"),
        ({"batch_size": 1}, "in-batch negatives need a second example"),
        ({"scale": 0}, "scale must be in (0, 100]"),
        ({"gradient_checkpointing": "maybe"}, "gradient_checkpointing='maybe' is not a valid bool"),
        ({"lora_r": None}, "lora_r must be set"),
        ({"matryoshka_dims": [384, 0]}, "matryoshka_dims must all be at least 1, got [384, 0]"),
        ({"matryoshka_dims": [64, 128]}, "matryoshka_dims must be strictly decreasing"),
        ({"matryoshka_dims": [384, 128, 128]}, "matryoshka_dims must be strictly decreasing"),
        ({"matryoshka_dims": [384, 64.5]}, "matryoshka_dims=[384, 64.5] is not a valid tuple"),
        ({"matryoshka_dims": [384, True]}, "matryoshka_dims=[384, True] is not a valid tuple"),
    ],
)
def test_settings_out_of_range_name_the_setting(setting, message):
    with pytest.raises(ValueError) as error:
        TrainingConfig.from_mapping(setting)
    assert message in str(error.value)


def test_gradcache_holds_a_mini_batch_in_memory_whatever_the_batch_size():
    assert TrainingConfig(batch_size=512, mini_batch_size=16).sequences_in_memory == 16
    assert TrainingConfig(batch_size=32, mini_batch_size=None).sequences_in_memory == 96


def test_all_problems_are_reported_at_once():
    with pytest.raises(ValueError) as error:
        TrainingConfig(batch_size=0, lora_dropout=1.0, early_stopping_patience=0)
    message = str(error.value)
    assert "batch_size must be at least 1" in message
    assert "lora_dropout must be in [0, 1)" in message
    assert "early_stopping_patience" in message


def test_from_mapping_converts_yaml_scalars_and_lists():
    config = TrainingConfig.from_mapping(
        {"learning_rate": 5e-5, "epochs": 2.0, "target_modules": ["query", "value"], "base_model": None}
    )
    assert config.learning_rate == 5e-5
    assert config.epochs == 2
    assert config.target_modules == ("query", "value")
    assert TrainingConfig.from_mapping(None) == TrainingConfig()


def test_matryoshka_dims_read_as_whole_numbers_and_empty_is_off():
    assert TrainingConfig.from_mapping({"matryoshka_dims": [384, 64.0]}).matryoshka_dims == (384, 64)
    assert TrainingConfig(matryoshka_dims=[]).matryoshka_dims == ()


def test_from_mapping_rejects_unknown_keys_naming_the_valid_ones():
    with pytest.raises(
        ValueError, match=r"unknown training setting\(s\) lr, rank; valid settings: base_model"
    ):
        TrainingConfig.from_mapping({"lr": 1e-4, "rank": 8})


@pytest.mark.parametrize("value", [1.5, True, "many"])
def test_from_mapping_rejects_values_of_the_wrong_type(value):
    with pytest.raises(ValueError, match="training setting epochs="):
        TrainingConfig.from_mapping({"epochs": value})


@pytest.mark.parametrize(
    ("setting", "value"),
    [("epochs", "3"), ("learning_rate", "5e-5"), ("lora_dropout", "0.1"), ("matryoshka_dims", ["384", 64])],
)
def test_numbers_given_as_text_are_refused_naming_the_setting(setting, value):
    with pytest.raises(ValueError) as error:
        TrainingConfig.from_mapping({setting: value})
    assert f"training setting {setting}={value!r}" in str(error.value)
    assert "numbers must be YAML/JSON numbers, not text" in str(error.value)


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
