"""The Evaluate tab: execution-accuracy runs as jobs, their comparison (table and bar chart),
and the questions a model got wrong with both SQLs and both results.

The same functions as `python -m studio eval --dataset D --model M [--adapter A] [--limit N]`
and `python -m studio eval --compare RUN ...`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from studio.data.registry import list_datasets
from studio.inference.settings import DEFAULT_BATCH_SIZE, DEFAULT_MAX_NEW_TOKENS
from studio.jobs.kinds import EVAL
from studio.jobs.rundir import RunDir, adapter_label
from studio.jobs.runs import (
    eval_runs,
    evaluation_folders,
    find_run_dir,
    list_adapters,
    wrong_verdicts,
)
from studio.models.references import DEFAULT_MODEL
from studio.train.choices import model_choices
from studio.ui.common import adapter_picker, comparison_figure, frame, model_picker, reports_errors
from studio.ui.job_panel import JobPanel
from studio.web.numbers import whole_at_least
from studio.web.path_roots import PathRoots
from studio.workspace import Workspace

COMPARED_BY_DEFAULT = 4
RUN_COLUMNS = (
    "run",
    "state",
    "dataset",
    "model",
    "adapters",
    "questions",
    "EX (%)",
    "EX 95% CI",
    "EX voted (%)",
    "error",
)
WRONG_COLUMNS = ("index", "database", "difficulty", "category", "question")


def evaluable_datasets(ws: Workspace) -> tuple[list[str], str]:
    """SFT datasets with databases registered (so their gold SQL can run), and a line saying why
    none."""
    names = [
        info.name
        for info in list_datasets(ws)
        if info.kind == "sft" and any(info.databases.values())
    ]
    if names:
        return names, "datasets whose questions have databases to execute on"
    return [], (
        "no dataset with databases is registered: import one with a database folder or MySQL URL "
        "in the Datasets tab"
    )


def preferred_dataset(names: list[str]) -> str | None:
    """The dataset an evaluation form starts with: the first held-out split (`*_test`,
    `*_dev`), else the first."""
    held_out = [name for name in names if name.endswith(("_test", "_dev"))]
    return (held_out or names or [None])[0]


def runs_table(ws: Workspace) -> Any:
    """Every evaluation run: its job state (when it ran as a job) and its summary once finished."""
    rows = []
    seen = set()
    for run in eval_runs(ws):
        seen.add(run.run_dir)
        rows.append(_run_row(run.name, run.state, run.config, run.summary, run.job.error))
    for folder in evaluation_folders(ws):
        if folder not in seen:
            rows.append(_run_row(folder.name, "succeeded", {}, RunDir(folder).read_summary(), None))
    return frame(rows, RUN_COLUMNS)


def _run_row(
    name: str, state: str, config: dict[str, Any], summary: dict[str, Any] | None, error: str | None
) -> list[Any]:
    summary = summary or {}
    ci = summary.get("ex_ci95")
    adapters = summary.get("adapters", config.get("adapters")) or []
    return [
        name,
        state,
        summary.get("dataset", config.get("dataset", "")),
        summary.get("model", config.get("model")) or "predictions file",
        ", ".join(adapter_label(a) for a in adapters),
        summary.get("n", config.get("limit") or ""),
        summary.get("ex", ""),
        f"{ci[0]:.1f}–{ci[1]:.1f}" if ci else "",
        (summary.get("vote") or {}).get("ex", ""),
        error or "",
    ]


def _result_table(result: dict[str, Any]) -> Any:
    """The first rows of a stored result under their column names (`c1`, `c2`... for runs scored
    before the names were stored)."""
    rows = result.get("first_rows") or []
    columns = result.get("columns") or []
    width = max((len(row) for row in rows), default=len(columns) or 1)
    if len(columns) != width:
        columns = [f"c{i}" for i in range(1, width + 1)]
    return frame(rows, columns)


def _result_text(result: dict[str, Any]) -> str:
    if not result.get("ok"):
        return f"**error** ({result.get('error_kind') or 'failed'}): {result.get('error') or ''}"
    shown = len(result.get("first_rows") or [])
    more = " (truncated)" if result.get("truncated") else ""
    return f"{result.get('row_count', 0)} row(s){more}; first {shown} shown"


def _answer_column(who: str, prefix: str) -> tuple[gr.Code, gr.Markdown, gr.Dataframe]:
    """One side of the drill-down: `who`'s SQL, a line about it and its result's first rows."""
    sql = gr.Code(
        label=f"{who} SQL",
        language="sql",
        lines=4,
        interactive=False,
        wrap_lines=True,
        elem_id=f"{prefix}-sql",
    )
    info = gr.Markdown()
    rows = gr.Dataframe(
        frame([], ["c1"]),
        label=f"{who} result",
        interactive=False,
        max_height=220,
        wrap=True,
        elem_id=f"{prefix}-rows",
    )
    return sql, info, rows


def build(
    ws: Workspace, roots: PathRoots
) -> list[tuple[Callable[..., dict], list[Any], list[Any]]]:
    """Build the tab; returns its refreshers (fn, inputs, outputs) for page load and tab selection.
    The model and adapter folders typed in it must lie inside `roots`."""
    gr.Markdown(
        "Execution accuracy (EX): the model's SQL and the gold SQL run read-only on the dataset's "
        "databases and their results are compared (BIRD's rule). "
        "Runs are jobs; the page can be closed."
    )
    status = gr.Markdown(elem_id="eval-status")

    with gr.Row():
        model = model_picker("eval-model")
        adapters = adapter_picker(
            [],
            "eval-adapters",
            label="Adapters (stacked in order)",
            info="trained adapters, or type a folder",
        )
        dataset = gr.Dropdown([], label="Dataset", elem_id="eval-dataset")
    with gr.Row():
        limit = gr.Number(20, label="Limit (0: every question)", precision=0, elem_id="eval-limit")
        batch_size = gr.Number(
            DEFAULT_BATCH_SIZE, label="Batch size", precision=0, elem_id="eval-batch"
        )
        max_new_tokens = gr.Number(
            DEFAULT_MAX_NEW_TOKENS,
            label="Max new tokens",
            precision=0,
            elem_id="eval-max-new",
        )
        vote = gr.Number(
            0,
            label="Vote over N samples (0: greedy only)",
            info="also sample N answers, answer with the result most agree on",
            precision=0,
            elem_id="eval-vote",
        )
        run_button = gr.Button("Run evaluation", variant="primary", elem_id="eval-run")
    progress = gr.Markdown(elem_id="eval-progress")
    panel = JobPanel(ws, EVAL, "eval", status, run_button, exclusive=False)

    gr.Markdown("### Runs")
    runs = gr.Dataframe(frame([], RUN_COLUMNS), interactive=False, wrap=True, elem_id="eval-runs")
    compared = gr.Dropdown(
        [], value=[], multiselect=True, label="Compare runs", elem_id="eval-compare"
    )
    comparison = gr.Dataframe(
        frame([], ["", "run"]),
        label="EX (%) side by side",
        interactive=False,
        wrap=True,
        elem_id="eval-comparison",
    )
    chart = gr.Plot(label="EX by group", elem_id="eval-chart")

    gr.Markdown("### Wrong answers")
    with gr.Row():
        drill_run = gr.Dropdown([], label="Run", elem_id="eval-drill-run")
        question = gr.Dropdown([], label="Question", elem_id="eval-question")
    wrong = gr.Dataframe(
        frame([], WRONG_COLUMNS), interactive=False, wrap=True, max_height=260, elem_id="eval-wrong"
    )
    question_text = gr.Markdown(elem_id="eval-question-text")
    with gr.Row():
        with gr.Column():
            gold_sql, gold_info, gold_rows = _answer_column("Gold", "eval-gold")
        with gr.Column():
            pred_sql, pred_info, pred_rows = _answer_column("Model", "eval-pred")
    seen = gr.State({"finished": [], "progress": None})

    def run_folder(name: str) -> Path:
        return roots.confine(find_run_dir(ws, name, EVAL.name), "Run")

    def comparison_updates(names: list[str]) -> dict:
        from studio.evaluate import compare_runs

        if not names:
            return {comparison: frame([], ["", "run"]), chart: None}
        table = compare_runs([run_folder(name) for name in names])
        return {
            comparison: frame(table.rows, table.columns),
            chart: comparison_figure(table.columns, table.rows),
        }

    def listing(selected: list[str] | None) -> dict:
        finished = [folder.name for folder in evaluation_folders(ws)]
        chosen = [name for name in selected or [] if name in finished] or finished[
            :COMPARED_BY_DEFAULT
        ]
        update = {
            runs: runs_table(ws),
            compared: gr.Dropdown(choices=finished, value=chosen),
            drill_run: gr.Dropdown(choices=finished),
            seen: {"finished": finished, "progress": None},
        }
        update.update(comparison_updates(chosen))
        return update

    def progress_text() -> str:
        from studio.jobs.monitor import snapshot

        lines = []
        for run in eval_runs(ws):
            if run.job.finished:
                continue
            snap = snapshot(ws, run.job, log_lines=0)
            lines.append(
                f"- job {snap.job.id} **{snap.state}** · {snap.job.title} · {snap.progress}"
            )
        return "\n".join(lines) or "No evaluation running."

    @reports_errors(status)
    def on_load(selected: list[str] | None, chosen: str | None) -> dict:
        names, info = evaluable_datasets(ws)
        update = listing(selected)
        kept = chosen if chosen in names else preferred_dataset(names)
        update.update(
            {
                model: gr.Dropdown(choices=model_choices(ws)),
                dataset: gr.Dropdown(choices=names, value=kept, info=info),
                adapters: gr.Dropdown(choices=list_adapters(ws)),
                progress: progress_text(),
            }
        )
        return update

    def refresh(_snap: Any, seen_value: dict[str, Any], selected: list[str] | None) -> dict:
        """What changed since the last refresh: progress lines, the runs table, finished runs."""
        finished = [folder.name for folder in evaluation_folders(ws)]
        text = progress_text()
        if finished != seen_value["finished"]:
            new = [name for name in finished if name not in seen_value["finished"]]
            update = listing(list(selected or []) + new)
        elif text != seen_value["progress"]:
            update = {runs: runs_table(ws)}
        else:
            return {}
        update.update({progress: text, seen: {"finished": finished, "progress": text}})
        return update

    @reports_errors(status)
    def do_run(
        model_value: str,
        adapter_values: list[str] | None,
        dataset_value: str | None,
        limit_value: float | None,
        batch_value: float | None,
        tokens_value: float | None,
        vote_value: float | None,
    ) -> dict:
        from studio.errors import StudioError
        from studio.evaluate import EvalConfig
        from studio.evaluate.job import submit_evaluation

        if not dataset_value:
            raise StudioError(
                "choose the dataset to evaluate on (the list holds datasets with databases)"
            )
        model_ref = roots.confine_model_ref((model_value or "").strip() or DEFAULT_MODEL, "Model")
        adapters = tuple(roots.confine_adapter(ws, value) for value in adapter_values or [])
        config = EvalConfig(
            dataset=dataset_value,
            model=model_ref,
            adapters=adapters,
            limit=whole_at_least(limit_value, "Limit", 0, 0) or None,
            batch_size=whole_at_least(batch_value, "Batch size", 1, DEFAULT_BATCH_SIZE),
            max_new_tokens=whole_at_least(
                tokens_value, "Max new tokens", 1, DEFAULT_MAX_NEW_TOKENS
            ),
            vote=whole_at_least(vote_value, "Vote over N samples", 0, 0),
        )
        job = submit_evaluation(ws, config)
        return {
            **panel.show(job.id),
            status: f"Evaluation job {job.id} queued in `{job.run_dir}`.",
            progress: progress_text(),
            runs: runs_table(ws),
        }

    @reports_errors(status)
    def do_compare(names: list[str] | None) -> dict:
        return comparison_updates(list(names or []))

    @reports_errors(status)
    def do_drill(name: str | None) -> dict:
        rows = wrong_verdicts(run_folder(name)) if name else []
        table = [
            [
                r["index"],
                r.get("db_id"),
                r.get("difficulty") or "",
                r.get("category"),
                r.get("question") or "",
            ]
            for r in rows
        ]
        choices = [(f"{r['index']}: {(r.get('question') or '')[:80]}", r["index"]) for r in rows]
        message = (
            ""
            if not name
            else f"{len(rows)} question(s) wrong in `{name}`."
            if rows
            else f"Every question in `{name}` is right."
        )
        return {
            wrong: frame(table, WRONG_COLUMNS),
            question: gr.Dropdown(choices=choices, value=None),
            status: message,
        }

    @reports_errors(status)
    def do_question(name: str | None, index: int | None) -> dict:
        row = None
        if name and index is not None:
            row = next((r for r in wrong_verdicts(run_folder(name)) if r["index"] == index), None)
        if row is None:  # no question picked, or one of the run shown before a run switch
            return {
                question_text: "",
                gold_sql: "",
                pred_sql: "",
                gold_info: "",
                pred_info: "",
                gold_rows: _result_table({}),
                pred_rows: _result_table({}),
            }
        return {
            question_text: (
                f"**Q{row['index']}** ({row.get('db_id')}, {row.get('category')}): "
                f"{row.get('question')}"
            ),
            gold_sql: row.get("gold_sql") or "",
            pred_sql: row.get("pred_sql") or "",
            gold_info: _result_text(row["gold"]),
            pred_info: _result_text(row["pred"]),
            gold_rows: _result_table(row["gold"]),
            pred_rows: _result_table(row["pred"]),
        }

    listing_outputs = [runs, compared, drill_run, seen, comparison, chart, status]
    refresh_panel = panel.wire((refresh, [seen, compared], [progress, *listing_outputs]))
    run_button.click(
        do_run,
        [model, adapters, dataset, limit, batch_size, max_new_tokens, vote],
        [*panel.outputs, status, progress, runs],
    )
    compared.input(do_compare, compared, [comparison, chart, status])
    drill_run.change(do_drill, drill_run, [wrong, question, status])
    question.change(
        do_question,
        [drill_run, question],
        [question_text, gold_sql, pred_sql, gold_info, pred_info, gold_rows, pred_rows, status],
    )
    return [
        (
            on_load,
            [compared, dataset],
            [*listing_outputs, model, dataset, adapters, progress],
        ),
        (
            refresh_panel,
            [panel.state, seen, compared],
            [*panel.outputs, progress, *listing_outputs],
        ),
    ]
