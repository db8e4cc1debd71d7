"""Every handler of the studio page that streams updates (a generator) yields whole pages.

Gradio's browser client applies a generator's later yields as diffs, in place, to the values of
the yield before, even when a slow page has not shown those yet: an output a later yield leaves
out can undo a value yielded just before it (studio/ui/common.py, yields_whole_page). This
checks the rule over the whole page built as `app.py` serves it, so a new streaming handler
cannot miss it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any


def wrapper_chain(function: Callable[..., Any]) -> list[Callable[..., Any]]:
    """`function` and every function it wraps (functools.wraps' `__wrapped__`)."""
    chain = [function]
    while hasattr(chain[-1], "__wrapped__"):
        chain.append(chain[-1].__wrapped__)
    return chain


def test_every_streaming_handler_of_the_page_yields_whole_pages(tmp_path: Path) -> None:
    from studio.data.importers.demo import open_workspace
    from studio.ui.app import build_app
    from studio.ui.common import WHOLE_PAGE_MARK
    from studio.web.path_roots import PathRoots

    ws = open_workspace(tmp_path / "workspace")
    app = build_app(ws, PathRoots.for_workspace(ws.root, [tmp_path]))
    streaming, unmarked = [], []
    for block_function in app.fns.values():
        chain = wrapper_chain(block_function.fn) if block_function.fn else []
        if not any(inspect.isgeneratorfunction(f) or inspect.isasyncgenfunction(f) for f in chain):
            continue
        streaming.append(block_function.name)
        if not any(getattr(f, WHOLE_PAGE_MARK, False) for f in chain):
            unmarked.append(block_function.name)
    # the page's streaming handlers: Playground's Ask, Export's Start, Train's Start
    assert len(streaming) >= 3, streaming
    assert not unmarked, f"streaming handlers without @yields_whole_page: {unmarked}"
