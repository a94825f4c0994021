"""The run report: what went into a training run and how it scored, as PNG charts and one Markdown
page beside the run's artifact (`<artifact>/report/README.md`, linked from the model card), with the
charts also copied to `<docs assets>/run_report/`, where the dbt docs site loads the latest ones.

Sections, each a chart plus its figures in a table: training pairs per strategy (training_pairs),
quarantine reasons (rejected_chunks), the data-quality gate (training_pairs_quality_gate), the loss
curve (training_runs), NDCG@10 per evaluation set of base, tuned, BM25 and the hybrids
(retrieval_metrics), the checks that guard publication (regression_check: retrieval and the STS
Benchmark Spearman), and what changed against the reference run (run_comparison: NDCG@10 differences
with their intervals, pairs per strategy, training settings). The dbt model `run_report` calls
`write_run_report` after evaluation.

Charts are drawn with matplotlib's Agg canvas (no display, no pyplot state). Every file is written
atomically, the page last, so a killed build leaves each file whole (old or new).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vectorfin.files import write_atomically
from vectorfin.ml.labels import BASE_LABEL, TEST_PART, TUNED_LABEL

REPORT_DIR = "report"  # inside the run's artifact folder
REPORT_PAGE = "README.md"
DOCS_SUBDIR = "run_report"  # inside the docs assets folder
RESULT_COLUMNS = [
    "section",
    "title",
    "summary",
    "chart_path",
    "docs_chart_path",
    "report_path",
    "run_id",
    "written_at",
]
NDCG = "ndcg@10"
STS_METRIC = "spearman"
# Models in the order charts and tables show them, with their colours.
MODEL_COLOURS = {
    "base": "#8c8c8c",
    "tuned": "#1f77b4",
    "bm25": "#ff7f0e",
    "base+bm25": "#c7c7c7",
    "tuned+bm25": "#9ecae1",
}
COMPARISON_COLOURS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2")
PASS_COLOUR, FAIL_COLOUR = "#d8f0d2", "#f6d0cc"
BAR_COLOUR = "#1f77b4"
DPI = 110
WIDTH_INCHES = 8.0
MAX_LABEL_CHARS = 60  # longer labels are cut in charts (the page's tables hold them whole)


@dataclass(frozen=True)
class Section:
    name: str  # the chart's file stem
    title: str
    summary: str  # one line: what the chart says
    figure: Figure
    details: str  # Markdown under the chart: the figures as a table, notes


def write_run_report(
    run: pd.Series,
    pairs: pd.DataFrame,
    rejected: pd.DataFrame,
    gate: pd.DataFrame,
    metrics: pd.DataFrame,
    checks: pd.DataFrame,
    comparison: pd.DataFrame,
    docs_assets_dir: Path,
) -> pd.DataFrame:
    """Write the report of `run` (a training_runs row) and return one row per section.

    `pairs`: training_pairs' pair_id and strategy; `rejected`: rejected_chunks' reason; `gate`:
    training_pairs_quality_gate; `metrics`: retrieval_metrics; `checks`: regression_check; `comparison`:
    run_comparison. Scores
    that another run earned are not shown as this run's: the section says whose they are instead.
    """
    written_at = datetime.now(UTC).isoformat(timespec="seconds")
    report_dir = Path(run["artifact_path"]) / REPORT_DIR
    docs_dir = Path(docs_assets_dir) / DOCS_SUBDIR
    with matplotlib.rc_context({"text.parse_math": False}):  # "$" in a label is text, not TeX
        sections = [
            pairs_section(pairs, run),
            quarantine_section(rejected),
            gate_section(gate),
            loss_section(run),
            ndcg_section(metrics, run["run_id"]),
            checks_section(checks, run["run_id"]),
            comparison_section(comparison, run["run_id"]),
        ]
        rows = []
        for section in sections:
            png = render_png(section.figure)
            chart, docs_chart = report_dir / f"{section.name}.png", docs_dir / f"{section.name}.png"
            for path in (chart, docs_chart):
                write_bytes(path, png)
            rows.append(
                {
                    "section": section.name,
                    "title": section.title,
                    "summary": section.summary,
                    "chart_path": str(chart),
                    "docs_chart_path": str(docs_chart),
                    "report_path": str(report_dir / REPORT_PAGE),
                    "run_id": run["run_id"],
                    "written_at": written_at,
                }
            )
    write_bytes(report_dir / REPORT_PAGE, report_page(run, sections, written_at).encode("utf-8"))
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def write_bytes(path: Path, data: bytes) -> None:
    write_atomically(path, lambda file: file.write(data))


def render_png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


# --- sections ------------------------------------------------------------------------------------


def pairs_section(pairs: pd.DataFrame, run: pd.Series) -> Section:
    counts = (
        pairs.groupby("strategy")["pair_id"]
        .agg(pairs="nunique", examples="size")
        .sort_values(["pairs", "examples"], ascending=False)
    )
    trained = int(run["n_train_pairs"])
    summary = (
        f"{counts['pairs'].sum():,} pairs ({counts['examples'].sum():,} examples with their negatives) "
        f"from {len(counts)} strategies; the run trained on {trained:,} examples"
        if len(counts)
        else "training_pairs holds no pairs"
    )
    figure = bar_chart(
        list(counts.index), counts["pairs"].tolist(), "pairs", "Training pairs per strategy", run["run_id"]
    )
    table = markdown_table(
        ["strategy", "pairs", "examples"],
        [[name, f"{row.pairs:,}", f"{row.examples:,}"] for name, row in counts.iterrows()],
    )
    return Section("pairs_per_strategy", "Training pairs per strategy", summary, figure, table)


def quarantine_section(rejected: pd.DataFrame) -> Section:
    counts = rejected["reason"].fillna("(none)").value_counts()
    summary = (
        f"{len(rejected):,} chunks quarantined; the most for {counts.index[0]} ({counts.iloc[0]:,})"
        if len(counts)
        else "no chunk was quarantined"
    )
    figure = bar_chart(
        list(counts.index), counts.tolist(), "chunks", "Quarantined chunks by first reason", None
    )
    table = markdown_table(["reason", "chunks"], [[reason, f"{count:,}"] for reason, count in counts.items()])
    return Section("quarantine_reasons", "Quarantine reasons", summary, figure, table)


def gate_section(gate: pd.DataFrame) -> Section:
    passed = int(gate["success"].fillna(False).astype(bool).sum())
    failed = gate[~gate["success"].fillna(False).astype(bool)]
    summary = f"{passed} of {len(gate)} expectations passed" + (
        f"; failed: {', '.join(expectation_label(row) for _, row in failed.iterrows())}"
        if len(failed)
        else ""
    )
    rows = [
        [
            expectation_label(row),
            observed(row["observed_value"]),
            "pass" if row["success"] else "FAIL",
        ]
        for _, row in gate.iterrows()
    ]
    figure = table_chart(
        ["expectation", "observed", "result"],
        rows,
        [PASS_COLOUR if row[2] == "pass" else FAIL_COLOUR for row in rows],
        f"Data-quality gate: {passed} of {len(gate)} expectations passed",
    )
    table = markdown_table(
        ["batch", "expectation", "column", "observed", "result"],
        [
            [row["batch"], row["expectation"], _text(row["column_name"]), result[1], result[2]]
            for (_, row), result in zip(gate.iterrows(), rows, strict=True)
        ],
    )
    return Section("quality_gate", "Data-quality gate", summary, figure, table)


def observed(value: object) -> str:
    """What GX observed, as stored (JSON): a text unquoted, a number to 4 significant digits."""
    try:
        parsed = json.loads(str(value))
    except ValueError:
        return _text(value)
    if isinstance(parsed, float):
        return f"{parsed:.4g}"
    return parsed if isinstance(parsed, str) else _text(value)


def expectation_label(row: pd.Series) -> str:
    """`column_values_to_not_be_null (anchor_text)`; a table-level expectation names its batch."""
    name = str(row["expectation"]).removeprefix("expect_")
    column = row.get("column_name")
    return f"{name} ({column})" if pd.notna(column) and column else f"{name} [{row['batch']}]"


def loss_section(run: pd.Series) -> Section:
    curve = [(int(step), float(loss)) for step, loss in json.loads(run["loss_curve"] or "[]")]
    figure, axes = new_figure(f"Training loss, run {run['run_id']}", height=3.6)
    if curve:
        steps, losses = zip(*curve, strict=True)
        axes.plot(steps, losses, marker="o" if len(curve) < 30 else None, color=BAR_COLOUR)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("optimiser step")
        axes.set_ylabel("mean training loss")
        axes.grid(alpha=0.3)
        summary = (
            f"{int(run['steps'])} steps; training loss {losses[0]:.4f} at step {steps[0]} -> {losses[-1]:.4f}"
        )
    else:
        no_data(axes, "no training loss was logged for this run")
        summary = "no training loss was logged for this run"
    note = "The points are `training_runs.loss_curve`: [step, mean training loss since the previous point]."
    return Section("loss_curve", "Loss curve", summary, figure, note)


def ndcg_section(metrics: pd.DataFrame, run_id: str) -> Section:
    title = "NDCG@10 per evaluation set, locked test part"
    evaluated = _runs_judged(metrics[metrics["model"] == TUNED_LABEL])
    if evaluated != {run_id}:
        figure, axes = new_figure(f"{title}, run {run_id}", height=4.2)
        message = _not_this_run("retrieval_metrics", evaluated)
        no_data(axes, message)
        return Section("ndcg_at_10", title, message, figure, "")
    test = metrics[(metrics["metric"] == NDCG) & (metrics["eval_part"] == TEST_PART)]
    ndcg = test.pivot_table(index="eval_set", columns="model", values="value")
    # the project's scorers in a fixed order and colour, then the comparison models (labelled by folder)
    compared = sorted(label for label in ndcg.columns if label not in MODEL_COLOURS and "@" not in label)
    colours = {**MODEL_COLOURS, **dict(zip(compared, COMPARISON_COLOURS, strict=False))}
    models = [model for model in colours if model in ndcg.columns]
    # sets down the side, a row of bars each: set names of any length and number stay readable
    figure, axes = new_figure(f"{title}, run {run_id}", height=1.6 + 0.16 * len(ndcg) * max(1, len(models)))
    height = 0.8 / max(1, len(models))
    for offset, model in enumerate(models):
        positions = [index + (offset - (len(models) - 1) / 2) * height for index in range(len(ndcg))]
        bars = axes.barh(positions, ndcg[model].fillna(0), height, label=model, color=colours[model])
        values = [f"{value:.2f}" for value in ndcg[model].fillna(0)]
        axes.bar_label(bars, labels=values, fontsize=7, padding=2)
    axes.set_yticks(range(len(ndcg)), [_shorten(name, MAX_LABEL_CHARS) for name in ndcg.index])
    axes.invert_yaxis()  # the first set on top, each set's bars in the legend's order
    axes.set_xlabel(NDCG)
    axes.set_xlim(0, 1.1)
    figure.legend(ncols=min(len(models), 4), fontsize=8, loc="outside lower center")
    tuned = test[test["model"] == TUNED_LABEL].set_index("eval_set")
    base = ndcg.get(BASE_LABEL, pd.Series(dtype=float))
    gains = [
        f"{eval_set} {row['value'] / base[eval_set] - 1:+.1%} ({row['vs_base']:+.4f}, 95% interval "
        f"[{row['vs_base_ci_low']:+.4f}, {row['vs_base_ci_high']:+.4f}]"
        + (", within noise)" if row["vs_base_ci_low"] <= 0 <= row["vs_base_ci_high"] else ")")
        for eval_set, row in tuned.iterrows()
        if pd.notna(row["vs_base"]) and base.get(eval_set)
    ]
    summary = "tuned vs base NDCG@10 on the test part: " + (
        ", ".join(gains) if gains else "no set scored both"
    )
    queries = test.groupby("eval_set")["n_queries"].max()
    table = markdown_table(
        ["eval set", "queries", *models],
        [
            [
                eval_set,
                queries.get(eval_set, "n/a"),
                *(_number(row.get(model)) for model in models),
            ]
            for eval_set, row in ndcg.iterrows()
        ],
    )
    prefixes = sorted((label for label in ndcg.columns if label.startswith(f"{TUNED_LABEL}@")), key=_dims)
    if prefixes:
        table += "\n\nMatryoshka prefixes of the tuned model (NDCG@10, test part):\n\n" + markdown_table(
            ["eval set", TUNED_LABEL, *prefixes],
            [
                [eval_set, *(_number(row.get(model)) for model in (TUNED_LABEL, *prefixes))]
                for eval_set, row in ndcg.iterrows()
            ],
        )
    return Section("ndcg_at_10", title, summary, figure, table)


def _dims(label: str) -> int:
    return -int(label.rpartition("@")[2])


def checks_section(checks: pd.DataFrame, run_id: str) -> Section:
    title = "Publication checks (retrieval, STS-B Spearman)"
    figure, axes = new_figure(f"regression_check, run {run_id}", height=3.8)
    judged = _runs_judged(checks)
    if judged != {run_id}:
        message = _not_this_run("regression_check", judged)
        no_data(axes, message)
        return Section("regression_checks", title, message, figure, "")
    scored = checks.dropna(subset=["base_value", "tuned_value"]).reset_index(drop=True)
    for index, check in scored.iterrows():
        for offset, model in ((-0.2, "base"), (0.2, "tuned")):
            value = float(check[f"{model}_value"])
            bar = axes.bar(
                index + offset, value, 0.4, color=MODEL_COLOURS[model], label=model if index == 0 else None
            )
            axes.bar_label(bar, labels=[f"{value:.3f}"], label_type="center", color="white", fontsize=8)
        floor = float(check["base_value"]) - float(check["max_regression"])
        axes.hlines(
            floor,
            index - 0.45,
            index + 0.45,
            colors="black",
            linestyles="dashed",
            label="lowest passing tuned" if index == 0 else None,
        )
    axes.set_xticks(range(len(scored)), [check_label(check) for _, check in scored.iterrows()])
    if scored.empty:
        no_data(axes, "no check had scores to compare")
    else:
        axes.legend(fontsize=8)
    failed = checks[~checks["passed"].fillna(False).astype(bool)]
    summary = (
        "every check passed: the run may be published"
        if failed.empty
        else "failed: " + "; ".join(f"{row['check_name']}: {row['reason']}" for _, row in failed.iterrows())
    )
    table = markdown_table(
        ["check", "eval set", "metric", "base", "tuned", "max drop", "result", "reason"],
        [
            [
                row["check_name"],
                row["eval_set"],
                row["metric"],
                _number(row["base_value"]),
                _number(row["tuned_value"]),
                _number(row["max_regression"]),
                "pass" if row["passed"] else "FAIL",
                row["reason"],
            ]
            for _, row in checks.iterrows()
        ],
    )
    return Section("regression_checks", title, summary, figure, table)


def comparison_section(comparison: pd.DataFrame, run_id: str) -> Section:
    title = "NDCG@10 against the reference run, locked test part"
    compared = {str(run) for run in comparison["latest_run_id"].dropna()}
    if compared != {run_id}:
        figure, axes = new_figure(f"{title}, run {run_id}", height=2.5)
        holds = ", ".join(sorted(compared)) or "it is empty"
        message = f"run_comparison does not compare this run ({holds}): build it after training_runs"
        no_data(axes, message)
        return Section("run_comparison", title, message, figure, "")
    reference = comparison["reference_run_id"].dropna()
    metric_rows = comparison[comparison["section"] == "metric"]
    ndcg = metric_rows[(metric_rows["item"] == NDCG) & (metric_rows["eval_part"] == TEST_PART)]
    figure, axes = new_figure(f"{title}, run {run_id}", height=1.6 + 0.32 * max(2, len(ndcg)))
    if reference.empty or ndcg["difference"].isna().all():
        message = (
            "no reference run: the first run, or none published before it (var comparison_reference_run)"
        )
        no_data(axes, message)
        return Section("run_comparison", title, message, figure, "")
    labels = [f"{row.eval_set} / {row.model}" for row in ndcg.itertuples()]
    errors = [
        (ndcg["difference"] - ndcg["ci_low"]).fillna(0).clip(lower=0),
        (ndcg["ci_high"] - ndcg["difference"]).fillna(0).clip(lower=0),
    ]
    colours = [MODEL_COLOURS.get(model, BAR_COLOUR) for model in ndcg["model"]]
    axes.barh(range(len(ndcg)), ndcg["difference"].fillna(0), xerr=errors, color=colours, capsize=3)
    axes.axvline(0, color="#444444", linewidth=0.8)
    axes.set_yticks(range(len(ndcg)), [_shorten(label, MAX_LABEL_CHARS) for label in labels])
    axes.invert_yaxis()
    axes.set_xlabel(f"{NDCG}: latest - reference (95% paired bootstrap interval)")
    verdicts = ", ".join(f"{label} {verdict}" for label, verdict in zip(labels, ndcg["verdict"], strict=True))
    summary = f"against run {reference.iloc[0]} on the same test queries: {verdicts}"
    changed = comparison[(comparison["section"] != "metric") & (comparison["verdict"] == "changed")]
    details = markdown_table(
        [
            "eval set",
            "model",
            "part",
            "queries",
            "latest",
            "reference",
            "difference",
            "95% interval",
            "verdict",
        ],
        [
            [
                row.eval_set,
                row.model,
                row.eval_part,
                _quantity(row.n_queries),
                _number(row.latest_value),
                _number(row.reference_value),
                _number(row.difference),
                f"[{_number(row.ci_low)}, {_number(row.ci_high)}]",
                row.verdict,
            ]
            for row in metric_rows[metric_rows["item"] == NDCG].itertuples()
        ],
    )
    if not changed.empty:
        details += "\n\nWhat else changed:\n\n" + markdown_table(
            ["section", "item", "latest", "reference"],
            [
                [
                    row.section,
                    row.item,
                    _text(row.latest_text) or _quantity(row.latest_value),
                    _text(row.reference_text) or _quantity(row.reference_value),
                ]
                for row in changed.itertuples()
            ],
        )
    return Section("run_comparison", title, summary, figure, details)


def check_label(check: pd.Series) -> str:
    verdict = "pass" if check["passed"] else "FAIL"
    return f"{check['check_name']}: {check['metric']} on {check['eval_set']}\n{verdict}"


def _runs_judged(frame: pd.DataFrame) -> set[str]:
    return {str(run) for run in frame["model_run_id"].dropna()}


def _not_this_run(table: str, runs: set[str]) -> str:
    held = f"it holds run {', '.join(sorted(runs))}" if runs else "it holds no tuned model's scores"
    return f"{table} has no scores of this run ({held}): build retrieval_metrics after training_runs"


# --- drawing -------------------------------------------------------------------------------------


def new_figure(title: str, height: float) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    # over the whole figure, not the axes: long tick labels push the axes right and the title off the edge
    figure.suptitle(_shorten(title, 90), fontsize=10)
    return figure, axes


def bar_chart(
    labels: Sequence[str], values: Sequence[int], unit: str, title: str, run_id: str | None
) -> Figure:
    """Horizontal bars, largest first, each labelled with its count."""
    figure, axes = new_figure(
        f"{title}, run {run_id}" if run_id else title, height=1.2 + 0.32 * max(3, len(labels))
    )
    if not labels:
        no_data(axes, f"no {unit}")
        return figure
    bars = axes.barh([_shorten(label, MAX_LABEL_CHARS) for label in labels], values, color=BAR_COLOUR)
    axes.bar_label(bars, labels=[f"{value:,}" for value in values], padding=3, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(unit)
    axes.margins(x=0.15)
    return figure


def table_chart(header: Sequence[str], rows: list[list[str]], colours: list[str], title: str) -> Figure:
    """A table as a picture, each row coloured (pass / fail)."""
    figure, axes = new_figure(title, height=0.5 + 0.22 * (1 + max(2, len(rows))))
    axes.axis("off")
    if not rows:
        no_data(axes, "no rows")
        return figure
    table = axes.table(
        cellText=[[_shorten(cell, MAX_LABEL_CHARS) for cell in row] for row in rows],
        colLabels=list(header),
        cellColours=[[colour] * len(header) for colour in colours],
        bbox=(0, 0, 1, 1),  # rows fill the axes, which the figure sizes by the row count
        cellLoc="left",
        colWidths=[0.62, 0.28, 0.10],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    return figure


def no_data(axes: Axes, message: str) -> None:
    axes.text(0.5, 0.5, _shorten(message, 100), ha="center", va="center", wrap=True, transform=axes.transAxes)
    axes.set_xticks([])
    axes.set_yticks([])


# --- the page -------------------------------------------------------------------------------------


def report_page(run: pd.Series, sections: Sequence[Section], written_at: str) -> str:
    facts = markdown_table(
        ["run", "base model", "device / precision", "steps", "training examples", "trained at", "reused"],
        [
            [
                f"`{run['run_id']}`",
                run["base_model"],
                f"{run['device']} / {run['precision']}",
                run["steps"],
                f"{int(run['n_train_pairs']):,}",
                run["trained_at"],
                "yes" if run["reused"] else "no",
            ]
        ],
    )
    parts = [
        f"# Run report: `{run['run_id']}`",
        "",
        f"Written {written_at} by the dbt model `run_report`, after evaluation, from the tables named in "
        "each section. The model is the folder above (`../`); its card is `../README.md`.",
        "",
        facts,
    ]
    for section in sections:
        parts += [
            "",
            f"## {section.title}",
            "",
            section.summary,
            "",
            f"![{section.title}]({section.name}.png)",
        ]
        if section.details:
            parts += ["", section.details]
    return "\n".join(parts) + "\n"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = [_row(header), _row(["---"] * len(header))]
    lines += [_row(row) for row in rows]
    return "\n".join(lines)


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _cell(value: object) -> str:
    """Any text as one table cell: pipes escaped, line breaks as spaces."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _text(value: object) -> str:
    return "" if value is None or pd.isna(value) else str(value)


def _number(value: object) -> str:
    return f"{float(value):.4f}" if value is not None and pd.notna(value) else "n/a"


def _quantity(value: object) -> str:
    """A count as a whole number, any other value as `_number` does."""
    if value is not None and pd.notna(value) and float(value).is_integer():
        return f"{int(value):,}"
    return _number(value)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
