"""Every command in the README and docs/*.md is run by a test, or by CI, or at least parsed.

The commands are the lines of the ```bash / ```sh / ```python code blocks (a command spans lines while
a quote is open or a line ends in `\\`; python blocks run whole). Each gets a plan from `plan_for`, by
rule, and a command no rule covers fails `test_every_documented_command_has_a_plan`, so a new
command in the docs is never left untested. They run in the shell a reader gets (documented_shell):
`make build` of the demo corpus (the SQL pipeline, shared with the browser test), then
`source .venv/bin/activate` (a copy of the activate script with the Makefile's hook), then the command
as written, from the project folder, on a throwaway warehouse.

Run as written:   source .venv/bin/activate; dbt docs generate; dbt show --select ...; dbt show --inline
                  on SQL models; dbt test --select ...; dbt build --select ... --exclude training_runs+;
                  python -m vectorfin query ...; the README's python snippet; adding_a_pair_strategy.md's
                  commands for `my_strategy`, with qa_turns in its place.
Run, expecting the documented error: dbt run-operation print_semantic_search (the SQL build has
                  published no run: "No embeddings to search"; tests/python/test_dbt_python_models.py
                  runs the search on a trained build).
Run by CI:        make test (.ci/run).
Run with the SQL pipeline only: make build (as DBT_ARGS="--exclude training_runs+": the fixture's build;
                  the ML models' full build is test_dbt_python_models').
Parsed only:      dbt build / run without --exclude training_runs+ (they train: `dbt ls` with the same
                  selection and --vars); dbt show on the ML models (`dbt compile` with the same
                  arguments); make build CORPUS=../shared/data ... (`make -n`, a dry run: real data takes
                  minutes to hours); python benchmarks/*.py, python -m vectorfin embed-ray, and torchrun /
                  accelerate launch of a module (--help with the documented arguments, the launcher's left
                  out: each option must exist, and each value must parse; the benchmarks' all in one
                  interpreter, benchmark_help.py); export lines of the remote target (`bash -n`: they need
                  a remote catalog and credentials).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from documented_shell import DocumentedShell

from vectorfin.config import PROJECT_ROOT

DOCUMENTS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
SHELL_FENCES = {"bash", "sh", "shell", "console"}
CODE_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SQL_ONLY = "--exclude training_runs+"
# adding_a_pair_strategy.md writes its commands for a strategy that does not exist yet
TEMPLATE_STRATEGY = ("my_strategy", "qa_turns")
NO_PUBLISHED_RUN = "No embeddings to search"


def documented_commands() -> list[tuple[str, str]]:
    """(document, command) for every command of the docs' shell and python code blocks, in order,
    each once (the same words with other comments are the same command)."""
    found: dict[str, tuple[str, str]] = {}
    for document in DOCUMENTS:
        for fence, body in CODE_BLOCK.findall(document.read_text()):
            if fence == "python":
                command = f"python - <<'EOF'\n{body}EOF"
                found.setdefault(command, (document.name, command))
            elif fence in SHELL_FENCES:
                for command in shell_commands(body):
                    words = shlex.join(shlex.split(command, comments=True))
                    found.setdefault(words, (document.name, command))
    return list(found.values())


def shell_commands(block: str) -> list[str]:
    """The commands of a shell block: a line continues while a quote is open or it ends in `\\`."""
    commands, pending = [], ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        if pending.endswith("\\"):
            continue
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        if words:
            commands.append(pending.replace("\\\n", " ").strip())
        pending = ""
    assert not pending, f"unterminated command in a code block: {pending!r}"
    return commands


@dataclass(frozen=True)
class Plan:
    kind: str  # run, run-expecting-error, ci, dry-run, list, compile, help, syntax
    command: str  # what the test executes (in the activated shell unless kind says otherwise)
    expect_error: str | None = None


def plan_for(command: str) -> Plan | None:
    words = shlex.split(command, comments=True)
    if words == ["source", ".venv/bin/activate"]:
        return Plan("run", 'dbt --version && test -n "$DBT_PROFILES_DIR" && test "$HF_HUB_OFFLINE" = 1')
    if words[0] == "make":
        if words == ["make", "test"]:
            return Plan("ci", command)
        if words == ["make", "build"]:
            return Plan("run-sql-part", f'make build DBT_ARGS="{SQL_ONLY}"')
        return Plan("dry-run", shlex.join(["make", "-n", *words[1:]]))
    if words[0] == "export":
        return Plan("syntax", command)
    if words[0] == "python" and len(words) > 1 and words[1].startswith("benchmarks/"):
        return Plan("help", command)
    if words[0] == "torchrun" or words[:2] == ["accelerate", "launch"]:
        # several GPUs: the launched module's own arguments are parsed instead
        return Plan("help", shlex.join(["python", *words[words.index("-m") :]]))
    if words[:2] == ["mlflow", "ui"]:
        return Plan("help", command)  # a server: its options are checked instead
    if words[:4] == ["python", "-m", "vectorfin", "embed-ray"]:
        return Plan("help", command)  # a Ray cluster and a published run
    if words[0] == "python":
        return Plan("run", command)
    if words[0] == "dbt":
        return dbt_plan(command.replace(*TEMPLATE_STRATEGY))
    return None


def dbt_plan(command: str) -> Plan | None:
    words = shlex.split(command, comments=True)
    subcommand = words[1]
    if subcommand in {"build", "run"} and SQL_ONLY not in command:
        # trains (minutes on a CPU): parse the selection and vars instead
        return Plan("list", shlex.join(["dbt", "ls", *selection_args(words[2:])]))
    if subcommand == "show" and needs_training(words):
        return Plan("compile", shlex.join(["dbt", "compile", *without_limit(words[2:])]))
    if subcommand == "run-operation" and words[2] == "print_semantic_search":
        return Plan("run-expecting-error", command, NO_PUBLISHED_RUN)
    if subcommand in {"build", "run", "show", "test", "docs", "ls", "compile", "parse"}:
        return Plan("run", command)
    return None


# Models that exist only after training; the SQL build the commands run on has none of them.
TRAINED_MODELS = (
    "training_runs",
    "retrieval_metrics",
    "regression_check",
    "chunk_embeddings",
    "run_report",
    "search_chunks",
    "retrieval_query_metrics",
    "training_run_profiles",
    "published_runs",
    "run_comparison",
    "mlflow_runs",
)


def needs_training(words: list[str]) -> bool:
    text = " ".join(words)
    return any(re.search(rf"\b{name}\b", text) for name in TRAINED_MODELS)


def selection_args(args: list[str]) -> list[str]:
    """The arguments `dbt ls` shares with build/run: --select/-s, --exclude, --vars and their values."""
    kept, keep_next = [], False
    for arg in args:
        if keep_next or arg in {"--select", "-s", "--exclude", "--vars"}:
            kept.append(arg)
            keep_next = not keep_next
    return kept


def without_limit(args: list[str]) -> list[str]:
    kept, skip_next = [], False
    for arg in args:
        if skip_next:
            skip_next = False
        elif arg == "--limit":
            skip_next = True
        else:
            kept.append(arg)
    return kept


COMMANDS = documented_commands()


def test_every_documented_command_has_a_plan() -> None:
    unplanned = [f"{document}: {command}" for document, command in COMMANDS if plan_for(command) is None]
    assert not unplanned, (
        "commands in the docs no test runs or parses (add a rule to plan_for):\n" + "\n".join(unplanned)
    )
    kinds = {plan_for(command).kind for _, command in COMMANDS}
    # the quick start, the analyst's loop and the documented error are really run
    assert {"run", "run-sql-part", "run-expecting-error"} <= kinds


def test_ci_runs_what_the_docs_leave_to_ci() -> None:
    ci_commands = {
        shlex.join(words)
        for line in (PROJECT_ROOT / ".ci" / "run").read_text().splitlines()
        if (words := shlex.split(line, comments=True))
    }
    for _, command in COMMANDS:
        if plan_for(command).kind == "ci":
            assert shlex.join(shlex.split(command, comments=True)) in ci_commands, command


@pytest.mark.parametrize(
    "command",
    [command for _, command in COMMANDS],
    ids=[
        f"{getattr(plan_for(command), 'kind', '?')}: {command.splitlines()[0][:60]}"
        for _, command in COMMANDS
    ],
)
def test_documented_command(
    command: str, documented_demo: DocumentedShell, request: pytest.FixtureRequest
) -> None:
    plan = plan_for(command)
    assert plan is not None, command
    if plan.kind == "ci":
        pytest.skip("run by CI (.ci/run), not inside the test suite it runs")
    if plan.kind == "run-sql-part":
        # `make build` is how documented_demo was built; check what it left
        assert documented_demo.query("select count(*) from training_pairs")[0][0] > 0
        return
    if plan.kind in {"dry-run"}:
        words = shlex.split(plan.command)
        completed = documented_demo.make(*words[1:])
    elif plan.kind == "syntax":
        completed = subprocess.run(["bash", "-n", "-c", plan.command], capture_output=True, text=True)
    elif plan.kind == "help":
        completed = benchmark_help(documented_demo, plan.command, request)
    else:
        completed = documented_demo.run(plan.command)
    output = completed.stdout + completed.stderr
    if plan.expect_error:
        assert completed.returncode != 0 and plan.expect_error in output, output[-3000:]
    else:
        assert completed.returncode == 0, f"{plan.kind}: {plan.command}\n{output[-3000:]}"


def is_benchmark_help(command: str) -> bool:
    return plan_for(command).kind == "help" and shlex.split(command, comments=True)[1].startswith(
        "benchmarks/"
    )


@pytest.fixture(scope="module")
def benchmark_helps(documented_demo: DocumentedShell) -> dict[str, subprocess.CompletedProcess[str]]:
    """{command: its --help} for every documented `python benchmarks/...` command, all in one interpreter
    in the activated shell (benchmark_help.py: the scripts share their seconds of imports)."""
    commands = [command for _, command in COMMANDS if is_benchmark_help(command)]
    runner = PROJECT_ROOT / "tests" / "python" / "benchmark_help.py"
    completed = subprocess.run(
        ["bash", "-c", f'source "{documented_demo.activate_script}" && python "{runner}"'],
        cwd=PROJECT_ROOT,
        env=documented_demo.env,
        input=json.dumps(commands),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return {
        command: subprocess.CompletedProcess(command, help_["returncode"], help_["stdout"], help_["stderr"])
        for command, help_ in zip(commands, json.loads(completed.stdout), strict=True)
    }


def benchmark_help(
    shell: DocumentedShell, command: str, request: pytest.FixtureRequest
) -> subprocess.CompletedProcess[str]:
    """The command's --help after the documented arguments (argparse checks each value's type as it
    reads it, then prints the help), and every documented option among the options the help lists."""
    words = shlex.split(command, comments=True)  # a trailing `# comment` would swallow --help
    if is_benchmark_help(command):
        completed = request.getfixturevalue("benchmark_helps")[command]
    else:
        completed = shell.run(shlex.join([*words, "--help"]))
    options = {word.split("=")[0] for word in words if word.startswith("--")}
    unknown = sorted(option for option in options if option not in completed.stdout)
    if unknown:
        completed.returncode = 1
        completed.stderr += f"\noptions the script does not have: {unknown}"
    return completed


def build_selections() -> list[tuple[str, list[str]]]:
    """(command, its dbt selection arguments) for every documented `dbt build` / `dbt run` and every
    `make build` with DBT_ARGS."""
    selections = []
    for _, command in COMMANDS:
        words = shlex.split(command.replace(*TEMPLATE_STRATEGY), comments=True)
        if words[:2] in (["dbt", "build"], ["dbt", "run"]):
            selections.append((command, selection_args(words[2:])))
        elif words[:2] == ["make", "build"]:
            for word in words[2:]:
                if word.startswith("DBT_ARGS="):
                    selections.append((command, selection_args(shlex.split(word.removeprefix("DBT_ARGS=")))))
    return selections


def test_a_documented_build_that_leaves_a_model_out_leaves_out_what_reads_it(
    documented_demo: DocumentedShell,
) -> None:
    """`--exclude chunk_embeddings` once left `search_chunks`, which reads it, in the README's real-data
    build, which then failed at its last model on a missing table: an excluded model's children must be
    excluded too (`--exclude chunk_embeddings+`)."""

    @functools.cache  # a selection several documented commands share is listed once
    def models(*args: str) -> frozenset[str]:
        listed = documented_demo.run(
            shlex.join(["dbt", "ls", "--resource-type", "model", "--output", "name", "-q", *args])
        )
        assert listed.returncode == 0, listed.stdout[-3000:]
        return frozenset(listed.stdout.split())

    checked = 0
    for command, args in build_selections():
        excluded = [value for flag, value in zip(args[::2], args[1::2], strict=True) if flag == "--exclude"]
        nodes = [value.strip("+") for value in excluded if ":" not in value]
        built = models(*args) if nodes else set()
        for node in nodes:
            readers = models("--select", f"{node}+") - {node}
            assert not readers & built, f"{command}\nexcludes {node} but builds what reads it"
            checked += 1
    assert checked, "no documented build excludes a model: the check checked nothing"


def test_the_trained_models_are_what_training_runs_feeds(documented_demo: DocumentedShell) -> None:
    listed = documented_demo.run("dbt ls --select training_runs+ --resource-type model --output name -q")
    assert listed.returncode == 0, listed.stdout[-3000:]
    assert set(listed.stdout.split()) == set(TRAINED_MODELS)


def test_the_activated_shell_has_the_project_environment(documented_demo: DocumentedShell) -> None:
    """Activation alone (no make) gives dbt the project's profile and the throwaway paths given to it."""
    completed = documented_demo.run("dbt debug --no-version-check")
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert str(Path(documented_demo.env["VECTORFIN_DUCKDB_PATH"])) in completed.stdout
    assert str(PROJECT_ROOT / "profiles") in completed.stdout


def test_the_readme_gives_the_command_the_quality_benchmark_measures() -> None:
    """benchmarks/quality_report.py measures the README's real-data CPU command: the two must not drift."""
    spec = importlib.util.spec_from_file_location(
        "quality_report", PROJECT_ROOT / "benchmarks" / "quality_report.py"
    )
    assert spec is not None and spec.loader is not None
    quality_report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality_report)
    readme_commands = {shlex.join(shlex.split(command, comments=True)) for _, command in COMMANDS}
    assert shlex.join(shlex.split(quality_report.README_COMMAND)) in readme_commands
