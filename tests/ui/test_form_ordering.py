"""The Train form's refresh and its stage switch are answered in the order they were asked.

A refresh of the pickers asked before a stage switch and answered after it (the studio busy)
would put the old stage's dataset choices back under the new stage's value. The two run in one
queue of one: the Gradio app built for a real workspace is inspected for that wiring.
"""

from __future__ import annotations

from pathlib import Path

from studio.ui.app import build_app
from studio.ui.train_tab import FORM_QUEUE
from studio.web.path_roots import PathRoots
from studio.workspace import Workspace


def test_train_refresh_and_stage_switch_share_a_queue_of_one(tmp_path: Path) -> None:
    app = build_app(Workspace(tmp_path), PathRoots((tmp_path,)))
    train_events = {
        (block_fn.fn.__name__, trigger): block_fn
        for block_fn in app.fns.values()
        if getattr(block_fn.fn, "__module__", "") == "studio.ui.train_tab"
        for _, trigger in block_fn.targets
    }
    ordered = [train_events[key] for key in (("on_load", "load"), ("on_load", "select"))]
    ordered.append(train_events[("on_stage", "input")])
    assert [(event.concurrency_id, event.concurrency_limit) for event in ordered] == [
        (FORM_QUEUE, 1)
    ] * 3
    others = [event for key, event in train_events.items() if key[0] not in {"on_load", "on_stage"}]
    assert others and all(event.concurrency_id != FORM_QUEUE for event in others)
