"""The Playground tab: one question (a dataset row, or typed) answered side by side by up to three
model variants (a model plus an adapter stack), each SQL run with its result and judged against
the gold SQL when there is one. A thin layer over studio.inference.playground (models stay
loaded)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from studio.data.registry import database_ref, list_datasets, load_examples
from studio.errors import StudioError
from studio.inference.playground import (
    MAX_VARIANTS,
    Variant,
    VariantAnswer,
    answer_variant,
    build_messages_for,
    check_variants,
    default_pool,
)
from studio.inference.settings import DEFAULT_MAX_NEW_TOKENS
from studio.jobs.runs import list_adapters
from studio.models.references import DEFAULT_MODEL
from studio.ui.common import error_markdown, frame, readable, yields_whole_page
from studio.ui.pairs_tab import result_table
from studio.web.numbers import whole_at_least
from studio.web.path_roots import PathRoots
from studio.workspace import Workspace

NO_RESULT = ("no result yet",)


def playground_datasets(ws: Workspace) -> list[str]:
    """Datasets whose rows carry a database (the ones the playground can ask)."""
    return [info.name for info in list_datasets(ws) if info.databases]


def dataset_databases(ws: Workspace, dataset: str | None) -> list[str]:
    if not dataset:
        return []
    info = next((i for i in list_datasets(ws) if i.name == dataset), None)
    return sorted(info.databases) if info else []


def database_for(ws: Workspace, dataset: str | None, db_id: str | None) -> str:
    """The database reference of `db_id` in `dataset`; a StudioError naming what to pick
    otherwise."""
    if not dataset or not db_id:
        raise StudioError("pick a dataset and one of its databases (or a dataset row)")
    ref = database_ref(ws, dataset, db_id)
    if ref is None:
        raise StudioError(
            f"dataset '{dataset}' has no database registered for '{db_id}'; "
            "re-import it with its databases"
        )
    return ref


def schema_style_of(ws: Workspace, dataset: str) -> str:
    info = next((i for i in list_datasets(ws) if i.name == dataset), None)
    return (info.meta.schema_style if info and info.meta else None) or "ddl"


def variants_from(values: list[Any], adapter: Callable[[str], str]) -> list[Variant]:
    """Variants from the form's (model, adapters) pairs, each typed adapter turned into its folder
    by `adapter`; a row with no model is left out."""
    pairs = zip(values[0::2], values[1::2], strict=False)
    return [
        Variant(str(ref).strip(), tuple(adapter(value) for value in adapters or ()))
        for ref, adapters in pairs
        if ref and str(ref).strip()
    ]


def answer_markdown(reply: VariantAnswer | None, label: str) -> str:
    """The panel's heading: the variant, its time and its verdict (or why it could not answer)."""
    if reply is None:
        return f"**{label}**"
    if reply.error:
        return f"**{label}**\n\n{error_markdown(reply.error)}"
    verdict = (
        f"Verdict: **{reply.verdict_text}**" if reply.verdict else "no gold SQL, so no verdict"
    )
    agreement = f"\n\nVoted: {reply.agreement_text}" if reply.vote else ""
    return f"**{label}** · {reply.seconds:.1f} s\n\n{verdict}{agreement}"


def result_frame(reply: VariantAnswer | None) -> Any:
    if reply is None or reply.execution is None:
        return frame([], NO_RESULT)
    result = reply.execution
    if not result.ok:
        return frame([[f"{result.error_kind}: {result.error}"]], ["error"])
    return frame(result.rows, result.columns)


