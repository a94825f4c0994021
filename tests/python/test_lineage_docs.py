"""What the lineage docs promise, read from the project's parsed manifest: the exposures, the doc blocks
for the ideas an analyst needs (each referenced where it applies), one doc block per quarantine reason
shown on rejected_chunks.reason, and enforced contracts on the marts other systems read."""

from __future__ import annotations

import json
from typing import Any

import pytest
from documented_shell import DocumentedShell

PROJECT = "vectorfin_finetune"
CONCEPTS = ("good_pair", "hard_negative", "point_in_time", "leakage", "quality_gate")
CONTRACT_MARTS = ("training_pairs", "rejected_chunks", "eval_queries", "eval_corpus", "eval_qrels")
EXPOSURES = {
    "iceberg_chunk_embeddings": {"chunk_embeddings"},
    "fine_tuned_embedding_model": {"training_runs"},
    "semantic_search": {"search_chunks", "chunk_embeddings", "training_runs"},
}


@pytest.fixture(scope="module")
def manifest(documented_demo: DocumentedShell) -> dict[str, Any]:
    target = documented_demo.root / "parsed"
    parsed = documented_demo.run("dbt parse", extra_env={"DBT_TARGET_PATH": str(target)})
    assert parsed.returncode == 0, parsed.stdout[-3000:]
    return json.loads((target / "manifest.json").read_text())


def model(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return manifest["nodes"][f"model.{PROJECT}.{name}"]


def descriptions(manifest: dict[str, Any]) -> list[str]:
    """Every rendered description: nodes, their columns, sources and exposures."""
    texts = []
    for node in [*manifest["nodes"].values(), *manifest["sources"].values(), *manifest["exposures"].values()]:
        texts.append(node.get("description") or "")
        texts.extend(column.get("description") or "" for column in (node.get("columns") or {}).values())
    return texts


def doc_block(manifest: dict[str, Any], name: str) -> str:
    unique_id = f"doc.{PROJECT}.{name}"
    assert unique_id in manifest["docs"], f"no doc block {name}"
    return manifest["docs"][unique_id]["block_contents"].strip()


def test_exposures_name_what_they_depend_on_and_who_owns_them(manifest: dict[str, Any]) -> None:
    exposures = {exposure["name"]: exposure for exposure in manifest["exposures"].values()}
    assert set(exposures) == set(EXPOSURES)
    for name, needed in EXPOSURES.items():
        exposure = exposures[name]
        parents = {unique_id.split(".")[-1] for unique_id in exposure["depends_on"]["nodes"]}
        assert needed <= parents, (name, parents)
        assert exposure["owner"]["name"] and len(exposure["description"]) > 200, name


def test_each_concept_has_a_doc_block_shown_where_it_applies(manifest: dict[str, Any]) -> None:
    rendered = descriptions(manifest)
    for concept in CONCEPTS:
        block = doc_block(manifest, concept)
        assert any(block in text for text in rendered), f"doc block {concept} is referenced nowhere"
    assert (
        doc_block(manifest, "hard_negative")
        in model(manifest, "training_pairs")["columns"]["negative_text"]["description"]
    )
    assert (
        doc_block(manifest, "point_in_time")
        in model(manifest, "training_pairs")["columns"]["knowledge_ts"]["description"]
    )


def test_every_quarantine_reason_is_explained_on_the_reason_column(manifest: dict[str, Any]) -> None:
    rejected = model(manifest, "rejected_chunks")
    tests = [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("attached_node") == rejected["unique_id"]
        and node.get("column_name") == "reason"
        and node["test_metadata"]["name"] == "accepted_values"
    ]
    (accepted,) = tests
    reasons = accepted["test_metadata"]["kwargs"]["values"]
    documented = sorted(
        name.split(".")[-1].removeprefix("quarantine_reason__")
        for name in manifest["docs"]
        if name.startswith(f"doc.{PROJECT}.quarantine_reason__")
    )
    assert sorted(reasons) == documented
    reason_column = rejected["columns"]["reason"]["description"]
    for reason in reasons:
        assert doc_block(manifest, f"quarantine_reason__{reason}") in reason_column, reason


def test_marts_other_systems_read_have_enforced_contracts(manifest: dict[str, Any]) -> None:
    for name in CONTRACT_MARTS:
        node = model(manifest, name)
        assert node["contract"]["enforced"], name
        untyped = [column for column, spec in node["columns"].items() if not spec.get("data_type")]
        assert not untyped, (name, untyped)
