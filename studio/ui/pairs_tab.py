"""The Pairs tab: mine DPO pairs as a job, curate them one at a time (keyboard: a / r / n / p),
bulk-accept a filtered set, export. The same functions as `python -m studio pairs ...`
(studio.pairs.launch, studio.pairs.curate, studio.pairs.export)."""

from __future__ import annotations

import dataclasses
import difflib
import re
from typing import Any

import gradio as gr

from studio.data.clashes import REPLACE_LABEL
from studio.data.registry import list_datasets
from studio.errors import StudioError
from studio.inference.settings import DEFAULT_MAX_NEW_TOKENS
from studio.jobs.kinds import MINE
from studio.jobs.monitor import Snapshot
from studio.jobs.runs import list_adapters
from studio.pairs.curate import (
    VERDICTS,
    Pair,
    PairFilter,
    bulk_set_status,
    edit_pair,
    get_pair,
    list_pairs,
    pair_counts,
)
from studio.pairs.majority import vote_line
from studio.pairs.records import question_vote
from studio.pairs.store import STATUSES, STRATEGIES
from studio.ui.common import adapter_picker, frame, model_picker, reports_errors
from studio.ui.job_panel import JobPanel
from studio.web.numbers import number_at_least, whole_at_least
from studio.web.path_roots import PathRoots
from studio.workspace import Workspace

ALL = "all"
ACTOR = "ui"
MATCH_LIMIT = 1_000_000
DISPLAY_ROWS = 20
DISPLAY_TIMEOUT_S = 10.0
MINING_QUESTIONS = 16  # a first mining run that ends within minutes on a CPU
DIFF_COLORS = {"only in chosen": "#2e7d32", "only in rejected": "#c62828"}
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
_SCHEMA_START = "Database schema:\n"
_EVIDENCE_START = "\n\nExternal knowledge: "
_QUESTION_START = "\n\nQuestion: "

# Keyboard shortcuts of the curator; not while typing in a text field or with a modifier key.
PAIRS_SHORTCUTS_JS = """
if (!window.__studioPairsShortcuts) {
  window.__studioPairsShortcuts = true;
  const keys = {a: 'pairs-accept', r: 'pairs-reject', n: 'pairs-next', ArrowRight: 'pairs-next',
                p: 'pairs-prev', ArrowLeft: 'pairs-prev'};
  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    const tag = target && target.tagName ? target.tagName.toLowerCase() : '';
    const typing = tag === 'input' || tag === 'textarea' || tag === 'select';
    if (typing || (target && target.isContentEditable)) return;
    const id = keys[event.key];
    const button = id && document.getElementById(id);
    if (!button || button.offsetParent === null || button.disabled) return;
    event.preventDefault();
    button.click();
  });
}
"""


