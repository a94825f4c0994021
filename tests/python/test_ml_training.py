import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    MatryoshkaLoss,
    MultipleNegativesRankingLoss,
)

from vectorfin.config.locations import StateLocations
from vectorfin.config.training import TrainingConfig
from vectorfin.ml import training
from vectorfin.ml.training import (
    ADAPTER_DIR,
    RESULT_MARKER,
    ModelArtifactError,
    build_loss,
    load_trained_model,
    read_training_result,
    repeat_kept_pairs,
    train_model,
    train_or_reuse,
    training_datasets,
)

PAIRS = pd.DataFrame(
    [
        (
            "p1",
            "What was third-quarter revenue?",
            "Revenue for Q3 was $4.1 billion, up 8%.",
            "The CFO joined in 2019.",
        ),
        (
            "p2",
            "How large is the buyback?",
            "The board authorized a $2 billion share repurchase.",
            "Capex was flat.",
        ),
        (
            "p3",
            "What is the dividend?",
            "We declared a quarterly dividend of 24 cents per share.",
            "Net debt fell.",
        ),
        (
            "p4",
            "Why did margins fall?",
            "Gross margin declined on higher freight costs.",
            "Headcount grew 3%.",
        ),
        (
            "p5",
            "What is full-year guidance?",
            "We now expect full-year EPS of $5.10 to $5.30.",
            "The plant opened.",
        ),
        (
            "p6",
            "How exposed are you to rates?",
            "A 100bp rise in rates lowers net income by $40 million.",
            "Sales rose.",
        ),
        (
            "p7",
            "What drove cloud growth?",
            "Cloud revenue grew 30% on enterprise migrations.",
            "Taxes were 21%.",
        ),
        (
            "p8",
            "What are the main risks?",
            "Currency swings and supply chain disruption are key risks.",
            "EPS beat.",
        ),
    ],
    columns=["pair_id", "anchor_text", "positive_text", "negative_text"],
).assign(strategy="qa")

# The largest allowed learning rate so that two tiny steps visibly move the embeddings.
TINY = TrainingConfig(batch_size=4, max_seq_length=32, learning_rate=1e-4, lora_r=4, lora_alpha=8)
PROBES = ["Quarterly dividend per share", "Interest rate sensitivity of earnings"]
# Ten times TINY's learning rate, so that two steps visibly move the 16-dimensional prefixes.
MATRYOSHKA = replace(TINY, learning_rate=1e-3, matryoshka_dims=(384, 16))


