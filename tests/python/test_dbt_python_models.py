"""The dbt Python models end to end on the demo corpus: real LoRA training steps on CPU, a real
evaluation, embeddings written to Iceberg and read back with iceberg_scan, the no-op rebuild,
retraining on a config change, and a clear error for a broken artifact.

One full build (module fixture) with short sequences feeds the tests; the external evaluation
sets and STS-B are left out (VECTORFIN_EVALS_DIR and VECTORFIN_GENERAL_DIR point at an empty folder) to
keep the module quick.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
from demo_builds import DEMO_TRAINING, JUDGE_SMALL_SETS, TrainedDemo
from mlflow.tracking import MlflowClient
from PIL import Image
from test_report import SECTIONS as REPORT_SECTIONS

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.project_vars import project_var
from vectorfin.dbt_workspace import DbtResult, DbtWorkspace, run_dbt
from vectorfin.ml.tracking import EXPERIMENT, RUN_ID_TAG
from vectorfin.report import DOCS_SUBDIR, REPORT_DIR, REPORT_PAGE

EMBEDDINGS_TABLE = "embeddings/chunk_embeddings"
# What dbt reads of the project (a copy of these is a working project).
DBT_PROJECT_FILES = (
    "dbt_project.yml",
    "models",
    "python_models",
    "macros",
    "seeds",
    "tests/data_tests",
    "analyses",
)
REGRESSION_TEST = "accepted_values_regression_check_passed__False__True"
# the base model's NDCG@10 on main_eval_set, as the retrieval check compares it
BASE_NDCG = "select base_value from regression_check where check_name = 'retrieval'"
# Quotes, a statement separator and both comment markers: text, never SQL.
NASTY_QUERY = "What's the CEO's view on margins?'); create table pwned as select 1; -- /* drop */"

pytestmark = pytest.mark.slow


class FullBuild:
    def __init__(self, workspace: DbtWorkspace, first: DbtResult) -> None:
        self.workspace = workspace
        self.first = first

    def build(self, *args: str, training: dict | None = None) -> DbtResult:
        return run_dbt(
            ["build", *args],
            self.workspace.env,
            vars={"training": training or DEMO_TRAINING, **JUDGE_SMALL_SETS},
        )

    def iceberg_embeddings(self, sql: str) -> list[tuple]:
        return self.workspace.query(
            sql.replace("{embeddings}", f"iceberg_scan('{self.embeddings_location}')")
        )

    @property
    def embeddings_location(self) -> str:
        return f"{self.workspace.env['VECTORFIN_WAREHOUSE']}/{EMBEDDINGS_TABLE}"


def mlflow_client(workspace: DbtWorkspace) -> MlflowClient:
    artifacts = Path(workspace.env["VECTORFIN_ARTIFACTS"])
    return MlflowClient(tracking_uri=f"sqlite:///{artifacts / 'mlflow' / 'mlflow.db'}")


def mlflow_runs(workspace: DbtWorkspace) -> list:
    client = mlflow_client(workspace)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id]) if experiment else []


def table_names(workspace: DbtWorkspace) -> set[str]:
    return {name for (name,) in workspace.query("select table_name from duckdb_tables()")}


def printed_hits(output: str) -> list[str]:
    """The rows of a table dbt printed (run-operation print_table, dbt show): lines starting with a score."""
    return [line for line in output.splitlines() if re.match(r"^\| -?[0-9]\.[0-9]", line)]


@pytest.fixture(scope="module")
def full_build(trained_demo: TrainedDemo) -> FullBuild:
    return FullBuild(trained_demo.workspace, trained_demo.first)


def test_training_runs_real_lora_steps_on_cpu(full_build: FullBuild) -> None:
    [(device, precision, steps, reused, trainable, total, artifact, snapshots)] = full_build.workspace.query(
        "select device, precision, steps, reused, trainable_params, total_params, artifact_path, "
        "raw_snapshots from training_runs"
    )
    read = dict(full_build.workspace.query("select source_table, snapshot_id from stg_raw__snapshots_read"))

    assert (device, precision, reused) == ("cpu", "fp32", False)
    assert json.loads(snapshots) == read and all(read.values())  # the run names the raw snapshots it read
    assert steps > 0
    assert 0 < trainable < total / 10
    assert (Path(artifact) / "adapter" / "adapter_config.json").exists()
    assert (Path(artifact) / "README.md").read_text().strip()


def test_the_run_report_is_written_beside_the_artifact_and_linked_from_the_card(
    full_build: FullBuild,
) -> None:
    """run_report writes a PNG per section and a page into <artifact>/report/, the model card links the
    page, and the charts are copied to the docs assets folder (here the workspace's)."""
    workspace = full_build.workspace
    [(run_id, artifact)] = workspace.query(
        "select run_id, artifact_path from training_runs order by built_at desc limit 1"
    )
    rows = workspace.query(
        "select section, chart_path, docs_chart_path, report_path, run_id, summary from run_report"
    )
    docs_assets = Path(workspace.env["VECTORFIN_DOCS_ASSETS"]) / DOCS_SUBDIR
    page = Path(artifact) / REPORT_DIR / REPORT_PAGE

    assert full_build.first.status("run_report") == "success"
    assert {row[0] for row in rows} == set(REPORT_SECTIONS)
    for section, chart, docs_chart, report_path, reported_run, _ in rows:
        assert (reported_run, Path(report_path)) == (run_id, page)
        assert Path(chart) == Path(artifact) / REPORT_DIR / f"{section}.png"
        data = Path(chart).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000, section
        with Image.open(chart) as image:
            image.verify()
        assert Path(docs_chart) == docs_assets / f"{section}.png"
        assert Path(docs_chart).read_bytes() == data
        assert f"]({section}.png)" in page.read_text()
    assert f"]({REPORT_DIR}/{REPORT_PAGE})" in (Path(artifact) / "README.md").read_text()
    summaries = {row[0]: row[5] for row in rows}
    assert summaries["ndcg_at_10"].startswith("tuned vs base NDCG@10 on the test part: ")
    assert "heldout_pairs " in summaries["ndcg_at_10"]
    assert summaries["quality_gate"].endswith("expectations passed")


def test_dbt_docs_generate_puts_the_latest_charts_into_the_docs_site(
    full_build: FullBuild, tmp_path: Path
) -> None:
    """In a copy of the project whose assets folder is the default one: run_report writes the charts
    there, and `dbt docs generate` copies them into the site the run_report description points at."""
    project = copy_of_project(tmp_path / "project")
    copy = full_build.workspace.copy_to(tmp_path / "workspace")
    copy.env["VECTORFIN_DOCS_ASSETS"] = str(project / "assets")
    site = tmp_path / "docs_run"

    reported = run_dbt(["run", "--select", "run_report"], copy.env, project_dir=project)
    generated = run_dbt(["docs", "generate"], copy.env, project_dir=project, run_dir=site)

    assert reported.ok, reported.summary()
    assert generated.ok, generated.summary()
    manifest = json.loads((site / "target" / "manifest.json").read_text())
    description = manifest["nodes"]["model.vectorfin_finetune.run_report"]["description"]
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", description)
    assert len(images) == len(REPORT_SECTIONS)
    for image in images:
        served = site / "target" / image
        assert served.read_bytes() == (project / image).read_bytes(), image
        assert served.read_bytes().startswith(b"\x89PNG")


def test_evaluation_logs_its_progress_in_the_dbt_log(full_build: FullBuild) -> None:
    output = full_build.first.stdout
    for model in ("base", "tuned"):
        assert re.search(
            rf"evaluation heldout_pairs / {model}: (\d+)/\1 texts \(100%\), [0-9.]+ texts/s", output
        )


def test_retrieval_metrics_compare_base_tuned_and_bm25(full_build: FullBuild) -> None:
    rows = full_build.workspace.query(
        "select model, metric, value, n_queries from retrieval_metrics where eval_set = 'heldout_pairs'"
    )

    assert {(model, metric) for model, metric, _, _ in rows} == {
        (model, metric)
        for model in (
            "base",
            "tuned",
            "tuned@256",
            "tuned@128",
            "tuned@64",
            "bm25",
            "base+bm25",
            "tuned+bm25",
        )
        for metric in ("ndcg@10", "mrr@10", "recall@1", "recall@5", "recall@10", "map@100")
    }
    assert all(0.0 <= value <= 1.0 and n_queries > 0 for _, _, value, n_queries in rows)
    assert full_build.first.status(REGRESSION_TEST) == "pass"
    checks = full_build.workspace.query(
        "select check_name, model_run_id, passed, reason from regression_check"
    )
    [run_id] = full_build.workspace.query("select run_id from training_runs")[0]
    assert {name for name, *_ in checks} == {"retrieval", "forgetting"}
    assert all(judged == run_id and passed for _, judged, passed, _ in checks)
    # no STS-B file beside this workspace: the forgetting check says it had nothing to judge
    assert any(name == "forgetting" and "not checked" in reason for name, _, _, reason in checks)


def test_a_truncated_evaluation_cache_is_recomputed(full_build: FullBuild, tmp_path: Path) -> None:
    """A cache file cut short (a build killed mid-write, before writes were atomic) must not fail
    retrieval_metrics on every later build: it is recomputed, with a warning, and rewritten whole."""
    copy = full_build.workspace.copy_to(tmp_path)
    [(artifact,)] = copy.query("select artifact_path from training_runs order by built_at desc limit 1")
    # the metrics and, beside them, the same scores query by query (retrieval_query_metrics reads those)
    [query_values] = (Path(artifact) / "evaluations").glob("*.queries.parquet")
    cache = query_values.with_name(query_values.name.replace(".queries", ""))
    whole = cache.read_bytes()
    metrics = copy.query("select * from retrieval_metrics order by all")
    cache.write_bytes(whole[: len(whole) // 2])

    result = run_dbt(["run", "--select", "retrieval_metrics"], copy.env)

    assert result.ok, result.summary()
    assert "is unreadable, recomputing it" in result.stdout + result.stderr
    assert copy.query("select * from retrieval_metrics order by all") == metrics
    assert copy.query(f"select count(*) from read_parquet('{cache}')") == [(len(metrics),)]
    # no temporary file left
    assert sorted(path.name for path in cache.parent.iterdir()) == [cache.name, query_values.name]


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


def test_round_two_mines_hard_negatives_with_the_published_vectors(
    full_build: FullBuild, tmp_path: Path
) -> None:
    """var hard_negative_round 2: the pairs rebuilt on the vectors the trained run wrote back, through
    the pair tests and the quality gate (one of them: a negative is never the text of either side)."""
    copy = full_build.workspace.copy_to(tmp_path)
    selection = ["stg_embeddings__chunk_embeddings", "int_negatives__embedding_neighbour+"]
    result = run_dbt(
        ["build", "--select", *selection, "--exclude", "training_runs+"],
        copy.env,
        vars={"training": DEMO_TRAINING, **JUDGE_SMALL_SETS, "hard_negative_round": 2},
    )
    assert result.ok, result.summary()

    [(mined, above_guard)] = copy.query(
        "select count(*), count(*) filter (where similarity >= positive_similarity - ?) "
        "from int_negatives__embedding_neighbour",
        [project_var("embedding_negative_margin")],
    )
    [(neighbours, same_document)] = copy.query(
        "select count(*), count(*) filter (where negative_doc_id in (anchor_doc_id, positive_doc_id)) "
        "from training_pairs where negative_rule = 'embedding_neighbour'"
    )
    assert mined > 0 and above_guard == 0
    assert neighbours > 0 and same_document == 0


def test_semantic_search_returns_ranked_chunks(full_build: FullBuild) -> None:
    result = run_dbt(
        ["run-operation", "print_semantic_search", "--args", "{query: 'gross margin guidance', k: 3}"],
        full_build.workspace.env,
    )

    assert result.ok, result.summary()
    assert "score" in result.stdout and "chunk_text" in result.stdout
    assert len(printed_hits(result.stdout)) == 3


def test_semantic_search_takes_any_text_as_the_query(full_build: FullBuild) -> None:
    """Quotes, `;`, `--` and `/*` in the query are text: the search finds hits and runs nothing else,
    whether called by run-operation or inside a model (dbt show --inline compiles it like one)."""
    workspace = full_build.workspace
    tables = table_names(workspace)
    [(published,)] = workspace.query("select distinct model_run_id from chunk_embeddings")

    operation = run_dbt(
        ["run-operation", "print_semantic_search", "--args", f'{{query: "{NASTY_QUERY}", k: 3}}'],
        workspace.env,
    )
    inline = run_dbt(
        ["show", "--inline", f'{{{{ semantic_search("{NASTY_QUERY}", k=2) }}}}', "--limit", "5"],
        workspace.env,
    )

    assert operation.ok, operation.summary()
    hits = printed_hits(operation.stdout)
    assert len(hits) == 3 and all(published in hit for hit in hits)
    assert inline.ok, inline.summary()
    assert len(printed_hits(inline.stdout)) == 2
    assert table_names(workspace) == tables


@pytest.mark.parametrize("k", ["3; create table pwned as select 1", 0, -2, "true"])
def test_semantic_search_k_must_be_a_positive_integer(full_build: FullBuild, k: object) -> None:
    tables = table_names(full_build.workspace)

    result = run_dbt(
        ["run-operation", "print_semantic_search", "--args", json.dumps({"query": "margins", "k": k})],
        full_build.workspace.env,
    )

    assert not result.ok
    assert "semantic_search: k must be a positive integer" in result.stdout
    assert table_names(full_build.workspace) == tables


def test_search_without_published_embeddings_is_a_clear_error(full_build: FullBuild, tmp_path: Path) -> None:
    copy = full_build.workspace.copy_to(tmp_path)
    copy.execute("delete from chunk_embeddings")

    result = run_dbt(["run-operation", "print_semantic_search", "--args", "{query: margins}"], copy.env)

    assert not result.ok
    assert "No embeddings to search" in result.stdout and "no run is published yet" in result.stdout


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
    # the run is in MLflow once, with its metrics and artifacts, though two builds logged it
    [logged] = mlflow_runs(full_build.workspace)
    assert logged.data.tags[RUN_ID_TAG] == first_run
    assert logged.data.metrics["tuned.heldout_pairs.test.ndcg_at_10"] >= 0
    assert logged.data.params["training.seed"] == str(DEMO_TRAINING["seed"])
    assert int(logged.data.params["pairs_per_strategy.qa_turns"]) > 0
    assert {"run_report", "model"} <= {
        entry.path for entry in mlflow_client(full_build.workspace).list_artifacts(logged.info.run_id)
    }


def test_changed_config_retrains(full_build: FullBuild) -> None:
    [(before,)] = full_build.workspace.query("select count(*) from training_runs")

    changed = full_build.build("--select", "training_runs", training=DEMO_TRAINING | {"lora_r": 4})

    assert changed.ok, changed.summary()
    latest = full_build.workspace.query(
        "select reused, trainable_params from training_runs order by built_at desc limit 1"
    )
    assert full_build.workspace.query("select count(*) from training_runs") == [(before + 1,)]
    assert latest[0][0] is False


def test_broken_artifact_fails_with_a_clear_error(full_build: FullBuild, tmp_path: Path) -> None:
    """The first model to load the current run's artifact is retrieval_metrics (chunk_embeddings loads
    it only for a run the regression check passed, which needs retrieval_metrics first)."""
    copy = full_build.workspace.copy_to(tmp_path)
    [(trained,)] = copy.query("select artifact_path from training_runs order by built_at desc limit 1")
    artifact = str(tmp_path / "broken_artifact")
    shutil.copytree(trained, artifact, ignore=shutil.ignore_patterns("evaluations"))
    (Path(artifact) / "model.safetensors").unlink()
    copy.execute(f"update training_runs set artifact_path = '{artifact}'")

    result = run_dbt(["run", "--select", "retrieval_metrics"], copy.env)

    assert not result.ok
    message = result.stdout + result.stderr
    assert artifact in message
    assert "model.safetensors" in message


def test_a_regressed_run_is_not_published(full_build: FullBuild) -> None:
    """A new run whose NDCG@10 regressed (planted in retrieval_metrics: the honest way to get one on a
    corpus this small) must not reach Iceberg or search: `dbt run` keeps the last published run's
    vectors and says why, `dbt build` fails its test and skips chunk_embeddings. Once the check passes,
    the run is published and replaces the old one in chunk_embeddings."""
    workspace = full_build.workspace
    [(published,)] = workspace.query("select distinct model_run_id from chunk_embeddings")
    snapshots = f"select count(*) from iceberg_snapshots('{full_build.embeddings_location}')"
    [(snapshots_before,)] = workspace.query(snapshots)
    # the run test_changed_config_retrains trained: reused then, trained here when run alone
    trained = full_build.build(
        "--select", "training_runs", "retrieval_metrics", training=DEMO_TRAINING | {"lora_r": 4}
    )
    assert trained.ok, trained.summary()
    [(new_run,)] = workspace.query("select run_id from training_runs order by built_at desc limit 1")
    # the demo's held-out queries are all of one company, in the test part: the check reads the tune part
    workspace.execute("update retrieval_metrics set eval_part = 'tune' where eval_set = 'heldout_pairs'")
    [(base_ndcg,)] = workspace.query(BASE_NDCG)
    assert new_run != published and base_ndcg > 0.02
    workspace.execute(
        "update retrieval_metrics set value = 0 "
        "where model = 'tuned' and metric = 'ndcg@10' and eval_set = 'heldout_pairs'"
    )

    kept = run_dbt(["run", "--select", "chunk_embeddings"], workspace.env, vars=JUDGE_SMALL_SETS)
    built = run_dbt(
        ["build", "--select", "regression_check", "chunk_embeddings", "run_report"],
        workspace.env,
        vars=JUDGE_SMALL_SETS,
    )
    reported = run_dbt(["run", "--select", "run_report"], workspace.env, vars=JUDGE_SMALL_SETS)
    search = run_dbt(
        ["run-operation", "print_semantic_search", "--args", "{query: margins, k: 2}"], workspace.env
    )

    assert kept.ok, kept.summary()
    assert (
        f"Not publishing: run {new_run}: retrieval: tuned ndcg@10 0.0 is more than 0.02 below base"
        in kept.stdout + kept.stderr
    )
    assert workspace.query("select distinct model_run_id from chunk_embeddings") == [(published,)]
    assert workspace.query(snapshots) == [(snapshots_before,)]
    assert full_build.iceberg_embeddings(
        f"select count(*) from {{embeddings}} where model_run_id = '{new_run}'"
    ) == [(0,)]
    assert not built.ok
    assert (built.status(REGRESSION_TEST), built.status("chunk_embeddings")) == ("fail", "skipped")
    # the report is skipped by the failed test too; run alone, it shows why the run is not published
    assert built.status("run_report") == "skipped" and reported.ok, reported.summary()
    [(verdict,)] = workspace.query("select summary from run_report where section = 'regression_checks'")
    assert verdict.startswith("failed: retrieval: tuned ndcg@10 0.0 is more than 0.02 below base")
    hits = printed_hits(search.stdout)
    assert search.ok and len(hits) == 2 and all(published in hit for hit in hits)

    workspace.execute(
        f"update retrieval_metrics set value = ({BASE_NDCG}) "
        "where model = 'tuned' and metric = 'ndcg@10' and eval_set = 'heldout_pairs'"
    )
    published_now = run_dbt(["run", "--select", "chunk_embeddings"], workspace.env, vars=JUDGE_SMALL_SETS)

    assert published_now.ok, published_now.summary()
    # one commit; chunk_embeddings, the table search serves, now holds the new run alone
    assert workspace.query(snapshots) == [(snapshots_before + 1,)]
    assert workspace.query("select distinct model_run_id from chunk_embeddings") == [(new_run,)]


def test_the_analyst_loop_compares_an_edited_strategy_with_the_published_run(
    trained_demo: TrainedDemo, tmp_path: Path
) -> None:
    """docs/analyst_guide.md's loop, in a copy of the project and of the demo as first built: edit a
    strategy's SQL, `dbt build --select int_pairs__qa_turns+`, read run_comparison and the MLflow store."""
    project = copy_of_project(tmp_path / "project")
    strategy = project / "models" / "intermediate" / "pair_strategies" / "int_pairs__qa_turns.sql"
    join = "answers.answer_turn_idx = question_texts.question_turn_idx + 1"
    assert join in strategy.read_text()
    strategy.write_text(
        strategy.read_text().replace(join, f"{join}\n            and md5(answers.chunk_id) < '8'")
    )
    copy = trained_demo.pristine.copy_to(tmp_path / "workspace")
    [(published,)] = copy.query("select distinct model_run_id from chunk_embeddings")

    # the edit changes the pairs the strategy's unit test expects: the analyst updates that test too
    built = run_dbt(
        ["build", "--select", "int_pairs__qa_turns+", "--exclude", "test_type:unit"],
        copy.env,
        vars={"training": DEMO_TRAINING, **JUDGE_SMALL_SETS},
        project_dir=project,
    )

    assert built.ok, built.summary()
    [(latest,)] = copy.query("select run_id from training_runs order by built_at desc limit 1")
    assert latest != published
    rows = copy.query(
        "select section, model, eval_set, eval_part, item, reference_run_id, difference, ci_low, ci_high, "
        "verdict from run_comparison"
    )
    metric_rows = [row for row in rows if row[0] == "metric"]
    scored = {row[0] for row in copy.query("select distinct eval_set from retrieval_query_metrics")}
    assert {row[2] for row in metric_rows if row[1] == "tuned" and row[4] == "ndcg@10"} == scored
    for _, _, _, _, _, reference, difference, low, high, verdict in metric_rows:
        assert reference == published
        assert difference is not None and low <= difference <= high
        assert verdict == ("better" if low > 0 else "worse" if high < 0 else "within noise")
    strategies = {row[4]: row[9] for row in rows if row[0] == "pairs per strategy"}
    assert strategies["qa_turns"] == "changed"
    assert any(verdict == "within noise" for *_, verdict in metric_rows)  # the demo's sets are tiny
    [(summary,)] = copy.query("select summary from run_report where section = 'run_comparison'")
    assert summary.startswith(f"against run {published} on the same test queries")
    logged = {run.data.tags[RUN_ID_TAG] for run in mlflow_runs(copy)}
    assert latest in logged


def copy_of_project(project: Path) -> Path:
    project.mkdir()
    for name in DBT_PROJECT_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name)
        else:
            shutil.copy2(source, project / name)
    return project


def test_var_mlflow_tracking_false_logs_nothing(trained_demo: TrainedDemo, tmp_path: Path) -> None:
    copy = trained_demo.pristine.copy_to(tmp_path)  # with an empty MLflow store of its own
    [(run_id,)] = copy.query("select run_id from training_runs")

    off = run_dbt(["run", "--select", "mlflow_runs"], copy.env, vars={"mlflow_tracking": False})
    assert off.ok, off.summary()
    assert mlflow_runs(copy) == []

    on = run_dbt(["run", "--select", "mlflow_runs"], copy.env)
    assert on.ok, on.summary()
    assert [logged.data.tags[RUN_ID_TAG] for logged in mlflow_runs(copy)] == [run_id]
