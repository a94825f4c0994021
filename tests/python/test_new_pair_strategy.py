"""Adding a pair strategy as an analyst would, in a copy of the project: one new SQL file, one registry
entry in dbt_project.yml, and its description and unit test in the folder's yml. Nothing else changes
(no accepted-values list, no test, no macro), and the demo build finds the new strategy's pairs in
training_pairs, with its unit test run and every test and the quality gate passing.

The number of files touched is what docs/adding_a_pair_strategy.md tells analysts; the test reads it
from there, so the guide cannot drift from what the project needs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from demo_builds import DemoBuild

from vectorfin.config import PROJECT_ROOT
from vectorfin.dbt_workspace import ML_MODELS_EXCLUDE, run_dbt

STRATEGY = "prepared_remarks_headlines"
MODEL = f"int_pairs__{STRATEGY}"
STRATEGY_FOLDER = Path("models/intermediate/pair_strategies")
GUIDE = PROJECT_ROOT / "docs" / "adding_a_pair_strategy.md"

# What the analyst writes (tests/python/new_pair_strategy/): a realistic toy strategy, in prepared
# remarks the first sentence that states a figure (the executive's headline, after the greeting) -> the
# rest of the chunk, which explains it; its entry in _pair_strategies.yml's models; its unit test.
ANALYST_FILES = Path(__file__).parent / "new_pair_strategy"
UNIT_TEST_NAME = f"{STRATEGY}_pair_each_headline_with_the_rest_of_its_chunk"


def copy_project(destination: Path) -> Path:
    """The project's files as git sees them (tracked, and new files not ignored): no local state."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for relative in filter(None, listed.split("\0")):
        source = PROJECT_ROOT / relative
        if source.is_file() and not source.is_symlink():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def register_strategy(project_file: Path) -> None:
    """One line: the strategy's entry at the end of var pair_strategies."""
    lines = project_file.read_text().splitlines(keepends=True)
    start = lines.index("  pair_strategies:\n")
    end = start + 1
    while lines[end].startswith("    "):
        end += 1
    lines.insert(end, f"    {STRATEGY}: {{enabled: true, weight: 1.0}}\n")
    project_file.write_text("".join(lines))


def document_and_unit_test(strategies_yml: Path) -> None:
    """The model's entry at the end of `models:` (it reuses the shared contract columns) and its unit
    test at the end of `unit_tests:`, the last list of the file."""
    text = strategies_yml.read_text()
    assert text.count("\nunit_tests:\n") == 1 and text.endswith("\n")
    model_entry = (ANALYST_FILES / "model.yml").read_text()
    text = text.replace("\nunit_tests:\n", "\n" + model_entry + "unit_tests:\n")
    strategies_yml.write_text(text + (ANALYST_FILES / "unit_test.yml").read_text())


def changed_files(original: Path, copy: Path) -> set[str]:
    """Files added or changed in `copy` relative to `original` (the project folder)."""
    changed = set()
    for path in copy.rglob("*"):
        if path.is_file():
            relative = path.relative_to(copy)
            before = original / relative
            if not before.is_file() or before.read_bytes() != path.read_bytes():
                changed.add(str(relative))
    return changed


def files_the_guide_promises() -> int:
    match = re.search(r"\*\*(\d+) files\*\*", GUIDE.read_text())
    assert match, f"{GUIDE} should say how many files adding a strategy touches, as **<n> files**"
    return int(match[1])


@pytest.fixture(scope="module")
def project_with_new_strategy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("project"))
    shutil.copy(ANALYST_FILES / f"{MODEL}.sql", project / STRATEGY_FOLDER / f"{MODEL}.sql")
    register_strategy(project / "dbt_project.yml")
    document_and_unit_test(project / STRATEGY_FOLDER / "_pair_strategies.yml")
    return project


def test_the_analyst_touches_as_many_files_as_the_guide_says(project_with_new_strategy: Path) -> None:
    assert changed_files(PROJECT_ROOT, project_with_new_strategy) == {
        str(STRATEGY_FOLDER / f"{MODEL}.sql"),
        "dbt_project.yml",
        str(STRATEGY_FOLDER / "_pair_strategies.yml"),
    }
    assert files_the_guide_promises() == 3


def test_a_new_strategy_reaches_training_pairs(
    project_with_new_strategy: Path, sql_demo: DemoBuild, tmp_path: Path
) -> None:
    # the analyst's build on a built warehouse (docs/adding_a_pair_strategy.md): the strategy and
    # everything downstream of it
    workspace = sql_demo.workspace.copy_to(tmp_path)
    selection = ["--select", f"{MODEL}+", *ML_MODELS_EXCLUDE]

    result = run_dbt(["build", *selection], workspace.env, project_dir=project_with_new_strategy)

    assert result.ok, result.summary()
    assert result.status(UNIT_TEST_NAME) == "pass"
    assert result.status("training_pairs_quality_gate") == "success"
    (pairs, examples) = workspace.query(
        "select count(distinct pair_id), count(*) from training_pairs where strategy = ?", [STRATEGY]
    )[0]
    assert pairs >= 2 and examples >= pairs, (pairs, examples)
    # the pairs are what the strategy says: a headline with a figure, and the rest of its chunk
    rows = workspace.query(
        "select anchor_text, positive_text, anchor_chunk_id = positive_chunk_id from training_pairs"
        " where strategy = ?",
        [STRATEGY],
    )
    assert all(re.search(r"[0-9]", anchor) and same_chunk for anchor, _, same_chunk in rows)
