"""Data-parallel training on several GPUs (or CPU processes), launched by torchrun or accelerate.

    torchrun --nproc_per_node 4 -m vectorfin.scale.train_ddp                    # the build's training_pairs
    torchrun --nproc_per_node 4 -m vectorfin.scale.train_ddp --training '{"epochs": 2}'
    accelerate launch --num_processes 4 -m vectorfin.scale.train_ddp

Every process runs the project's own training (`vectorfin.ml.runs.train`: the stable `max_pairs` sample,
`train_or_reuse`, the sentence-transformers trainer). The trainer sees the launcher's environment (RANK,
WORLD_SIZE, LOCAL_RANK), joins the process group (NCCL on GPUs, gloo on CPUs), gives each process its
share of every batch and averages the gradients; process 0 alone writes the artifact. It lands in
`$VECTORFIN_ARTIFACTS/<hash of pairs and config>/`, the folder the dbt model `training_runs` computes for
the same pairs and `training` var: the next `dbt build` finds it complete and reuses it (its row says
`reused`), so the multi-GPU run becomes the build's run without dbt launching processes itself.

Inputs are the dbt model's: `training_pairs` from the DuckDB file dbt built (or a parquet export of it,
`--pairs`), the `training` var (`--training`, keys left out keep dbt_project.yml's defaults), and, with
early stopping, the main evaluation set's pairs from `eval_queries` / `eval_corpus` / `eval_qrels`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import duckdb
import pandas as pd

from vectorfin.config.locations import StateLocations
from vectorfin.config.project_vars import project_var

logger = logging.getLogger(__name__)

TRAINING_PAIRS_TABLE = "training_pairs"
EVAL_TABLES = ("eval_queries", "eval_corpus", "eval_qrels")


def process_rank() -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun / accelerate set them; (0, 1, 0) for a plain process."""
    return (
        int(os.environ.get("RANK", "0")),
        int(os.environ.get("WORLD_SIZE", "1")),
        int(os.environ.get("LOCAL_RANK", "0")),
    )


def save_checkpoints_from_process_zero_only() -> None:
    """Make the sentence-transformers trainer write checkpoint weights from process zero only.

    Its `_save` says "if we are executing this function, we are the process zero", which held while
    transformers' `save_model` called it on process zero only; transformers 5 calls `_save` on every
    process and returns early on the others in its own `_save`, which sentence-transformers (6.2)
    overrides. Without this, every process writes the same checkpoint files at once.
    """
    from sentence_transformers import SentenceTransformerTrainer

    write = SentenceTransformerTrainer._save
    if getattr(write, "process_zero_only", False):
        return

    def save_on_process_zero(
        self: SentenceTransformerTrainer, output_dir: str | None = None, state_dict=None
    ):
        if self.args.should_save:
            write(self, output_dir, state_dict)

    save_on_process_zero.process_zero_only = True  # type: ignore[attr-defined]
    SentenceTransformerTrainer._save = save_on_process_zero


def read_inputs(
    settings: StateLocations, pairs_path: Path | None, early_stopping: bool, eval_set: str
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The training pairs and, for early stopping, the eval set's (query, relevant document) pairs.
    Several processes may open the DuckDB file read-only at once."""
    from vectorfin.ml.runs import early_stopping_pairs

    pairs = pd.read_parquet(pairs_path) if pairs_path is not None else None
    if pairs is not None and not early_stopping:
        return pairs, None
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        if pairs is None:
            pairs = connection.sql(f"select * from {TRAINING_PAIRS_TABLE}").df()
        if not early_stopping:
            return pairs, None
        queries, corpus, qrels = (connection.sql(f"select * from {table}").df() for table in EVAL_TABLES)
    return pairs, early_stopping_pairs(queries, corpus, qrels, eval_set=eval_set)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vectorfin.scale.train_ddp", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--pairs", type=Path, help="a parquet export of training_pairs (default: the DuckDB file's)"
    )
    parser.add_argument(
        "--training", default="{}", help="the training var as JSON, as given to dbt (keys left out: defaults)"
    )
    parser.add_argument("--device", choices=("cuda", "cpu"), help="default: CUDA when present, else CPU")
    parser.add_argument(
        "--eval-set",
        default=project_var("main_eval_set"),
        help="early stopping's eval set (var main_eval_set)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    import torch
    import torch.distributed as dist

    from vectorfin.config.training import TrainingConfig
    from vectorfin.ml.runs import train

    rank, world_size, local_rank = process_rank()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda":
        torch.cuda.set_device(local_rank)  # "cuda" is this process's own GPU from here on
    if world_size == 1:
        logger.warning("not launched by torchrun or accelerate: training in this one process")
    else:
        save_checkpoints_from_process_zero_only()
    config = TrainingConfig.from_mapping(json.loads(args.training))
    settings = StateLocations.from_env()
    pairs, eval_pairs = read_inputs(
        settings, args.pairs, config.early_stopping_patience is not None, args.eval_set
    )
    run = train(pairs, config, settings.artifacts_dir, eval_pairs=eval_pairs, device=device).iloc[0]

    backend = dist.get_backend() if dist.is_initialized() else "none"
    group_size = dist.get_world_size() if dist.is_initialized() else 1
    print(
        f"train_ddp: rank {rank} of {world_size} done: process group {backend} of {group_size}, "
        f"device {run['device']}, {run['steps']} steps, run {run['run_id']}, reused {bool(run['reused'])}, "
        f"artifact {run['artifact_path']}",
        flush=True,
    )
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
