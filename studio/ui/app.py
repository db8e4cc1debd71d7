"""Assemble the studio's tabs into one Gradio app and serve it."""

from __future__ import annotations

import gradio as gr

from studio.workspace import Workspace

TABS = ("Datasets", "Train", "Pairs", "Playground", "Evaluate")


def build_app(workspace: Workspace) -> gr.Blocks:
    """The studio page for `workspace`."""
    with gr.Blocks(title="Text-to-SQL Studio", analytics_enabled=False) as app:
        gr.Markdown(
            "# Text-to-SQL Studio\n"
            f"Workspace: `{workspace.root}` — register data, train LoRA SFT and DPO, "
            "curate DPO pairs, compare models by execution accuracy."
        )
        with gr.Tabs():
            for name in TABS:
                with gr.Tab(name, id=name.lower()):
                    gr.Markdown(f"## {name}")
    return app


def serve(workspace: Workspace, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None) -> None:
    """Serve the studio until interrupted."""
    build_app(workspace).launch(server_name=host, server_port=port, auth=auth, show_error=False)