@pytest.fixture(scope="module")
def artifacts_root(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VECTORFIN_ARTIFACTS", str(tmp_path_factory.mktemp("artifacts")))
        yield StateLocations.from_env().artifacts_dir


@pytest.fixture(scope="module")
def trained(artifacts_root):
    return train_or_reuse(PAIRS, TINY, artifacts_root, device="cpu")


@pytest.fixture(scope="module")
def base_model():
    return SentenceTransformer(TrainingConfig().resolved_base_model(), device="cpu", local_files_only=True)


@pytest.mark.slow
def test_training_saves_a_merged_model_that_differs_from_the_base(trained, base_model):
    assert not trained.reused
    assert trained.steps == 2  # 8 pairs in batches of 4
    assert [step for step, _ in trained.loss_curve] == [1, 2]
    assert 0 < trained.trainable_params < trained.total_params
    assert (trained.device, trained.precision) == ("cpu", "fp32")
    assert trained.run_id.startswith(f"lora-{trained.content_hash[:12]}-")

    tuned = load_trained_model(trained.artifact_path)
    tuned_vectors = tuned.encode(PROBES)
    assert tuned_vectors.shape == (2, 384)
    assert not np.allclose(tuned_vectors, base_model.encode(PROBES), atol=1e-5)
    assert tuned.max_seq_length == 32


@pytest.mark.slow
def test_artifact_keeps_the_adapter_a_model_card_and_the_result(trained):
    folder = Path(trained.artifact_path)
    adapter_config = json.loads((folder / ADAPTER_DIR / "adapter_config.json").read_text())
    assert (adapter_config["r"], adapter_config["lora_alpha"]) == (4, 8)
    assert "pooler.dense" not in json.dumps(adapter_config["target_modules"])
    card = (folder / "README.md").read_text()
    assert trained.content_hash in card
    assert "merged" in card
    assert read_training_result(folder) == trained


@pytest.mark.slow
def test_second_call_reuses_the_stored_model_without_training(trained, artifacts_root, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("train_model must not run when a complete artifact exists")

    monkeypatch.setattr(training, "train_model", fail)
    again = train_or_reuse(PAIRS.iloc[::-1], TINY, artifacts_root, device="cpu")
    assert again.reused
    assert again.run_id == trained.run_id
    assert again.artifact_path == trained.artifact_path


@pytest.mark.slow
def test_early_stopping_on_a_held_out_split_with_mixed_negatives(tmp_path):
    pairs = PAIRS.assign(negative_text=PAIRS["negative_text"].where(PAIRS.index % 2 == 0))
    config = TrainingConfig(
        batch_size=2, max_seq_length=32, lora_r=4, eval_fraction=0.25, early_stopping_patience=1, eval_steps=1
    )
    result = train_model(pairs, config, tmp_path / "model", device="cpu")
    assert (result.n_train_pairs, result.n_eval_pairs) == (6, 2)
    assert result.eval_loss_curve
    assert 1 <= result.steps <= 4
    assert (tmp_path / "model" / RESULT_MARKER).is_file()
    assert not list((tmp_path / "model").glob("checkpoint-*"))


def test_rows_with_and_without_negatives_train_as_two_datasets():
    mixed = training_datasets(PAIRS.assign(negative_text=[None, "x"] * 4))
    assert {name: data.column_names for name, data in mixed.items()} == {
        "triplets": ["anchor", "positive", "negative"],
        "pairs": ["anchor", "positive"],
    }
    assert training_datasets(PAIRS.assign(negative_text=None)).column_names == ["anchor", "positive"]


def test_kept_strategies_pairs_are_repeated_in_each_epoch():
    pairs = PAIRS.assign(strategy=["labelled_questions", "qa"] * 4)
    config = TrainingConfig(max_pairs_keeps_strategies=["labelled_questions"], kept_strategies_passes=3)

    epoch = repeat_kept_pairs(pairs, config)

    assert epoch["pair_id"].value_counts().to_dict() == {
        **{pair_id: 3 for pair_id in ("p1", "p3", "p5", "p7")},
        **{pair_id: 1 for pair_id in ("p2", "p4", "p6", "p8")},
    }
    assert repeat_kept_pairs(pairs, TrainingConfig(kept_strategies_passes=1)).equals(pairs)
    with pytest.raises(ValueError, match="kept_strategies_passes must be at least 1, got 0"):
        TrainingConfig(kept_strategies_passes=0)


def test_pairs_without_a_positive_are_refused(tmp_path):
    with pytest.raises(ValueError, match="anchor_text and positive_text must be set"):
        train_model(PAIRS.assign(positive_text=None), TINY, tmp_path, device="cpu")


def test_early_stopping_without_eval_pairs_is_refused(tmp_path):
    with pytest.raises(ValueError, match="early_stopping_patience needs eval pairs"):
        train_model(PAIRS, TrainingConfig(early_stopping_patience=2), tmp_path, device="cpu")


def test_a_mini_batch_size_selects_gradcache_and_none_the_plain_loss(base_model):
    plain = build_loss(base_model, TrainingConfig(batch_size=32, mini_batch_size=None, matryoshka_dims=()))
    assert type(plain) is MultipleNegativesRankingLoss
    cached = build_loss(base_model, TrainingConfig(batch_size=128, mini_batch_size=16, matryoshka_dims=()))
    assert isinstance(cached, CachedMultipleNegativesRankingLoss)
    assert cached.mini_batch_size == 16


@pytest.mark.parametrize(
    ("mini_batch_size", "inner_loss"),
    [(None, MultipleNegativesRankingLoss), (16, CachedMultipleNegativesRankingLoss)],
)
def test_matryoshka_dims_wrap_either_loss_in_matryoshka_loss(base_model, mini_batch_size, inner_loss):
    config = TrainingConfig(mini_batch_size=mini_batch_size, matryoshka_dims=[384, 128, 32])
    loss = build_loss(base_model, config)
    assert isinstance(loss, MatryoshkaLoss)
    assert type(loss.loss) is inner_loss
    assert loss.matryoshka_dims == (384, 128, 32)
    # GradCache re-embeds in the backward pass, after MatryoshkaLoss's forward patch is gone: it has to
    # cut the cached embeddings instead.
    assert loss.uses_gradient_cache == (mini_batch_size is not None)


@pytest.mark.parametrize("dims", [[256, 64], [768, 384]])
def test_matryoshka_dims_must_start_with_the_models_dimension(base_model, dims):
    with pytest.raises(
        ValueError,
        match=re.escape(f"matryoshka_dims={dims} must start with the model's embedding dimension, 384"),
    ):
        build_loss(base_model, TrainingConfig(matryoshka_dims=dims))


def _prefix_retrieval_loss(model: SentenceTransformer, dim: int) -> float:
    """In-batch ranking loss of PAIRS' anchors against every positive and negative, all cut to `dim`."""

    def embed(texts):
        return model.encode(list(texts), truncate_dim=dim, normalize_embeddings=True, convert_to_tensor=True)

    anchors = embed(PAIRS["anchor_text"])
    documents = embed([*PAIRS["positive_text"], *PAIRS["negative_text"]])
    scores = MATRYOSHKA.scale * anchors @ documents.T
    return torch.nn.functional.cross_entropy(scores, torch.arange(len(anchors))).item()


@pytest.fixture(scope="module")
def plain_prefix_loss(tmp_path_factory):
    """The 16-dim loss after the same training without Matryoshka: it moves the prefixes only by the way."""
    plain = replace(MATRYOSHKA, matryoshka_dims=(), mini_batch_size=None)
    result = train_model(PAIRS, plain, tmp_path_factory.mktemp("plain") / "model", device="cpu")
    return _prefix_retrieval_loss(load_trained_model(result.artifact_path), 16)


@pytest.mark.slow
@pytest.mark.parametrize("mini_batch_size", [None, 4])
def test_matryoshka_training_trains_the_truncated_embeddings(plain_prefix_loss, mini_batch_size, tmp_path):
    config = replace(MATRYOSHKA, mini_batch_size=mini_batch_size)
    result = train_model(PAIRS, config, tmp_path / "model", device="cpu")

    tuned = load_trained_model(result.artifact_path)
    assert tuned.encode(PROBES, truncate_dim=16).shape == (2, 16)
    # Measured: about 5.0 with Matryoshka, 6.0 without (6.4 for the base model).
    assert _prefix_retrieval_loss(tuned, 16) < plain_prefix_loss - 0.5
    assert result.config["matryoshka_dims"] == [384, 16]
    assert "| 384, 16 |" in (tmp_path / "model" / "README.md").read_text()


def test_missing_artifact_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelArtifactError, match=re.escape(f"{tmp_path / 'absent'} does not exist")):
        load_trained_model(tmp_path / "absent")


def test_unfinished_artifact_names_the_missing_files(tmp_path):
    (tmp_path / "modules.json").write_text("[]")
    with pytest.raises(
        ModelArtifactError, match=re.escape("missing config.json, model.safetensors, training_result.json")
    ):
        load_trained_model(tmp_path)


@pytest.mark.slow
def test_corrupt_weights_are_a_clear_error(trained, tmp_path):
    corrupt = tmp_path / "corrupt"
    shutil.copytree(
        trained.artifact_path, corrupt, ignore=shutil.ignore_patterns("model.safetensors", ADAPTER_DIR)
    )
    (corrupt / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelArtifactError, match=re.escape(f"{corrupt} could not be loaded")):
        load_trained_model(corrupt)


def test_corrupt_result_marker_is_a_clear_error(tmp_path):
    (tmp_path / RESULT_MARKER).write_text("{not json")
    with pytest.raises(ModelArtifactError, match=re.escape("training_result.json is missing or corrupt")):
        read_training_result(tmp_path)


def test_an_unusable_stored_artifact_is_replaced_by_a_new_run(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(training, "train_model", lambda pairs, config, target, **kwargs: calls.append(target))
    stale = tmp_path / training.content_hash(PAIRS, TINY)
    stale.mkdir()
    (stale / "modules.json").write_text("[]")
    train_or_reuse(PAIRS, TINY, tmp_path)
    assert calls == [stale]
    assert not stale.exists()  # the half-written folder is cleared before retraining
