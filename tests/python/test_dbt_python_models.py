"""The dbt Python models end to end on the demo corpus: real LoRA training steps on CPU, a real
evaluation, embeddings written to Iceberg and read back with iceberg_scan, the no-op rebuild,
retraining on a config change, and a clear error for a broken artifact.

One full build (module fixture) with short sequences feeds the tests; the external evaluation
sets are left out (VECTORFIN_EVALS_DIR points at an empty folder) to keep the module quick.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from dbt_project_runner import DbtResult, DbtWorkspace, run_dbt

from vectorfin.config import PROJECT_ROOT

TRAINING = {"max_seq_length": 64, "batch_size": 8, "seed": 7}
EMBEDDINGS_TABLE = "embeddings/chunk_embeddings"

pytestmark = pytest.mark.slow


class FullBuild:
    def __init__(self, workspace: DbtWorkspace, first: DbtResult) -> None:
        self.workspace = workspace
        self.first = first

    def build(self, *args: str, training: dict | None = None) -> DbtResult:
        return run_dbt(["build", *args], self.workspace.env, vars={"training": training or TRAINING})

    def iceberg_embeddings(self, sql: str) -> list[tuple]:
        location = f"{self.workspace.env['VECTORFIN_WAREHOUSE']}/{EMBEDDINGS_TABLE}"
        return self.workspace.query(sql.replace("{embeddings}", f"iceberg_scan('{location}')"))


@pytest.fixture(scope="module")
def full_build(tmp_path_factory: pytest.TempPathFactory) -> FullBuild:
    root = tmp_path_factory.mktemp("full_build")
    no_evals = root / "no_external_evals"
    no_evals.mkdir()
    workspace = DbtWorkspace.create(root, extra_env={"VECTORFIN_EVALS_DIR": str(no_evals)})
    workspace.load_corpus(PROJECT_ROOT / "demo_corpus")
    first = run_dbt(["build"], workspace.env, vars={"training": TRAINING})
    assert first.ok, first.summary()
    return FullBuild(workspace, first)


def test_training_runs_real_lora_steps_on_cpu(full_build: FullBuild) -> None:
    [(device, precision, steps, reused, trainable, total, artifact)] = full_build.workspace.query(
        "select device, precision, steps, reused, trainable_params, total_params, artifact_path "
        "from training_runs"
    )

    assert (device, precision, reused) == ("cpu", "fp32", False)
    assert steps > 0
    assert 0 < trainable < total / 10
    assert (Path(artifact) / "adapter" / "adapter_config.json").exists()
    assert (Path(artifact) / "README.md").read_text().strip()


def test_retrieval_metrics_compare_base_tuned_and_bm25(full_build: FullBuild) -> None:
    rows = full_build.workspace.query(
        "select model, metric, value, n_queries from retrieval_metrics where eval_set = 'heldout_pairs'"
    )

    assert {(model, metric) for model, metric, _, _ in rows} == {
        (model, metric)
        for model in ("base", "tuned", "bm25")
        for metric in ("ndcg@10", "mrr@10", "recall@1", "recall@5", "recall@10", "map@100")
    }
    assert all(0.0 <= value <= 1.0 and n_queries > 0 for _, _, value, n_queries in rows)
    assert full_build.first.status(
        "not_worse_than_baseline_retrieval_metrics_tuned__ndcg_10__heldout_pairs__base__0_02"
    ) in (
        None,
        "pass",
    )


def test_every_curated_chunk_is_embedded_and_written_to_iceberg(full_build: FullBuild) -> None:
    [(curated,)] = full_build.workspace.query("select count(*) from int_chunks_curated")
    [(rows, dimension, min_norm, max_norm)] = full_build.workspace.query(
        "with norms as (select embedding, sqrt(list_dot_product(embedding::float[], embedding::float[]))"
        " as norm from chunk_embeddings)"
        " select count(*), max(len(embedding)), min(norm), max(norm) from norms"
    )
    [(column_type,)] = full_build.workspace.query("select typeof(embedding) from chunk_embeddings limit 1")
    [(in_iceberg, runs)] = full_build.iceberg_embeddings(
        "select count(*), count(distinct model_run_id) from {embeddings}"
    )

    assert rows == curated == in_iceberg
    assert runs == 1
    assert (dimension, column_type) == (384, "FLOAT[384]")
    assert math.isclose(min_norm, 1.0, abs_tol=1e-3) and math.isclose(max_norm, 1.0, abs_tol=1e-3)


def test_semantic_search_returns_ranked_chunks(full_build: FullBuild) -> None:
    result = run_dbt(
        ["run-operation", "print_semantic_search", "--args", "{query: 'gross margin guidance', k: 3}"],
        full_build.workspace.env,
    )

    assert result.ok, result.summary()
    assert "score" in result.stdout and "chunk_text" in result.stdout


def test_unchanged_rebuild_trains_and_embeds_nothing(full_build: FullBuild) -> None:
    [(first_run,)] = full_build.workspace.query("select run_id from training_runs")
    [(snapshots_before,)] = full_build.iceberg_embeddings(
        "select count(distinct embedded_at) from {embeddings}"
    )

    second = full_build.build()

    assert second.ok, second.summary()
    assert full_build.workspace.query("select run_id, reused from training_runs") == [(first_run, True)]
    assert full_build.iceberg_embeddings("select count(distinct embedded_at) from {embeddings}") == [
        (snapshots_before,)
    ]


def test_changed_config_retrains(full_build: FullBuild) -> None:
    [(before,)] = full_build.workspace.query("select count(*) from training_runs")

    changed = full_build.build("--select", "training_runs", training=TRAINING | {"lora_r": 4})

    assert changed.ok, changed.summary()
    latest = full_build.workspace.query(
        "select reused, trainable_params from training_runs order by built_at desc limit 1"
    )
    assert full_build.workspace.query("select count(*) from training_runs") == [(before + 1,)]
    assert latest[0][0] is False


def test_broken_artifact_fails_with_a_clear_error(full_build: FullBuild, tmp_path: Path) -> None:
    copy = full_build.workspace.copy_to(tmp_path)
    [(trained,)] = copy.query("select artifact_path from training_runs order by built_at desc limit 1")
    artifact = str(tmp_path / "broken_artifact")
    shutil.copytree(trained, artifact)
    (Path(artifact) / "model.safetensors").unlink()
    copy.execute(f"update training_runs set artifact_path = '{artifact}'")

    result = run_dbt(["run", "--select", "chunk_embeddings"], copy.env)

    assert not result.ok
    message = result.stdout + result.stderr
    assert artifact in message
    assert "model.safetensors" in message
