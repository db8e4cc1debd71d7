"""The Datasets tab: import, list, preview, validate and unregister datasets.

The same functions as `python -m studio data import|list|show|validate|unregister`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from studio.data.clashes import REPLACE_LABEL
from studio.data.gold_check import GOLD_FIX, check_datasets_golds
from studio.data.importers import DEFAULT_CUTOFF_LEN, IMPORTERS, PROMPT_BUILDING_FORMATS
from studio.data.registry import list_datasets, unregister_dataset
from studio.data.schema_text import SCHEMA_STYLES
from studio.data.validate import validate_registry
from studio.models.references import DEFAULT_MODEL
from studio.ui.common import frame, in_form_words, reports_errors
from studio.web.numbers import whole_at_least
from studio.web.path_roots import PathRoots
from studio.workspace import Workspace

DATASET_COLUMNS = ("name", "kind", "rows", "dialect", "databases", "schema style", "source")
PROBLEM_COLUMNS = ("file", "entry", "field", "problem", "fix")
MAX_DB_NAMES = 6

# The import command's options as the import form names them (errors come from the shared core)
IMPORT_FIELDS = {
    "--path": "Path",
    "--name": "Name",
    "--db-dir": "Database folder (SQLite)",
    "--mysql-url": "MySQL URL",
    "--schema-style": "Schema style",
    "--cutoff-len": "cutoff_len",
    "--format": "Format",
    "--model": "Model",
    "--replace": REPLACE_LABEL,
}


def _databases_text(databases: dict[str, str | None]) -> str:
    names = sorted(databases)
    shown = ", ".join(names[:MAX_DB_NAMES]) + (
        f" (+{len(names) - MAX_DB_NAMES})" if len(names) > MAX_DB_NAMES else ""
    )
    return f"{len(names)}: {shown}" if names else "none"


def dataset_table(ws: Workspace) -> Any:
    """The registered datasets as a table."""
    rows = []
    for info in list_datasets(ws):
        meta = info.meta
        rows.append(
            [
                info.name,
                info.kind,
                info.rows if info.rows is not None else "?",
                info.dialect or "",
                _databases_text(info.databases),
                (meta.schema_style if meta else None) or "",
                (meta.source_format if meta else None) or "hand-added",
            ]
        )
    return frame(rows, DATASET_COLUMNS)


def dataset_names(ws: Workspace) -> list[str]:
    return [info.name for info in list_datasets(ws)]


def build(
    ws: Workspace, roots: PathRoots
) -> list[tuple[Callable[..., dict], list[Any], list[Any]]]:
    """Build the tab; returns its refreshers (run on page load and when the tab is shown).
    Paths typed in it must lie inside `roots`."""
    gr.Markdown(
        "Datasets registered in the workspace's `dataset_info.json` (LLaMA-Factory format). "
        "CLI: `python -m studio data list|import|show|validate|unregister`."
    )
    status = gr.Markdown(elem_id="datasets-status")
    table = gr.Dataframe(
        frame([], DATASET_COLUMNS),
        label="Registered datasets",
        interactive=False,
        elem_id="datasets-table",
        wrap=True,
    )
    refresh = gr.Button("Refresh", size="sm")

    with gr.Accordion("Import a dataset", open=True):
        with gr.Row():
            fmt = gr.Dropdown(
                list(IMPORTERS),
                value="alpaca",
                label="Format",
                info="bird / spider / csv build prompts from the databases; alpaca / pairs "
                "register existing rows",
                elem_id="import-format",
            )
            path = gr.Textbox(
                label="Path",
                placeholder="/data/bird/dev  or  /data/my_sft.json",
                elem_id="import-path",
            )
            name = gr.Textbox(
                label="Name (optional)",
                placeholder="default: from the file or folder",
                elem_id="import-name",
            )
        with gr.Row():
            db_dir = gr.Textbox(
                label="Database folder (SQLite)",
                elem_id="import-db-dir",
                placeholder="<db_id>/<db_id>.sqlite inside",
            )
            mysql_url = gr.Textbox(
                label="…or MySQL URL", placeholder="mysql://user:pass@127.0.0.1:3306/any"
            )
            style = gr.Dropdown(list(SCHEMA_STYLES), value="ddl", label="Schema style")
            cutoff = gr.Number(
                DEFAULT_CUTOFF_LEN,
                label="cutoff_len",
                info=f"token budget of prompt + answer for {', '.join(PROMPT_BUILDING_FORMATS)} "
                "(0: none); alpaca and pairs keep their rows as they are",
                precision=0,
                elem_id="import-cutoff",
            )
        with gr.Row():
            replace_existing = gr.Checkbox(False, label=REPLACE_LABEL, elem_id="import-replace")
            import_button = gr.Button("Import", variant="primary", elem_id="import-button")

    with gr.Accordion("Preview prompts", open=True):
        with gr.Row():
            preview_name = gr.Dropdown([], label="Dataset", elem_id="preview-dataset")
            model = gr.Textbox(
                DEFAULT_MODEL,
                label="Model (its chat template renders the prompt)",
                elem_id="preview-model",
            )
            row = gr.Number(0, label="Row", precision=0, elem_id="preview-row")
            preview_button = gr.Button("Preview", elem_id="preview-button")
        preview_header = gr.Markdown(elem_id="preview-header")
        with gr.Row():
            prompt = gr.Textbox(
                label="Rendered prompt (chat template applied)",
                lines=14,
                max_lines=30,
                interactive=False,
                buttons=["copy"],
                elem_id="preview-prompt",
            )
            gold = gr.Code(
                label="Gold SQL", language="sql", lines=6, wrap_lines=True, elem_id="preview-gold"
            )

    with gr.Accordion("Validate and unregister", open=False):
        with gr.Row():
            validate_button = gr.Button("Validate every dataset", elem_id="validate-button")
            golds_button = gr.Button(
                "Execute every gold SQL on its database", elem_id="validate-golds-button"
            )
        problems = gr.Dataframe(
            frame([], PROBLEM_COLUMNS),
            label="Problems and their fixes",
            interactive=False,
            wrap=True,
            elem_id="validate-problems",
        )
        with gr.Row():
            remove_name = gr.Dropdown([], label="Dataset to unregister")
            remove_button = gr.Button("Unregister", variant="stop")

    def refreshed(message: str | None = None, previewed: str | None = None) -> dict:
        names = dataset_names(ws)
        shown = previewed if previewed in names else (names[0] if names else None)
        update = {
            table: dataset_table(ws),
            preview_name: gr.Dropdown(choices=names, value=shown),
            remove_name: gr.Dropdown(choices=names),
        }
        if message is not None:
            update[status] = message
        return update

    @reports_errors(status)
    def do_import(
        fmt_value: str,
        path_value: str,
        name_value: str,
        db_value: str,
        mysql_value: str,
        style_value: str,
        cutoff_value: float | None,
        model_value: str,
        replace_value: bool,
    ) -> dict:
        from studio.data.importers import import_dataset
        from studio.data.importers.common import ImportOptions
        from studio.data.preview import cached_tokenizer
        from studio.errors import StudioError

        if not path_value.strip():
            raise StudioError("fill in Path: the file or folder to import")
        # a budget for the formats that build prompts; alpaca and pairs rows stay as they are
        building = fmt_value in PROMPT_BUILDING_FORMATS
        cutoff = whole_at_least(cutoff_value, "cutoff_len", 0, 0)
        cutoff_len = (cutoff or None) if building else None
        source = roots.confine(path_value.strip(), "Path")
        db_dir = roots.confine(db_value.strip(), "Database folder") if db_value.strip() else None
        model_ref = roots.confine_model_ref(model_value.strip(), "Model") if cutoff_len else None
        options = ImportOptions(
            name=name_value.strip() or None,
            replace=bool(replace_value),
            db_dir=db_dir,
            mysql_url=mysql_value.strip() or None,
            schema_style=style_value,
            cutoff_len=cutoff_len,
            tokenizer=cached_tokenizer(model_ref) if model_ref else None,
            tokenizer_ref=model_ref,
        )
        try:
            imported = import_dataset(ws, fmt_value, source, options)
        except StudioError as error:
            raise StudioError(in_form_words(str(error), IMPORT_FIELDS)) from None
        listed = ", ".join(f"`{info.name}` ({info.rows} rows)" for info in imported)
        return refreshed(f"Imported {listed}.", imported[0].name)

    @reports_errors(status)
    def do_preview(dataset: str | None, model_ref: str, index: float | None) -> dict:
        from studio.data.preview import preview_rows
        from studio.errors import StudioError

        if not dataset:
            raise StudioError("choose a dataset to preview (import one above if the list is empty)")
        model_ref = roots.confine_model_ref(model_ref.strip() or DEFAULT_MODEL, "Model")
        position = whole_at_least(index, "Row", 0, 0)
        shown = preview_rows(ws, dataset, model_ref, position, count=1)[0]
        header = (
            f"**{dataset}** row {shown.index}"
            + (f" · database `{shown.db_id}`" if shown.db_id else "")
            + (f" · {shown.difficulty}" if shown.difficulty else "")
        )
        answer = shown.gold_sql or ""
        if shown.chosen is not None:
            answer = f"-- chosen\n{shown.chosen}\n\n-- rejected\n{shown.rejected}"
        return {preview_header: header, prompt: shown.rendered_prompt, gold: answer, status: ""}

    @reports_errors(status)
    def do_validate() -> dict:
        found = validate_registry(ws)
        rows = [[p.file, p.entry or "", p.field or "", p.message, p.fix] for p in found]
        message = (
            f"{len(found)} problem(s) found; each row names the fix."
            if found
            else "Every dataset is valid."
        )
        return {problems: frame(rows, PROBLEM_COLUMNS), status: message}

    @reports_errors(status)
    def do_validate_golds() -> dict:
        checks = check_datasets_golds(ws)
        rows = [
            [
                check.dataset,
                f"row {f.index}",
                f"gold SQL on {f.db_id}",
                f"{f.error}: {f.gold_sql}",
                GOLD_FIX,
            ]
            for check in checks
            for f in check.failures
        ]
        executed = sum(check.executed for check in checks)
        message = (
            f"{len(rows)} of {executed:,} gold queries fail; each row names the question."
            if rows
            else f"All {executed:,} gold queries execute."
        )
        return {problems: frame(rows, PROBLEM_COLUMNS), status: message}

    @reports_errors(status)
    def do_unregister(dataset: str | None) -> dict:
        from studio.errors import StudioError

        if not dataset:
            raise StudioError("choose the dataset to unregister")
        unregister_dataset(ws, dataset)
        return refreshed(f"Unregistered `{dataset}`.")

    listing = [table, preview_name, remove_name, status]
    import_inputs = [fmt, path, name, db_dir, mysql_url, style, cutoff, model, replace_existing]
    import_button.click(do_import, import_inputs, listing)
    preview_button.click(
        do_preview, [preview_name, model, row], [preview_header, prompt, gold, status]
    )
    validate_button.click(do_validate, None, [problems, status])
    golds_button.click(do_validate_golds, None, [problems, status])
    remove_button.click(do_unregister, remove_name, listing)
    refresh.click(
        reports_errors(status)(lambda previewed: refreshed("", previewed)), preview_name, listing
    )
    return [
        (
            reports_errors(status)(lambda previewed: refreshed(None, previewed)),
            [preview_name],
            listing,
        )
    ]