def build(ws: Workspace, roots: PathRoots) -> list[tuple[Any, list, list]]:
    """Build the Playground tab's components inside the caller's `gr.Tab` context; the model
    and adapter folders typed in it must lie inside `roots`."""
    gr.Markdown(
        "Ask one question of up to three model variants side by side (greedy decoding, or a vote "
        "among sampled answers by their results); each SQL runs read-only and is judged against "
        "the gold SQL when there is one. Models stay loaded between questions."
    )
    status = gr.Markdown(elem_id="pg-status")
    datasets = playground_datasets(ws)
    first = datasets[0] if datasets else None
    with gr.Row():
        dataset = gr.Dropdown(datasets, value=first, label="Dataset", elem_id="pg-dataset")
        row = gr.Number(0, precision=0, label="Row (0-based)", elem_id="pg-row")
        use_row = gr.Button("Use this row", elem_id="pg-use-row")
        databases = dataset_databases(ws, first)
        database = gr.Dropdown(
            databases,
            value=databases[0] if databases else None,
            label="Database",
            elem_id="pg-database",
        )
    question = gr.Textbox(label="Question", lines=2, elem_id="pg-question")
    evidence = gr.Textbox(label="Evidence (optional)", elem_id="pg-evidence")
    gold = gr.Code(
        language="sql",
        interactive=True,
        label="Gold SQL (optional: gives each answer a verdict)",
        wrap_lines=True,
        elem_id="pg-gold",
    )

    variant_inputs: list[Any] = []
    adapter_boxes = []
    with gr.Row():
        for k in range(1, MAX_VARIANTS + 1):
            with gr.Column():
                model = gr.Dropdown(
                    [DEFAULT_MODEL],
                    value=DEFAULT_MODEL if k == 1 else None,
                    allow_custom_value=True,
                    label=f"Variant {k}: model",
                    info="builtin:<name>, a model folder or a .gguf file (empty: unused)",
                    elem_id=f"pg-model-{k}",
                )
                adapters = gr.Dropdown(
                    list_adapters(ws),
                    value=[],
                    multiselect=True,
                    allow_custom_value=True,
                    label=f"Variant {k}: adapters (in order)",
                    elem_id=f"pg-adapters-{k}",
                )
                variant_inputs += [model, adapters]
                adapter_boxes.append(adapters)
    max_new_tokens = gr.Number(
        DEFAULT_MAX_NEW_TOKENS,
        precision=0,
        label="Max new tokens",
        elem_id="pg-max-new-tokens",
    )
    vote_n = gr.Number(
        0,
        precision=0,
        label="Vote over N samples (0: greedy)",
        info="sample N answers, run them, answer with the result most agree on",
        elem_id="pg-vote",
    )
    with gr.Row():
        ask = gr.Button("Ask", variant="primary", elem_id="pg-ask")
        unload = gr.Button("Unload models", elem_id="pg-unload")

    panels: list[tuple[Any, Any, Any]] = []
    with gr.Row():
        for k in range(1, MAX_VARIANTS + 1):
            with gr.Column():
                title = gr.Markdown(f"**Variant {k}**", elem_id=f"pg-answer-{k}")
                sql = gr.Code(
                    language="sql",
                    interactive=False,
                    label="SQL",
                    wrap_lines=True,
                    elem_id=f"pg-sql-{k}",
                )
                result = gr.Dataframe(
                    frame([], NO_RESULT),
                    label="Result",
                    interactive=False,
                    elem_id=f"pg-result-{k}",
                )
                panels.append((title, sql, result))
    gold_result = gr.Dataframe(
        frame([], NO_RESULT), label="Gold result", interactive=False, elem_id="pg-gold-result"
    )
    panel_outputs = [c for panel in panels for c in panel]

    def pick_dataset(name: str | None) -> dict:
        names = dataset_databases(ws, name)
        return {database: gr.Dropdown(choices=names, value=names[0] if names else None)}

    def fill_from_row(name: str | None, index: float | None) -> dict:
        try:
            if not name:
                raise StudioError("pick a dataset first")
            examples = load_examples(ws, name)
            position = int(index or 0)
            if not 0 <= position < len(examples):
                raise StudioError(
                    f"dataset '{name}' has rows 0 to {len(examples) - 1}; row {position} is not one"
                )
            example = examples[position]
            names = dataset_databases(ws, name)
            return {
                question: example.question or "",
                evidence: example.evidence or "",
                gold: example.gold_sql or "",
                database: gr.Dropdown(choices=names, value=example.db_id),
                status: "",
            }
        except Exception as error:  # noqa: BLE001 - shown on the page, never as a traceback
            gr.Warning(readable(error), duration=15)
            return {status: error_markdown(readable(error))}

    @yields_whole_page
    def run(
        name: str | None,
        db_id: str | None,
        text: str,
        note: str,
        gold_sql: str,
        tokens: float | None,
        samples: float | None,
        *values: Any,
    ) -> Iterator[dict]:
        """Answer with each variant in turn, yielding the page as each one finishes (whole: a
        table left out of a yield could be lost in a slow browser, see yields_whole_page)."""
        try:
            variants = check_variants(
                variants_from(list(values), lambda value: roots.confine_adapter(ws, value))
            )
            for variant in variants:
                roots.confine_model_ref(variant.ref, "Model")
            max_tokens = whole_at_least(tokens, "Max new tokens", 1, DEFAULT_MAX_NEW_TOKENS)
            vote = whole_at_least(samples, "Vote over N samples", 0, 0)
            database_path = database_for(ws, name, db_id)
            messages = build_messages_for(
                text or "", database_path, note or None, schema_style_of(ws, name)
            )
        except Exception as error:  # noqa: BLE001
            gr.Warning(readable(error), duration=15)
            yield {status: error_markdown(readable(error))}
            return
        pool = default_pool()
        gold_sql = (gold_sql or "").strip() or None
        cleared = {
            c: v
            for (t, s, r), k in zip(panels, range(1, MAX_VARIANTS + 1), strict=False)
            for c, v in ((t, f"**Variant {k}**"), (s, ""), (r, frame([], NO_RESULT)))
        }
        gold_table = frame([], NO_RESULT)
        if gold_sql:
            gold_table = result_table(database_path, gold_sql)
        yield {**cleared, gold_result: gold_table, status: f"Asking {len(variants)} variant(s)…"}
        for k, (variant, (title, sql, result)) in enumerate(
            zip(variants, panels, strict=False), start=1
        ):
            doing = (
                "answering"
                if pool.is_loaded(variant)
                else "loading the model (first use), then answering"
            )
            yield {
                status: f"Variant {k} of {len(variants)} ({variant.label}): {doing}…",
                title: f"**{variant.label}** · {doing}…",
            }
            try:
                reply = answer_variant(
                    pool,
                    variant,
                    messages,
                    database_path,
                    gold_sql,
                    max_tokens,
                    vote_n=vote,
                )
            except Exception as error:  # noqa: BLE001
                reply = VariantAnswer(variant, error=readable(error))
            yield {
                title: answer_markdown(reply, variant.label),
                sql: reply.sql,
                result: result_frame(reply),
            }
        yield {status: f"Done: {len(variants)} variant(s) answered."}

    def do_unload() -> dict:
        dropped = default_pool().unload()
        if not dropped:
            return {status: "No model is loaded."}
        names = ", ".join(variant.label for variant in dropped)
        return {
            status: f"Unloaded {len(dropped)} model(s): {names}. The next question loads again."
        }

    def on_load(chosen: str | None, *picked: list[str] | None) -> dict:
        """Fresh dataset and adapter choices, keeping what is picked (page load, tab shown)."""
        names = playground_datasets(ws)
        choices = list_adapters(ws)
        return {
            dataset: gr.Dropdown(choices=names, value=chosen if chosen in names else None),
            **{
                box: gr.Dropdown(
                    choices=choices + [a for a in value or [] if a not in choices],
                    value=value or [],
                )
                for box, value in zip(adapter_boxes, picked, strict=True)
            },
        }

    dataset.change(pick_dataset, [dataset], [database])
    use_row.click(fill_from_row, [dataset, row], [question, evidence, gold, database, status])
    ask.click(
        run,
        [dataset, database, question, evidence, gold, max_new_tokens, vote_n, *variant_inputs],
        [status, gold_result, *panel_outputs],
        concurrency_limit=1,
        concurrency_id="playground",
    )
    unload.click(do_unload, None, status, concurrency_limit=1, concurrency_id="playground")
    return [(on_load, [dataset, *adapter_boxes], [dataset, *adapter_boxes])]
