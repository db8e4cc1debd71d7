"""Assemble the studio's tabs into one Gradio app and serve it with a job supervisor.

While the page is served, one `Supervisor` thread starts and watches jobs (training,
pair generation, evaluation), so they run whether or not a browser is open; a restarted
studio reconciles the jobs table and re-attaches to jobs still running.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from studio.errors import StudioError
from studio.ui import (
    datasets_tab,
    evaluate_tab,
    export_tab,
    pairs_tab,
    playground_tab,
    train_tab,
)
from studio.web.login_gate import LoginGate, verify_gate
from studio.web.path_roots import PathRoots
from studio.workspace import Workspace

QUEUE_CONCURRENCY = 4
# Wide tables (runs, comparison, drill-down, pairs results) fit the window: columns share its
# width and long cells (errors, SQL, model paths) wrap instead of pushing columns off-screen.
FITTED_TABLES = ", ".join(
    f"#{elem_id}"
    for elem_id in (
        "train-history",
        "eval-runs",
        "eval-comparison",
        "eval-wrong",
        "eval-gold-rows",
        "eval-pred-rows",
        "pairs-gold-result",
        "pairs-chosen-result",
        "pairs-rejected-result",
        "datasets-table",
    )
)
CSS = (
    "#train-step {font-size: 1.1em}\n"
    f":is({FITTED_TABLES}) table {{table-layout: fixed; width: 100% !important;}}\n"
    f":is({FITTED_TABLES}) :is(th, td) {{width: auto !important; min-width: 0 !important;}}\n"
    f":is({FITTED_TABLES}) :is(th, td) * {{white-space: normal !important;"
    " overflow-wrap: anywhere;}\n"
    ".cm-content {overflow-wrap: anywhere;}"
)
Refresher = tuple[Callable[..., dict], Sequence[Any], Sequence[Any]]


def _wire(app: gr.Blocks, tab: gr.Tab, refreshers: Sequence[Refresher]) -> None:
    """Run a tab's refreshers when the page loads and whenever the tab is shown."""
    for fn, inputs, outputs in refreshers:
        app.load(fn, list(inputs), list(outputs), show_progress="hidden")
        tab.select(fn, list(inputs), list(outputs), show_progress="hidden")


def build_app(workspace: Workspace, roots: PathRoots) -> gr.Blocks:
    """The studio page for `workspace`; every path typed on it must lie inside `roots`."""
    with gr.Blocks(title="Text-to-SQL Studio", analytics_enabled=False) as app:
        gr.Markdown(
            "# Text-to-SQL Studio\n"
            f"Workspace: `{workspace.root}` — register data, train LoRA SFT and DPO, "
            "curate DPO pairs, compare models by execution accuracy, export models."
        )
        with gr.Tabs():
            with gr.Tab("Datasets", id="datasets") as tab:
                refreshers = datasets_tab.build(workspace, roots)
            _wire(app, tab, refreshers)
            with gr.Tab("Train", id="train") as tab:
                refreshers = train_tab.build(workspace, roots)
            _wire(app, tab, refreshers)
            with gr.Tab("Pairs", id="pairs") as tab:
                refreshers = pairs_tab.build(workspace, roots)
            _wire(app, tab, refreshers)
            with gr.Tab("Playground", id="playground") as tab:
                refreshers = playground_tab.build(workspace, roots)
            _wire(app, tab, refreshers)
            with gr.Tab("Evaluate", id="evaluate") as tab:
                refreshers = evaluate_tab.build(workspace, roots)
            _wire(app, tab, refreshers)
            with gr.Tab("Export", id="export"):
                export_tab.build(workspace, roots)
    app.queue(default_concurrency_limit=QUEUE_CONCURRENCY)
    return app


def prepare_workspace(workspace: Workspace) -> None:
    """Settle the jobs a previous studio left (the demo data is registered by open_workspace)."""
    from studio.jobs import reconcile

    reconcile(workspace)


def _stop_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _verify_or_close(app: gr.Blocks) -> None:
    """Stop serving unless the login gate turns away a request without a login."""
    try:
        verify_gate(app.local_url)
    except StudioError:
        app.close()
        raise


def serve(
    workspace: Workspace,
    roots: PathRoots,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth: tuple[str, str] | None = None,
) -> None:
    """Serve the studio until interrupted (Ctrl-C or SIGTERM), supervising jobs meanwhile.

    With `auth`, every route but the login page is behind Gradio's login (studio.web.login_gate).
    Jobs outlive the studio: stopping it leaves running jobs running, and the next studio
    (or `python -m studio jobs supervise`) adopts them.
    """
    from studio.jobs import Supervisor

    prepare_workspace(workspace)
    supervisor = Supervisor(workspace).start()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    app = build_app(workspace, roots)
    try:
        app.launch(
            server_name=host,
            server_port=port,
            auth=auth,
            show_error=False,
            css=CSS,
            footer_links=["settings"],
            ssr_mode=False,
            prevent_thread_lock=True,
            app_kwargs={"middleware": [Middleware(LoginGate)]} if auth else None,
        )
        if auth:
            _verify_or_close(app)
        app.block_thread()
    finally:
        signal.signal(signal.SIGTERM, previous)
        supervisor.stop()
