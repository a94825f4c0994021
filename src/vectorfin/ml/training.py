"""LoRA fine-tuning of the sentence encoder on (anchor, positive[, negative]) pairs.

An artifact folder is a plain SentenceTransformer folder holding the LoRA-merged weights, so
every consumer (embedding, evaluation, a notebook) loads it without peft; the adapter itself
is kept in `adapter/` for provenance, and `training_result.json`, written last, marks the
folder complete.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from datasets import Dataset
from peft import LoraConfig, PeftModel, TaskType
from sentence_transformers import (
    SentenceTransformer,
    SentenceTransformerTrainer,
    SentenceTransformerTrainingArguments,
)
from sentence_transformers.base.sampler import BatchSamplers
from sentence_transformers.sentence_transformer.losses import (
    CachedMultipleNegativesRankingLoss,
    MatryoshkaLoss,
    MultipleNegativesRankingLoss,
)
from torch import nn
from transformers import EarlyStoppingCallback, set_seed
from transformers.trainer_callback import PrinterCallback

from vectorfin.config.training import TrainingConfig, content_hash
from vectorfin.ml.device import DeviceChoice, choose_device
from vectorfin.ml.memory import check_training_fits
from vectorfin.ml.progress import TrainingProgressLog
from vectorfin.report import REPORT_DIR, REPORT_PAGE

logger = logging.getLogger(__name__)

RESULT_MARKER = "training_result.json"
ADAPTER_DIR = "adapter"
# Resumable checkpoints of unfinished runs: <artifacts root>/CHECKPOINTS_DIR/<content hash>/checkpoint-<step>.
CHECKPOINTS_DIR = ".checkpoints"
# The trainer writes this file last into a checkpoint folder: without it the checkpoint is incomplete.
CHECKPOINT_COMPLETE_FILE = "trainer_state.json"
# Another run's checkpoints not written to for this long belong to a run that stopped and was never
# resumed: a starting run removes them, so killed runs do not fill the disk (one resumed later starts over).
ABANDONED_CHECKPOINT_DAYS = 7
# What SentenceTransformer needs to rebuild the merged model, plus the completeness marker.
REQUIRED_ARTIFACT_FILES = ("modules.json", "config.json", "model.safetensors", RESULT_MARKER)
LOSS_CURVE_POINTS = 100


class ModelArtifactError(RuntimeError):
    """A trained-model folder is missing, incomplete or unreadable."""


@dataclass
class TrainingResult:
    run_id: str
    content_hash: str
    base_model: str
    trainable_params: int
    total_params: int
    device: str
    precision: str
    steps: int
    loss_curve: list[tuple[int, float]]  # (step, mean training loss since the previous point)
    duration_s: float  # the training loop only: loading and saving are not counted
    pairs_per_second: float
    artifact_path: str
    eval_loss_curve: list[tuple[int, float]] = field(default_factory=list)
    n_train_pairs: int = 0
    n_eval_pairs: int = 0
    trained_at: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    reused: bool = False
    resumed_from_step: int = 0  # > 0 when the run continued from a checkpoint of a killed run

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> TrainingResult:
        values = json.loads(text)
        for curve in ("loss_curve", "eval_loss_curve"):
            values[curve] = [(int(step), float(loss)) for step, loss in values.get(curve, [])]
        return cls(**values)


def train_model(
    pairs_df: pd.DataFrame,
    config: TrainingConfig,
    output_dir: str | Path,
    eval_pairs_df: pd.DataFrame | None = None,
    device: DeviceChoice | str | None = None,
) -> TrainingResult:
    """Fine-tune (a LoRA adapter, or every weight) with MultipleNegativesRankingLoss; save the model.

    `device` is a DeviceChoice or a preferred device name; None picks the best available. Training
    checkpoints every `config.checkpoint_steps` steps beside `output_dir` (see `checkpoint_dir`), and a
    run of the same pairs and config that finds a checkpoint resumes from it instead of step 0; other
    runs' abandoned checkpoints are removed first (`remove_abandoned_checkpoints`).
    """
    output_dir = Path(output_dir)
    choice = device if isinstance(device, DeviceChoice) else choose_device(device)
    run_hash = content_hash(pairs_df, config, eval_pairs_df)  # also checks the pair columns
    train_df, eval_df = _split_train_eval(pairs_df, eval_pairs_df, config)
    check_training_fits(config, choice.device)
    run_id = f"{config.method}-{run_hash[:12]}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"

    set_seed(config.seed)  # before add_adapter, which draws the LoRA initial weights
    model = SentenceTransformer(config.resolved_base_model(), device=choice.device, local_files_only=True)
    model.max_seq_length = config.max_seq_length
    if config.method == "lora":
        model.add_adapter(_lora_config(config))
    if config.gradient_checkpointing:
        _enable_gradient_checkpointing(model)
    trainable_params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total_params = sum(p.numel() for p in model.parameters())
    logger.info(
        "Run %s: %d training pairs, %d eval pairs, %d of %d parameters trainable (%.2f%%)",
        run_id,
        len(train_df),
        0 if eval_df is None else len(eval_df),
        trainable_params,
        total_params,
        100 * trainable_params / total_params,
    )

    checkpoints = checkpoint_dir(output_dir)
    remove_abandoned_checkpoints(checkpoints)
    resume_from = last_complete_checkpoint(checkpoints)
    resumed = _resumed_state(resume_from)
    if resume_from is not None:
        logger.info("Run %s: resuming from %s (step %d)", run_id, resume_from, resumed.step)
    epoch_df = repeat_kept_pairs(train_df, config)
    trainer = _trainer(model, config, choice, epoch_df, eval_df, checkpoints)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    duration_s = time.perf_counter() - started
    state = trainer.state
    trained_examples = len(epoch_df) * (state.epoch - resumed.epoch)

    result = TrainingResult(
        run_id=run_id,
        content_hash=run_hash,
        base_model=config.base_model_name,
        trainable_params=trainable_params,
        total_params=total_params,
        device=choice.device,
        precision=choice.precision,
        steps=state.global_step,
        loss_curve=_curve(state.log_history, "loss"),
        duration_s=round(duration_s, 3),
        pairs_per_second=round(trained_examples / duration_s, 3) if duration_s else 0.0,
        artifact_path=str(output_dir),
        eval_loss_curve=_curve(state.log_history, "eval_loss"),
        n_train_pairs=len(train_df),
        n_eval_pairs=0 if eval_df is None else len(eval_df),
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        config=config.to_dict(),
        resumed_from_step=resumed.step,
    )
    # Data-parallel (torchrun / accelerate, vectorfin.scale.train_ddp): every process trains, one saves.
    if trainer.is_world_process_zero():
        _save_artifacts(model, config, output_dir, result)
        shutil.rmtree(checkpoints, ignore_errors=True)  # the finished artifact supersedes them
        logger.info("Run %s: %d steps in %.1fs, saved to %s", run_id, result.steps, duration_s, output_dir)
    trainer.accelerator.wait_for_everyone()  # so the artifact is complete in every process on return
    return result


def checkpoint_dir(output_dir: Path) -> Path:
    """Where the run that will be saved to `output_dir` keeps its resumable checkpoints."""
    return output_dir.parent / CHECKPOINTS_DIR / output_dir.name


def remove_abandoned_checkpoints(checkpoints: Path) -> None:
    """Remove the checkpoints beside `checkpoints` (other runs') not written to for
    ABANDONED_CHECKPOINT_DAYS; a run still training writes its own more often than that."""
    cutoff = time.time() - ABANDONED_CHECKPOINT_DAYS * 24 * 3600
    for other in sorted(checkpoints.parent.glob("*")):
        if other == checkpoints or not other.is_dir():
            continue
        last_written = _last_written(other)
        if last_written is not None and last_written < cutoff:
            logger.warning(
                "Removing the checkpoints of an abandoned run, %s: last written %s, over %d days ago",
                other,
                datetime.fromtimestamp(last_written, UTC).isoformat(timespec="seconds"),
                ABANDONED_CHECKPOINT_DAYS,
            )
            shutil.rmtree(other, ignore_errors=True)


def _last_written(folder: Path) -> float | None:
    try:
        return max(path.stat().st_mtime for path in [folder, *folder.rglob("*")])
    except OSError:  # its run finished and removed it meanwhile
        return None


def last_complete_checkpoint(folder: Path) -> Path | None:
    """The latest checkpoint the trainer finished writing; a half-written one (killed mid-save) is
    removed, so that the run resumes from the one before it."""
    if not folder.is_dir():
        return None
    complete = None
    for checkpoint in sorted(folder.glob("checkpoint-*"), key=_checkpoint_step):
        if (checkpoint / CHECKPOINT_COMPLETE_FILE).is_file():
            complete = checkpoint
        else:
            logger.warning("Removing the incomplete checkpoint %s", checkpoint)
            shutil.rmtree(checkpoint, ignore_errors=True)
    return complete


def _checkpoint_step(checkpoint: Path) -> int:
    suffix = checkpoint.name.rpartition("-")[2]
    return int(suffix) if suffix.isdigit() else -1


@dataclass(frozen=True)
class _ResumedState:
    step: int = 0
    epoch: float = 0.0  # so the rate counts this run's own work only


def _resumed_state(checkpoint: Path | None) -> _ResumedState:
    """Where a checkpoint left off, read before training (the trainer rotates old checkpoints away)."""
    if checkpoint is None:
        return _ResumedState()
    state = json.loads((checkpoint / CHECKPOINT_COMPLETE_FILE).read_text())
    return _ResumedState(step=int(state.get("global_step") or 0), epoch=float(state.get("epoch") or 0.0))


def _enable_gradient_checkpointing(model: SentenceTransformer) -> None:
    transformer = model[0].auto_model
    transformer.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    # With frozen embeddings (LoRA) the checkpointed blocks' inputs need grads for backward to reach them.
    transformer.enable_input_require_grads()


def train_or_reuse(
    pairs_df: pd.DataFrame,
    config: TrainingConfig,
    artifacts_root: str | Path,
    eval_pairs_df: pd.DataFrame | None = None,
    device: DeviceChoice | str | None = None,
) -> TrainingResult:
    """Return the stored result for these pairs and config if `artifacts_root/<hash>` holds a
    complete, loadable model (reused=True); otherwise (re)train into that folder."""
    target = Path(artifacts_root) / content_hash(pairs_df, config, eval_pairs_df)
    if target.exists():
        try:
            load_trained_model(target, device="cpu")
            stored = read_training_result(target)
        except ModelArtifactError as error:
            logger.warning("Retraining: the stored artifact is unusable (%s)", error)
            shutil.rmtree(target)
        else:
            logger.info("Reusing run %s from %s", stored.run_id, target)
            return replace(stored, reused=True, artifact_path=str(target))
    return train_model(pairs_df, config, target, eval_pairs_df=eval_pairs_df, device=device)


def load_trained_model(path: str | Path, device: str | None = None) -> SentenceTransformer:
    """Load a trained artifact folder, or raise ModelArtifactError saying what is wrong with it."""
    path = Path(path)
    if not path.is_dir():
        raise ModelArtifactError(f"model artifact folder {path} does not exist")
    missing = [name for name in REQUIRED_ARTIFACT_FILES if not (path / name).is_file()]
    if missing:
        raise ModelArtifactError(
            f"model artifact folder {path} is incomplete: missing {', '.join(missing)}"
            + (" (training did not finish)" if RESULT_MARKER in missing else "")
        )
    try:
        return SentenceTransformer(str(path), device=device, local_files_only=True)
    except Exception as error:
        raise ModelArtifactError(
            f"model artifact folder {path} could not be loaded: {type(error).__name__}: {error}"
        ) from error


def read_training_result(path: str | Path) -> TrainingResult:
    marker = Path(path) / RESULT_MARKER
    try:
        return TrainingResult.from_json(marker.read_text())
    except (OSError, ValueError, TypeError) as error:
        raise ModelArtifactError(f"{marker} is missing or corrupt: {error}") from error


def build_loss(model: SentenceTransformer, config: TrainingConfig) -> nn.Module:
    """MNRL with in-batch negatives; with `mini_batch_size`, its GradCache variant, whose memory
    follows the mini-batch whatever the batch size; with `matryoshka_dims`, MatryoshkaLoss sums it over
    those leading dimensions, so that truncated embeddings are trained too."""
    if config.mini_batch_size is None:
        loss = MultipleNegativesRankingLoss(model, scale=config.scale)
    else:
        loss = CachedMultipleNegativesRankingLoss(
            model, scale=config.scale, mini_batch_size=config.mini_batch_size
        )
    if not config.matryoshka_dims:
        return loss
    # The config cannot know the model's dimension; checked here, before any training step.
    full_dim = model.get_embedding_dimension()
    if config.matryoshka_dims[0] != full_dim:
        raise ValueError(
            f"training setting matryoshka_dims={list(config.matryoshka_dims)} must start with the model's "
            f"embedding dimension, {full_dim}"
        )
    return MatryoshkaLoss(model, loss, matryoshka_dims=list(config.matryoshka_dims))


def _lora_config(config: TrainingConfig) -> LoraConfig:
    return LoraConfig(
        task_type=TaskType.FEATURE_EXTRACTION,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        exclude_modules=list(config.exclude_modules) or None,
    )


def _split_train_eval(
    pairs_df: pd.DataFrame, eval_pairs_df: pd.DataFrame | None, config: TrainingConfig
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Sort by pair_id (so the content hash fully determines the run) and hold out eval pairs."""
    if pairs_df.empty:
        raise ValueError("no training pairs")
    for frame in (pairs_df, eval_pairs_df):
        if frame is not None and frame[["anchor_text", "positive_text"]].isna().any(axis=None):
            raise ValueError("anchor_text and positive_text must be set on every pair")
    pairs_df = pairs_df.sort_values("pair_id", kind="stable").reset_index(drop=True)
    if eval_pairs_df is None and config.eval_fraction > 0:
        eval_pairs_df = pairs_df.sample(frac=config.eval_fraction, random_state=config.seed)
        pairs_df = pairs_df.drop(eval_pairs_df.index)
        if eval_pairs_df.empty or pairs_df.empty:
            raise ValueError(
                f"eval_fraction={config.eval_fraction} of {len(pairs_df) + len(eval_pairs_df)} pairs "
                "leaves the training or the eval split empty"
            )
    if config.early_stopping_patience is not None and eval_pairs_df is None:
        raise ValueError(
            "early_stopping_patience needs eval pairs: pass eval_pairs_df or set eval_fraction > 0"
        )
    return pairs_df, eval_pairs_df


def repeat_kept_pairs(train_df: pd.DataFrame, config: TrainingConfig) -> pd.DataFrame:
    """One epoch's examples: every pair once, and the pairs of `max_pairs_keeps_strategies` (scarce,
    labelled) `kept_strategies_passes` times, so they weigh more without more epochs over the rest.
    The no-duplicates batch sampler keeps a pair's copies in different batches."""
    kept = train_df[train_df["strategy"].isin(config.max_pairs_keeps_strategies)]
    return pd.concat([train_df, *[kept] * (config.kept_strategies_passes - 1)], ignore_index=True)


def training_datasets(train_df: pd.DataFrame) -> Dataset | dict[str, Dataset]:
    """Triplets where a hard negative exists, pairs elsewhere; MNRL needs one column shape per
    dataset, so rows with and without negatives become two datasets trained side by side."""
    has_negative = train_df["negative_text"].notna()
    triplets = _dataset(train_df[has_negative], with_negative=True)
    pairs = _dataset(train_df[~has_negative], with_negative=False)
    if has_negative.all():
        return triplets
    if not has_negative.any():
        return pairs
    return {"triplets": triplets, "pairs": pairs}


def _dataset(frame: pd.DataFrame, with_negative: bool) -> Dataset:
    columns = {"anchor": frame["anchor_text"].tolist(), "positive": frame["positive_text"].tolist()}
    if with_negative:
        columns["negative"] = frame["negative_text"].tolist()
    return Dataset.from_dict(columns)


def _planned_steps(train: Dataset | dict[str, Dataset], config: TrainingConfig) -> int:
    datasets = train.values() if isinstance(train, dict) else [train]
    return config.epochs * sum(math.ceil(len(dataset) / config.batch_size) for dataset in datasets)


def _trainer(
    model: SentenceTransformer,
    config: TrainingConfig,
    choice: DeviceChoice,
    train_df: pd.DataFrame,
    eval_df: pd.DataFrame | None,
    checkpoints: Path,
) -> SentenceTransformerTrainer:
    train = training_datasets(train_df)
    # Eval loss over (anchor, positive) only: one comparable number whatever the negatives.
    evaluation = None if eval_df is None else _dataset(eval_df, with_negative=False)
    planned_steps = _planned_steps(train, config)
    early_stopping = config.early_stopping_patience is not None
    # Early stopping keeps its best checkpoint, so checkpoints then follow the evaluations.
    save_steps = config.eval_steps if early_stopping else config.checkpoint_steps
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        # warmup_ratio is deprecated; floor, so a run of a few steps is not all warm-up at lr 0
        warmup_steps=int(config.warmup_ratio * planned_steps),
        batch_sampler=BatchSamplers.NO_DUPLICATES,  # a duplicate in a batch is a false negative
        bf16=choice.precision == "bf16",
        fp16=choice.precision == "fp16",
        use_cpu=choice.device == "cpu",
        seed=config.seed,
        logging_steps=max(1, planned_steps // LOSS_CURVE_POINTS),
        eval_strategy="no" if evaluation is None else "steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=save_steps,
        save_total_limit=1,
        load_best_model_at_end=early_stopping,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        report_to="none",
        disable_tqdm=True,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=evaluation,
        loss=build_loss(model, config),
        callbacks=[
            TrainingProgressLog(),
            *([EarlyStoppingCallback(config.early_stopping_patience)] if early_stopping else []),
        ],
    )
    trainer.remove_callback(PrinterCallback)  # per-step dicts drown the log; TrainingProgressLog summarises
    return trainer


def _curve(log_history: list[dict[str, float]], key: str) -> list[tuple[int, float]]:
    return [(int(entry["step"]), float(entry[key])) for entry in log_history if key in entry]


def _save_artifacts(
    model: SentenceTransformer, config: TrainingConfig, output_dir: Path, result: TrainingResult
) -> None:
    """LoRA: the adapter first, then the merged model from that saved adapter. Full fine-tuning:
    the model itself. Then the card, and the marker last."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / RESULT_MARKER).unlink(missing_ok=True)
    if config.method == "lora":
        adapter_dir = output_dir / ADAPTER_DIR
        model.save(str(adapter_dir), create_model_card=False)
        _merged_model(config, adapter_dir).save(str(output_dir), create_model_card=False)
    else:
        model.save(str(output_dir), create_model_card=False)
    (output_dir / "README.md").write_text(_model_card(result, config))
    (output_dir / RESULT_MARKER).write_text(result.to_json())


def _merged_model(config: TrainingConfig, adapter_dir: Path) -> SentenceTransformer:
    """Fold the saved adapter into fresh base weights (W + BA), on CPU in fp32.

    Merging from the saved files, not the in-memory model, proves the adapter on disk
    reproduces the merged model.
    """
    merged = SentenceTransformer(config.resolved_base_model(), device="cpu", local_files_only=True)
    merged[0].model = PeftModel.from_pretrained(merged[0].model, str(adapter_dir)).merge_and_unload()
    merged.max_seq_length = config.max_seq_length
    return merged


def _model_card(result: TrainingResult, config: TrainingConfig) -> str:
    final_loss = f"{result.loss_curve[-1][1]:.4f}" if result.loss_curve else "n/a"
    matryoshka_dims = ", ".join(map(str, config.matryoshka_dims)) or "off"
    return f"""# vectorfin fine-tuned retriever `{result.run_id}`

A sentence-transformers model: `{result.base_model}` fine-tuned with a LoRA adapter on
financial retrieval pairs, with MultipleNegativesRankingLoss (in-batch negatives plus hard
negatives where given).

## Files

- This folder: the base weights with the LoRA adapter merged in (W + scale * B A).
  `SentenceTransformer("<this folder>")` loads it without peft, and it encodes at the base
  model's speed, which is why the merged model is the artifact everyone consumes.
- `{ADAPTER_DIR}/`: the adapter alone (adapter_config.json + weights), kept for provenance:
  it shows exactly what training changed, is small enough to archive per run, and can be
  re-applied to the base model with peft. The merged weights were produced from these files.
- `{RESULT_MARKER}`: the full training result, written last; its presence marks the folder complete.

## Training

| setting | value |
| --- | --- |
| base model | `{result.base_model}` |
| LoRA r / alpha / dropout | {config.lora_r} / {config.lora_alpha} / {config.lora_dropout} |
| LoRA target / excluded modules | {", ".join(config.target_modules)} / {", ".join(config.exclude_modules)} |
| learning rate / warmup ratio | {config.learning_rate} / {config.warmup_ratio} |
| epochs / batch size / max seq length | {config.epochs} / {config.batch_size} / {config.max_seq_length} |
| MNRL scale | {config.scale} |
| Matryoshka dims (loss summed over them; `truncate_dim=d` loads one) | {matryoshka_dims} |
| seed | {config.seed} |
| trainable / total parameters | {result.trainable_params:,} / {result.total_params:,} |
| training pairs / eval pairs | {result.n_train_pairs} / {result.n_eval_pairs} |
| steps / final training loss | {result.steps} / {final_loss} |
| device / precision | {result.device} / {result.precision} |
| data + config hash (sha256) | `{result.content_hash}` |
| trained at (UTC) | {result.trained_at} |

## Metrics and run report

Retrieval metrics (NDCG@10, MRR@10, Recall@k, MAP@100 against the base model and BM25) are
computed after training and stored with `model_run_id = {result.run_id}`. The run report,
[`{REPORT_DIR}/{REPORT_PAGE}`]({REPORT_DIR}/{REPORT_PAGE}), written after evaluation by the dbt model
`run_report` (rewritten by each build that reports this model), charts them with what went into the
run: pairs per strategy, quarantine reasons, the data-quality gate, the loss curve, NDCG@10 of base,
tuned, BM25 and the hybrids per evaluation set, and the publication checks (retrieval, STS-B).
"""
