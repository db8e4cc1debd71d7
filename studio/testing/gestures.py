"""Browser gestures on the studio's page, shared by the Playwright tests and the loop benchmark.

Each takes a Playwright `page` (duck-typed: this module imports nothing from Playwright) and
a Gradio `elem_id`.
"""

from __future__ import annotations

from typing import Any


def open_tab(page: Any, name: str) -> None:
    """Click the tab labelled `name`."""
    page.get_by_role("tab", name=name).click()


def fill(page: Any, elem_id: str, value: object) -> None:
    """Type `value` into a textbox or number field and leave it (Gradio commits on blur)."""
    box = page.locator(f"#{elem_id} input, #{elem_id} textarea").first
    box.fill(str(value))
    box.press("Tab")


def choose(page: Any, elem_id: str, option: str) -> None:
    """Pick `option` in a Gradio dropdown."""
    page.locator(f"#{elem_id} input").first.click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def choose_custom(page: Any, elem_id: str, value: object) -> None:
    """Type `value` into a Gradio dropdown that allows custom values and commit it (a
    multiselect adds it to the chosen values)."""
    box = page.locator(f"#{elem_id} input").first
    box.fill(str(value))
    box.press("Enter")
    page.locator("body").click(position={"x": 5, "y": 5})


def wait_for_train_form(page: Any) -> None:
    """Wait until the page's load has answered the Train form (its Dataset picker holds a
    dataset): what is picked or typed before that answer is overwritten by it."""
    page.locator("#train-dataset .token").first.wait_for()


def field_value(page: Any, elem_id: str) -> str:
    """The current value of a textbox or number field."""
    return page.locator(f"#{elem_id} input, #{elem_id} textarea").first.input_value()


def code_text(page: Any, elem_id: str) -> str:
    """The whole text of a Gradio code editor, as its Download link serves it (CodeMirror
    renders only the lines near the view, so its DOM can miss lines)."""
    return page.evaluate(CODE_DOWNLOAD_JS, elem_id)


CODE_DOWNLOAD_JS = """async (id) => {
    const link = document.querySelector('#' + id + ' a[download]');
    return await (await fetch(link.href)).text();
}"""


def table_row(page: Any, elem_id: str, text: str) -> Any:
    """The data row of a Gradio dataframe holding `text`."""
    return page.locator(f"#{elem_id} [role=row]", has_text=text)


def element_text(page: Any, elem_id: str) -> str:
    """The visible text of an element (a status line, a header)."""
    return page.locator(f"#{elem_id}").inner_text()


def loss_points(page: Any) -> int:
    """How many points the Train tab's loss curve has drawn (0 before the chart renders)."""
    return int(page.evaluate(LOSS_POINTS_JS))


LOSS_POINTS_JS = """() => {
    const plot = document.querySelector('#train-curves .js-plotly-plot');
    const loss = plot && plot.data ? plot.data.find(trace => trace.name === 'loss') : null;
    return loss ? loss.x.length : 0;
}"""


RECORD_TEXTS_JS = """(id) => {
    window.__studioTexts = window.__studioTexts || {};
    const seen = window.__studioTexts[id] = [];
    const note = () => {
        const node = document.getElementById(id);
        const text = node ? node.innerText.trim() : '';
        if (text && seen[seen.length - 1] !== text) seen.push(text);
    };
    new MutationObserver(note).observe(document.body,
                                       {subtree: true, childList: true, characterData: true});
    note();
}"""


def record_texts(page: Any, elem_id: str) -> None:
    """From now on, remember every text the element `elem_id` shows (see `recorded_texts`)."""
    page.evaluate(RECORD_TEXTS_JS, elem_id)


def recorded_texts(page: Any, elem_id: str) -> list[str]:
    """The texts `elem_id` showed since `record_texts`, in order, repeats collapsed."""
    return page.evaluate("(id) => window.__studioTexts[id]", elem_id)


def trace_points(page: Any, elem_id: str) -> dict[str, int]:
    """How many points each trace of the plotly chart `elem_id` has drawn, by trace name."""
    return page.evaluate(TRACE_POINTS_JS, f"#{elem_id}")


def trace_values(page: Any, elem_id: str, name: str) -> dict[str, list[Any]]:
    """The x and y values of the trace `name` of the plotly chart `elem_id`."""
    return page.evaluate(TRACE_VALUES_JS, [f"#{elem_id}", name])


def wait_for_points(
    page: Any, elem_id: str, names: tuple[str, ...], at_least: int, timeout: int
) -> None:
    """Poll until every trace in `names` of the plotly chart `elem_id` has `at_least` points."""
    page.wait_for_function(
        f"""([selector, names, n]) => {{ const counts = ({TRACE_POINTS_JS})(selector);
              return names.every(name => (counts[name] || 0) >= n); }}""",
        arg=[f"#{elem_id}", list(names), at_least],
        timeout=timeout,
    )


def set_code(page: Any, elem_id: str, text: str) -> None:
    """Replace a code editor's text as a person pasting it would (no auto-indent on typed
    newlines)."""
    page.locator(f"#{elem_id} .cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


TRACE_POINTS_JS = """(selector) => {
    const plot = document.querySelector(selector + ' .js-plotly-plot');
    const counts = {};
    for (const trace of (plot && plot.data) || []) {
        counts[trace.name] = trace.x ? trace.x.length : 0;
    }
    return counts;
}"""
TRACE_VALUES_JS = """([selector, name]) => {
    const plot = document.querySelector(selector + ' .js-plotly-plot');
    const trace = plot.data.find(t => t.name === name);
    return {x: Array.from(trace.x), y: Array.from(trace.y)};
}"""