def sql_diff(rejected: str, chosen: str) -> list[tuple[str, str | None]]:
    """Word-level diff from the rejected SQL to the chosen one, for gr.HighlightedText."""
    old, new = _TOKEN.findall(rejected), _TOKEN.findall(chosen)
    spans: list[tuple[str, str | None]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            spans.append(("".join(old[i1:i2]), None))
            continue
        if i2 > i1:
            spans.append(("".join(old[i1:i2]), "only in rejected"))
        if j2 > j1:
            spans.append(("".join(new[j1:j2]), "only in chosen"))
    return spans


def prompt_parts(prompt: str) -> tuple[str, str, str]:
    """(question, evidence, schema) of a prompt the studio built; the whole prompt as schema
    otherwise."""
    head, marker, question = prompt.rpartition(_QUESTION_START)
    if not marker:
        return "", "", prompt
    head, marker, evidence = head.partition(_EVIDENCE_START)
    if not marker:
        evidence = ""
    _, marker, schema = head.partition(_SCHEMA_START)
    return question.strip(), evidence.strip(), (schema if marker else head).strip()


def result_table(database: str, sql: str) -> Any:
    """The first rows of `sql` on `database` (read-only), or a one-cell table holding its error."""
    from studio.sql.execute import execute_sql

    result = execute_sql(database, sql, timeout_s=DISPLAY_TIMEOUT_S, max_rows=DISPLAY_ROWS)
    if not result.ok:
        return frame([[f"{result.error_kind}: {result.error}"]], ["error"])
    return frame(result.rows, result.columns)


def _filter(status: str, strategy: str, db_id: str, verdict: str) -> PairFilter:
    def chosen(value: str | None) -> str | None:
        return None if not value or value == ALL else value

    return PairFilter(chosen(status), chosen(strategy), chosen(db_id), chosen(verdict))


def bulk_filter(chosen: PairFilter) -> PairFilter:
    """What bulk accept touches: with no status chosen, only pending pairs (a person's decisions
    stay)."""
    return chosen if chosen.status else dataclasses.replace(chosen, status="pending")


def matching_ids(ws: Workspace, chosen: PairFilter) -> list[int]:
    """Ids of the pairs matching `chosen`, in order."""
    return [
        p.id
        for p in list_pairs(
            ws, chosen.status, chosen.strategy, chosen.db_id, chosen.verdict, limit=MATCH_LIMIT
        )
    ]


def neighbour(ids: list[int], current: int | None, step: int) -> int | None:
    """The id after (step 1) or before (step -1) `current` in `ids`; the first one when there is
    no current; `current` itself (if it still matches) at either end."""
    if not ids:
        return None
    if current is None:
        return ids[0]
    later = [i for i in ids if i > current]
    earlier = [i for i in ids if i < current]
    if step > 0 and later:
        return later[0]
    if step < 0 and earlier:
        return earlier[-1]
    if current in ids:
        return current
    return later[0] if later else earlier[-1]


def review_progress(ws: Workspace) -> str:
    """ "12 of 40 reviewed" with the counts by status."""
    counts = pair_counts(ws)
    by_status = counts["by_status"]
    reviewed = counts["total"] - by_status.get("pending", 0)
    detail = ", ".join(
        f"{status.replace('_', ' ')} {by_status[status]}"
        for status in STATUSES
        if by_status.get(status)
    )
    return f"**{reviewed} of {counts['total']} reviewed**" + (f" ({detail})" if detail else "")


def _side_title(name: str, pair: Pair, side: str) -> str:
    label, origin = getattr(pair, f"{side}_label"), getattr(pair, f"{side}_origin")
    rows = getattr(pair, f"{side}_execution").get("row_count")
    return f"**{name}** — {label.replace('_', ' ')}, from {origin}" + (
        f", {rows} row(s)" if rows is not None else ""
    )


def vote_text(vote: dict[str, Any] | None) -> str:
    """How the vote among the question's mined samples went ("" when it has none)."""
    if vote is None:
        return ""
    if vote["votes"] == 0:
        return f" · vote among {vote['n']} samples: none ran"
    verdict = "right" if vote["correct"] else "wrong"
    return (
        f" · vote among {vote['n']} samples: {verdict} "
        f"(sample {vote['sample']}, {vote['votes']} of {vote['n']} agree)"
    )


def _pair_header(pair: Pair, position: str, vote: dict[str, Any] | None) -> str:
    verdict = "valid" if pair.verdict == "valid" else f"⚠ flagged: {pair.flag}"
    return (
        f"### Pair {pair.id} · {pair.status.replace('_', ' ')} · {verdict}\n"
        f"{position} · strategy `{pair.strategy}` · database `{pair.db_id}` · "
        f"run `{pair.run_id}` · model `{pair.model}`{vote_text(vote)}"
    )


def mining_line(ws: Workspace, snap: Snapshot | None) -> str:
    """What a mining job found so far (state, questions, pairs, candidates by label, the vote
    among each question's samples); its phase, rate and ETA are the job panel's."""
    from studio.jobs.runtime import last_jsonl_record

    if snap is None:
        return ""
    record = last_jsonl_record(snap.job.metrics_path)
    parts = [f"Mining job {snap.job.id} ({snap.run_name}): **{snap.state}**"]
    if record:
        parts.append(f"{record['questions_done']} of {record['questions_total']} questions")
        pairs = ", ".join(f"{k} {v}" for k, v in sorted(record["pairs"].items())) or "none yet"
        candidates = ", ".join(
            f"{k.replace('_', ' ')} {v}" for k, v in sorted(record["candidates"].items())
        )
        parts.append(f"pairs: {pairs}" + (f"; candidates: {candidates}" if candidates else ""))
        vote = record.get("vote")  # absent from the metrics of runs mined before votes
        if vote and vote["questions"]:
            parts.append(f"voted among samples: {vote_line(vote)}")
    return " · ".join(parts)


def _database_choices(ws: Workspace) -> list[str]:
    names = {db_id for info in list_datasets(ws) for db_id in info.databases}
    return [ALL, *sorted(names)]


def _sft_datasets(ws: Workspace) -> list[str]:
    return [info.name for info in list_datasets(ws) if info.kind == "sft"]


def build(ws: Workspace, roots: PathRoots) -> list[tuple[Any, list, list]]:
    """Build the Pairs tab's components inside the caller's `gr.Tab` context; the model and
    adapter folders typed in it must lie inside `roots`. Returns the tab's refreshers."""
    gr.Markdown(
        "Mine DPO pairs from a model's answers (execution-verified), review them one at a time, "
        "export the accepted ones as a preference dataset. CLI: `python -m studio pairs ...`."
    )
    status = gr.Markdown(elem_id="pairs-status")
    current = gr.State(None)

    with gr.Accordion("Mine pairs", open=True):
        with gr.Row():
            model = model_picker("pairs-model")
            adapters = adapter_picker(
                list_adapters(ws), "pairs-adapters", info="LoRA folders, e.g. an SFT run's adapter/"
            )
            datasets = _sft_datasets(ws)
            dataset = gr.Dropdown(
                datasets,
                value=datasets[0] if datasets else None,
                label="Dataset",
                elem_id="pairs-dataset",
            )
        with gr.Row():
            strategy = gr.Radio(
                list(STRATEGIES),
                value="gold",
                label="Strategy",
                info="gold: chosen = gold SQL; onpolicy: chosen = a correct sample",
                elem_id="pairs-strategy",
            )
            n = gr.Number(4, precision=0, label="Samples per question (n)", elem_id="pairs-n")
            temperature = gr.Number(0.8, step=0.1, label="Temperature", elem_id="pairs-temperature")
            limit = gr.Number(
                MINING_QUESTIONS,
                precision=0,
                label="Questions",
                info="the first N questions; 0 = all (slow on CPU)",
                elem_id="pairs-limit",
            )
            max_new_tokens = gr.Number(
                DEFAULT_MAX_NEW_TOKENS,
                precision=0,
                label="Max new tokens",
                elem_id="pairs-max-new-tokens",
            )
        mine_button = gr.Button("Start mining", variant="primary", elem_id="pairs-mine")
        mining = gr.Markdown(elem_id="pairs-mining")
        panel = JobPanel(ws, MINE, "pairs", status, mine_button)

    gr.Markdown("## Review")
    with gr.Row():
        status_filter = gr.Dropdown(
            [ALL, *STATUSES], value=ALL, label="Status", elem_id="pairs-filter-status"
        )
        strategy_filter = gr.Dropdown(
            [ALL, *STRATEGIES], value=ALL, label="Strategy", elem_id="pairs-filter-strategy"
        )
        db_filter = gr.Dropdown(
            _database_choices(ws), value=ALL, label="Database", elem_id="pairs-filter-db"
        )
        verdict_filter = gr.Dropdown(
            [ALL, *VERDICTS], value=ALL, label="Verdict", elem_id="pairs-filter-verdict"
        )
    progress = gr.Markdown(elem_id="pairs-progress")
    header = gr.Markdown("No pair to show yet: mine some above.", elem_id="pairs-header")
    with gr.Row():
        prev_button = gr.Button("← Previous (p)", elem_id="pairs-prev", size="sm")
        accept_button = gr.Button(
            "Accept (a)", variant="primary", elem_id="pairs-accept", size="sm"
        )
        reject_button = gr.Button("Reject (r)", variant="stop", elem_id="pairs-reject", size="sm")
        next_button = gr.Button("Next (n) →", elem_id="pairs-next", size="sm")
    question = gr.Markdown(elem_id="pairs-question")
    with gr.Accordion("Schema", open=False):
        schema = gr.Code(
            language="sql", interactive=False, show_label=False, elem_id="pairs-schema"
        )
    with gr.Row():
        with gr.Column():
            gold = gr.Code(
                language="sql",
                interactive=False,
                label="Gold SQL",
                wrap_lines=True,
                elem_id="pairs-gold",
            )
        with gr.Column():
            gold_result = gr.Dataframe(
                label="Gold result",
                interactive=False,
                wrap=True,
                elem_id="pairs-gold-result",
            )
    with gr.Row():
        with gr.Column():
            chosen_title = gr.Markdown("**Chosen**")
            chosen = gr.Code(
                language="sql",
                interactive=True,
                label="Chosen SQL (editable)",
                wrap_lines=True,
                elem_id="pairs-chosen",
            )
            chosen_result = gr.Dataframe(
                label="Chosen result",
                interactive=False,
                wrap=True,
                elem_id="pairs-chosen-result",
            )
        with gr.Column():
            rejected_title = gr.Markdown("**Rejected**")
            rejected = gr.Code(
                language="sql",
                interactive=True,
                label="Rejected SQL (editable)",
                wrap_lines=True,
                elem_id="pairs-rejected",
            )
            rejected_result = gr.Dataframe(
                label="Rejected result",
                interactive=False,
                wrap=True,
                elem_id="pairs-rejected-result",
            )
    diff = gr.HighlightedText(
        label="Diff: rejected → chosen",
        color_map=DIFF_COLORS,
        show_legend=True,
        combine_adjacent=True,
        elem_id="pairs-diff",
    )
    save_edit = gr.Button(
        "Save edit (runs the SQL and re-verifies the pair)", elem_id="pairs-save-edit"
    )

    with gr.Accordion("Bulk accept and export", open=True):
        with gr.Row():
            bulk_button = gr.Button(
                "Accept every pair matching the filters (status all: every pending one)",
                elem_id="pairs-bulk-accept",
            )
        with gr.Row():
            export_name = gr.Textbox(
                "demo_pairs", label="Export as dataset", elem_id="pairs-export-name"
            )
            include_pending = gr.Checkbox(
                False, label="Include pending pairs", elem_id="pairs-export-pending"
            )
            replace_existing = gr.Checkbox(
                False, label=REPLACE_LABEL, elem_id="pairs-export-replace"
            )
            export_button = gr.Button("Export", variant="primary", elem_id="pairs-export")
        export_summary = gr.Markdown(elem_id="pairs-export-summary")
    gr.HTML("", js_on_load=PAIRS_SHORTCUTS_JS, elem_id="pairs-shortcuts", container=False)

    filters = [status_filter, strategy_filter, db_filter, verdict_filter]
    view = [
        current,
        progress,
        header,
        question,
        schema,
        gold,
        gold_result,
        chosen_title,
        chosen,
        chosen_result,
        rejected_title,
        rejected,
        rejected_result,
        diff,
    ]

    def show(pair_id: int | None, chosen_filter: PairFilter) -> dict:
        """Every view component for pair `pair_id` (None: the filter matches nothing)."""
        ids = matching_ids(ws, chosen_filter)
        if pair_id is None:
            empty = frame([], ["no pair"])
            return {
                current: None,
                progress: review_progress(ws),
                header: "No pair matches these filters." if ids == [] else "",
                question: "",
                schema: "",
                gold: "",
                gold_result: empty,
                chosen_title: "**Chosen**",
                chosen: "",
                chosen_result: empty,
                rejected_title: "**Rejected**",
                rejected: "",
                rejected_result: empty,
                diff: [],
            }
        pair = get_pair(ws, pair_id)
        position = (
            f"{ids.index(pair.id) + 1} of {len(ids)} matching"
            if pair.id in ids
            else f"no longer matches the filters ({len(ids)} do)"
        )
        text, evidence, schema_text = prompt_parts(pair.prompt)
        return {
            current: pair.id,
            progress: review_progress(ws),
            header: _pair_header(
                pair, position, question_vote(ws, pair.run_id, pair.question_index)
            ),
            question: (f"**Question:** {text}" if text else "")
            + (f"\n\n**Evidence:** {evidence}" if evidence else ""),
            schema: schema_text,
            gold: pair.gold_sql,
            gold_result: result_table(pair.database, pair.gold_sql),
            chosen_title: _side_title("Chosen", pair, "chosen"),
            chosen: pair.chosen_sql,
            chosen_result: result_table(pair.database, pair.chosen_sql),
            rejected_title: _side_title("Rejected", pair, "rejected"),
            rejected: pair.rejected_sql,
            rejected_result: result_table(pair.database, pair.rejected_sql),
            diff: sql_diff(pair.rejected_sql, pair.chosen_sql),
        }

    def step(pair_id: int | None, delta: int, *filter_values: str) -> dict:
        chosen_filter = _filter(*filter_values)
        return show(neighbour(matching_ids(ws, chosen_filter), pair_id, delta), chosen_filter)

    @reports_errors(status)
    def refresh(pair_id: int | None, *filter_values: str) -> dict:
        return {**step(pair_id, 0, *filter_values), status: ""}

    @reports_errors(status)
    def move(pair_id: int | None, delta: int, *filter_values: str) -> dict:
        return {**step(pair_id, delta, *filter_values), status: ""}

    def decide(new_status: str):
        @reports_errors(status)
        def handler(pair_id: int | None, *filter_values: str) -> dict:
            from studio.pairs.curate import set_status

            if pair_id is None:
                raise StudioError("no pair is shown: mine pairs, or loosen the filters")
            set_status(ws, pair_id, new_status, actor=ACTOR)
            return {**step(pair_id, 1, *filter_values), status: f"Pair {pair_id} {new_status}."}

        return handler

    @reports_errors(status)
    def save(pair_id: int | None, chosen_sql: str, rejected_sql: str, *filter_values: str) -> dict:
        if pair_id is None:
            raise StudioError("no pair is shown: mine pairs, or loosen the filters")
        before = get_pair(ws, pair_id)
        changes = {
            side: sql
            for side, sql, old in (
                ("chosen", chosen_sql, before.chosen_sql),
                ("rejected", rejected_sql, before.rejected_sql),
            )
            if (sql or "").strip() != old.strip()
        }
        if not changes:
            raise StudioError("nothing changed: edit the chosen or the rejected SQL first")
        pair = edit_pair(ws, pair_id, actor=ACTOR, **changes)
        outcome = (
            f"Pair {pair_id} edited and verified."
            if pair.verdict == "valid"
            else f"Pair {pair_id} saved as needs review — ⚠ flagged: {pair.flag}."
        )
        return {**show(pair_id, _filter(*filter_values)), status: outcome}

    @reports_errors(status)
    def bulk_accept(pair_id: int | None, *filter_values: str) -> dict:
        chosen_filter = bulk_filter(_filter(*filter_values))
        matched = len(matching_ids(ws, chosen_filter))
        changed = bulk_set_status(ws, chosen_filter, "accepted", actor=ACTOR)
        return {
            **step(pair_id, 0, *filter_values),
            status: (
                f"Accepted {changed} of the {matched} {chosen_filter.status} pair(s) "
                "matching the filters; flagged pairs were left as they were."
            ),
        }

    @reports_errors(status)
    def export(name: str, pending: bool, replace_value: bool) -> dict:
        from studio.pairs.export import export_pairs

        summary = export_pairs(
            ws, (name or "").strip(), include_pending=bool(pending), replace=bool(replace_value)
        )
        by_strategy = ", ".join(f"{k} {v}" for k, v in summary["exported_by_strategy"].items())
        by_status = ", ".join(f"{k} {v}" for k, v in summary["exported_by_status"].items())
        text = (
            f"Exported **{summary['rows']} pair(s)** as dataset `{summary['name']}` "
            f"(by strategy: {by_strategy}; by status: {by_status}).\n\n"
            f"- LLaMA-Factory file: `{summary['file']}`\n- TRL file: `{summary['trl_file']}`"
        )
        return {export_summary: text, status: ""}

    @reports_errors(status)
    def start(
        model_ref: str,
        adapter_list: list[str] | None,
        dataset_name: str | None,
        strategy_name: str,
        samples: float | None,
        temp: float | None,
        questions: float | None,
        tokens: float | None,
    ) -> dict:
        from studio.pairs.config import MiningConfig
        from studio.pairs.launch import start_mining

        if not dataset_name:
            raise StudioError("pick a dataset to mine: import one in the Datasets tab")
        model_ref = roots.confine_model_ref((model_ref or "").strip(), "Model")
        adapters = [roots.confine_adapter(ws, value) for value in adapter_list or []]
        config = MiningConfig.from_mapping(
            {
                "model": model_ref,
                "dataset": dataset_name,
                "adapters": adapters,
                "strategy": strategy_name,
                "n": whole_at_least(samples, "Samples per question (n)", 1, 1),
                "temperature": number_at_least(temp, "Temperature", 0, 0.0),
                "limit": whole_at_least(questions, "Questions", 0, 0) or None,
                "max_new_tokens": whole_at_least(
                    tokens, "Max new tokens", 1, DEFAULT_MAX_NEW_TOKENS
                ),
            }
        )
        job = start_mining(ws, config)
        update = panel.show(job.id)
        line = mining_line(ws, panel.snapshot_of(update[panel.state]))
        return {**update, mining: line, status: ""}

    def mining_view(snap: Snapshot | None, pair_id: int | None, *filter_values: str) -> dict:
        """The mining line; the review once the shown job has finished (its pairs are in)."""
        update = {mining: mining_line(ws, snap)}
        if snap is not None and snap.finished:
            update.update(step(pair_id, 0, *filter_values))
        return update

    @reports_errors(status)
    def on_load(pair_id: int | None, *filter_values: str) -> dict:
        datasets_now = _sft_datasets(ws)
        return {
            **step(pair_id, 0, *filter_values),
            dataset: gr.Dropdown(
                choices=datasets_now, value=datasets_now[0] if datasets_now else None
            ),
            db_filter: gr.Dropdown(choices=_database_choices(ws)),
            adapters: gr.Dropdown(choices=list_adapters(ws)),
        }

    everything = [status, *view]
    refresh_panel = panel.wire((mining_view, [current, *filters], [mining, *view]))
    mine_button.click(
        start,
        [model, adapters, dataset, strategy, n, temperature, limit, max_new_tokens],
        [*panel.outputs, mining, status],
    )
    for box in filters:
        box.change(refresh, [current, *filters], everything)
    prev_button.click(lambda p, *f: move(p, -1, *f), [current, *filters], everything)
    next_button.click(lambda p, *f: move(p, 1, *f), [current, *filters], everything)
    accept_button.click(decide("accepted"), [current, *filters], everything)
    reject_button.click(decide("rejected"), [current, *filters], everything)
    save_edit.click(save, [current, chosen, rejected, *filters], everything)
    bulk_button.click(bulk_accept, [current, *filters], everything)
    export_inputs = [export_name, include_pending, replace_existing]
    export_button.click(export, export_inputs, [export_summary, status])
    return [
        (
            refresh_panel,
            [panel.state, current, *filters],
            [*panel.outputs, mining, *view, status],
        ),
        (on_load, [current, *filters], [*everything, dataset, db_filter, adapters]),
    ]
