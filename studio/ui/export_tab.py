"""The Export tab: a model plus an adapter stack merged into a Hugging Face folder, optionally a
GGUF file and an Ollama Modelfile (studio.export.pipeline, as `python -m studio model export`).
The export runs in a thread; its progress lines show as they come, then the files written."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.export.gguf_file import GGUF_DTYPES
from studio.export.merge import DTYPES
from studio.export.pipeline import ExportRequest, ExportResult, export_model
from studio.jobs.runs import list_adapters
from studio.ui.common import (
    adapter_picker,
    error_markdown,
    frame,
    model_picker,
    readable,
    yields_whole_page,
)
from studio.web.path_roots import PathRoots
from studio.workspace import Workspace

NO_GGUF = "none"
EXPORTS_FOLDER = "exports"
FILE_COLUMNS = ("file", "MiB")


def files_frame(result: ExportResult | None) -> Any:
    """The written files and their sizes."""
    rows = [[p.name, round(p.stat().st_size / 2**20, 2)] for p in result.files] if result else []
    return frame(rows, FILE_COLUMNS)


def build(ws: Workspace, roots: PathRoots) -> None:
    """Build the Export tab inside the caller's `gr.Tab`; the model, adapters and output folder
    typed in it must lie inside `roots`."""
    gr.Markdown(
        "Merge a model and its LoRA adapters (in stacking order) into a full Hugging Face folder, "
        "checked against the unmerged stack's logits; optionally a GGUF file for llama.cpp and "
        "an Ollama Modelfile with the system prompt the adapters were trained with."
    )
    status = gr.Markdown(elem_id="export-status")
    with gr.Row():
        model = model_picker("export-model")
        adapters = adapter_picker(list_adapters(ws), "export-adapters")
    with gr.Row():
        dtype = gr.Radio(list(DTYPES), value="bf16", label="Merged dtype", elem_id="export-dtype")
        gguf = gr.Radio(
            [NO_GGUF, *GGUF_DTYPES], value=NO_GGUF, label="GGUF file", elem_id="export-gguf"
        )
        modelfile = gr.Checkbox(False, label="Ollama Modelfile (needs a GGUF)", elem_id="export-mf")
    out_dir = gr.Textbox(
        str(ws.root / EXPORTS_FOLDER / "model"),
        label="Output folder (new or empty)",
        elem_id="export-out",
    )
    start = gr.Button("Start export", variant="primary", elem_id="export-start")
    progress = gr.Textbox(label="Progress", lines=8, interactive=False, elem_id="export-log")
    files = gr.Dataframe(
        files_frame(None), label="Files written", interactive=False, elem_id="export-files"
    )

    @yields_whole_page  # a later yield's diff must not undo the cleared file list
    def run(
        ref: str, stack: list[str] | None, kind: str, gguf_type: str, with_modelfile: bool, out: str
    ) -> Iterator[dict]:
        try:
            roots.confine_model_ref(ref or "", "Model")
            for adapter in stack or ():
                roots.confine(adapter, "Adapter")
            if not (out or "").strip():
                raise StudioError("type an output folder (new or empty)")
            request = ExportRequest(
                ref=(ref or "").strip(),
                adapters=tuple(stack or ()),
                out_dir=roots.confine(out.strip(), "Output folder"),
                dtype=kind,
                gguf=None if gguf_type == NO_GGUF else gguf_type,
                modelfile=bool(with_modelfile),
            )
        except Exception as error:  # noqa: BLE001 - shown on the page, never as a traceback
            gr.Warning(readable(error), duration=15)
            yield {status: error_markdown(readable(error))}
            return
        lines: queue.Queue[str] = queue.Queue()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["result"] = export_model(request, log=lines.put)
            except Exception as error:  # noqa: BLE001 - reported below
                outcome["error"] = error

        thread = threading.Thread(target=work, name="export", daemon=True)
        thread.start()
        shown: list[str] = []
        yield {status: "Exporting…", progress: "", files: files_frame(None)}
        while thread.is_alive() or not lines.empty():
            try:
                shown.append(lines.get(timeout=1.0))
            except queue.Empty:
                continue
            yield {progress: "\n".join(shown)}
        if "error" in outcome:
            message = readable(outcome["error"])
            gr.Warning(message, duration=15)
            yield {status: error_markdown(message)}
            return
        result: ExportResult = outcome["result"]
        yield {
            status: f"Exported to `{result.out_dir}`.",
            files: files_frame(result),
        }

    def on_load() -> dict:
        return {adapters: gr.Dropdown(choices=list_adapters(ws))}

    start.click(
        run,
        [model, adapters, dtype, gguf, modelfile, out_dir],
        [status, progress, files],
        concurrency_limit=1,
        concurrency_id="export",
    )
    root = gr.context.Context.root_block
    if root is not None:
        root.load(on_load, None, [adapters], show_progress="hidden")
