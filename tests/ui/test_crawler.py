"""Every control of every tab, crawled in a real browser with empty, invalid and valid values.

The controls are read from the page: each Gradio component of the shown tab that takes input
(text boxes, number fields, dropdowns, checkboxes, radios, SQL/YAML editors) and each button.
Which buttons a control feeds comes from the page's own event wiring (`gradio_config`), so a new
control or button is crawled without touching this test. Per tab: every control gets its valid
value (`VALID`, else the value the page started with) and every button is clicked once; then
every control is set empty, and then invalid ("no/such/path", -1, nonsense typed into a
dropdown), and every button that takes inputs is clicked after each of these passes. Each
control's own change events run as it is set.

The crawl fails on a red Gradio error (toast or component badge), a traceback in the studio's
log and an uncaught JavaScript error of the page; warnings and the tabs' status lines are the
studio's own way to say what is wrong, so they pass.

Kept bounded: buttons that start long work (training, mining, evaluation, export, asking
models) are clicked only with their model field naming a folder outside the allowed ones
(`GUARDS`), so the studio refuses before anything is queued or loaded; "Save to file" writes
only into pytest's temporary folder; "Unregister" only removes the dataset the crawl imported;
"Delete run" is never clicked (the layout test and the crawl need the seeded runs). There are
no file inputs on the page (every path is typed).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from studio.models.references import DEFAULT_MODEL
from studio.testing.stacks import dump_studio_stacks

TABS = ("Datasets", "Train", "Pairs", "Playground", "Evaluate", "Export")
CONTROL_TYPES = ("textbox", "number", "dropdown", "checkbox", "radio", "code")
NONSENSE = "no/such/path"
OUTSIDE = "/no/such/path"  # outside every allowed folder: refused before anything starts
NEVER_CLICKED = {"datasets-delete", "pairs-delete", "eval-delete", "train-delete"}
GUARDS: dict[str, dict[str, str]] = {
    "train-start": {"train-model": OUTSIDE},
    "pairs-mine": {"pairs-model": OUTSIDE},
    "eval-run": {"eval-model": OUTSIDE},
    "export-start": {"export-model": OUTSIDE},
    "pg-ask": {"pg-model-1": OUTSIDE},
}
ERROR_SELECTOR = ".toast-body.error, span.error"
SETTLE_TIMEOUT_S = 120.0


@dataclass
class Control:
    """One interactive component of the shown tab."""

    component: int
    kind: str
    dom_id: str
    label: str
    multiselect: bool
    custom: bool
    initial: Any
    choices: list[Any] = field(default_factory=list)


# The shown tab's components of the given types; one without an elem_id is found by its label
# (or a button by its text) and given the id `crawl-<component id>`.
CONTROLS_JS = """(types) => {
  const shown = (node) => node && node.offsetParent !== null;
  const byLabel = (c, label) => {
    if (c.type === 'button') {
      return Array.from(document.querySelectorAll('button:not([id])'))
        .find(b => shown(b) && b.innerText.trim() === label);
    }
    const spans = Array.from(document.querySelectorAll('[data-testid=block-info], .label-text'));
    const span = spans.find(s => shown(s) && s.innerText.trim() === label);
    const block = span && span.closest('.block');
    return block && (!block.id || block.id === `crawl-${c.id}`) ? block : null;
  };
  return window.gradio_config.components
    .filter(c => types.includes(c.type))
    .map(c => {
      const label = String(c.props.label || c.props.value || '').trim();
      let node = c.props.elem_id ? document.getElementById(c.props.elem_id) : null;
      if (!c.props.elem_id) {
        node = document.getElementById(`crawl-${c.id}`) || byLabel(c, label);
        if (node) node.id = `crawl-${c.id}`;
      }
      return shown(node) ? {component: c.id, kind: c.type, dom_id: node.id, label,
                            multiselect: !!c.props.multiselect,
                            custom: !!c.props.allow_custom_value} : null;
    })
    .filter(c => c !== null);
}"""
CLICK_TARGETS_JS = """() => window.gradio_config.dependencies
  .flatMap(d => d.targets.filter(t => t[1] === 'click').map(t => [t[0], d.inputs]))"""


# what each queued event is: its trigger's elem_id or label and event name, by fn_index
EVENTS_JS = """(indices) => indices.map(i => {
  const dep = window.gradio_config.dependencies.find(d => d.id === i);
  if (!dep) return `fn ${i}`;
  const names = dep.targets.map(([id, event]) => {
    const c = window.gradio_config.components.find(c => c.id === id);
    const p = (c && c.props) || {};
    return `${p.elem_id || p.label || p.value || (c && c.type) || id}.${event}`;
  });
  return `fn ${i} (${dep.api_name || 'no api name'}: ${names.join(', ') || 'page load'})`;
})"""


# Installed before the page loads: counts the page's Gradio events from the moment it asks to
# queue one (`/queue/join`) until its answer (`process_completed`) comes on the event stream
# (`/queue/data`, read through a copy of the response). An open event stream says nothing by
# itself: Gradio's client opens a new one whenever a join is answered after the previous stream
# was closed, even when that stream already carried the event's answer, and the server keeps a
# stream with nothing left to answer open (heartbeats) until some later event ends.
EVENTS_INIT_JS = """(() => {
  const state = {joining: 0, open: new Set(), answered: new Set()};
  window.__crawlEvents = state;
  const readStream = async (response) => {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    try {
      for (;;) {
        const {value, done} = await reader.read();
        if (done) return;
        text += decoder.decode(value, {stream: true});
        const lines = text.split('\\n');
        text = lines.pop();
        for (const line of lines.filter(l => l.startsWith('data:'))) {
          let message = {};
          try { message = JSON.parse(line.slice(5)); } catch (error) { continue; }
          if (message.msg === 'process_completed' && message.event_id) {
            state.answered.add(message.event_id);
            state.open.delete(message.event_id);
          }
        }
      }
    } catch (error) {}  // the page closed the stream
  };
  const fetch = window.fetch;
  window.fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input);
    const joining = url.includes('/queue/join');
    state.joining += joining ? 1 : 0;
    try {
      const response = await fetch(input, init);
      if (url.includes('/queue/data') && response.ok && response.body) {
        readStream(response.clone());
      }
      if (joining && response.ok) {
        const id = (await response.clone().json().catch(() => ({}))).event_id;
        if (id && !state.answered.has(id)) state.open.add(id);
      }
      return response;
    } finally {
      state.joining -= joining ? 1 : 0;
    }
  };
})()"""
UNANSWERED_JS = (
    "() => window.__crawlEvents ? window.__crawlEvents.joining + window.__crawlEvents.open.size : 0"
)


class Watcher:
    """Network activity, Gradio events, page errors, error toasts and log tracebacks of one page
    (created before the page loads, so that its load events are counted)."""

    def __init__(self, page: Any, studio: Any) -> None:
        self.page, self.studio, self.log_path = page, studio, studio.log_path
        self.pending: set[Any] = set()
        self.joined: list[dict[str, Any]] = []  # events queued since the page was last quiet
        self.page_errors: list[str] = []
        self.findings: list[str] = []
        self.log_offset = self.log_path.stat().st_size
        page.add_init_script(EVENTS_INIT_JS)
        page.on("request", self._started)
        page.on("requestfinished", lambda request: self.pending.discard(request))
        page.on("requestfailed", lambda request: self.pending.discard(request))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def _started(self, request: Any) -> None:
        if "heartbeat" not in request.url and "/queue/data" not in request.url:
            self.pending.add(request)  # event streams: their events are counted in the page
        if "/queue/join" in request.url:
            self.joined.append(request.post_data_json or {})

    def settle(self) -> None:
        """Wait until, for a moment, every event the page queued is answered and no other
        request is in flight. A stall fails with the events queued since the page was last
        quiet and the stacks of the studio's threads (where its handlers wait)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        quiet = 0
        while quiet < 3:
            self.page.wait_for_timeout(100)
            unanswered = self.page.evaluate(UNANSWERED_JS)
            quiet = quiet + 1 if not self.pending and not unanswered else 0
            if time.monotonic() > deadline:
                pending = ", ".join(r.url for r in self.pending) or "none"
                events = self.page.evaluate(EVENTS_JS, [j.get("fn_index") for j in self.joined])
                stacks = dump_studio_stacks(self.studio.process, self.log_path)
                pytest.fail(
                    f"after {SETTLE_TIMEOUT_S:.0f} s, {unanswered} events unanswered and other "
                    f"requests pending: {pending}\n"
                    f"events queued since the page was last quiet: {events}\n"
                    f"the studio's threads:\n{stacks}"
                )
        self.joined.clear()

    def check(self, what: str) -> None:
        """Note every error shown since the last check, then clear the toasts."""
        self.settle()
        shown = [
            text.strip()
            for text in self.page.locator(ERROR_SELECTOR).all_inner_texts()
            if text.strip()
        ]
        if shown:
            self.findings.append(f"{what}: error shown: {' | '.join(shown)}")
        if self.page_errors:
            self.findings.append(f"{what}: page error: {' | '.join(self.page_errors)}")
            self.page_errors.clear()
        with open(self.log_path, encoding="utf-8", errors="replace") as log:
            log.seek(self.log_offset)
            added = log.read()
            self.log_offset = log.tell()
        if "Traceback (most recent call last)" in added:
            start = added.index("Traceback (most recent call last)")
            self.findings.append(f"{what}: traceback in the studio log:\n{added[start:][:3000]}")
        self.page.evaluate(
            "() => document.querySelectorAll('.toast-close').forEach(b => b.click())"
        )


def controls_of_tab(page: Any) -> list[Control]:
    found = []
    for item in page.evaluate(CONTROLS_JS, list(CONTROL_TYPES)):
        control = Control(**item, initial=None)
        if editable(page, control):
            control.initial = read_value(page, control)
            found.append(control)
    return found


def buttons_of_tab(page: Any) -> list[tuple[int, str, str]]:
    """(component, dom id, label) of every visible button of the shown tab, in page order."""
    return [
        (c["component"], c["dom_id"], c["label"])
        for c in page.evaluate(CONTROLS_JS, ["button"])
        if c["dom_id"] not in NEVER_CLICKED
    ]


def editable(page: Any, control: Control) -> bool:
    root = f"#{control.dom_id}"
    if control.kind == "code":
        return page.locator(f"{root} .cm-content[contenteditable=true]").count() > 0
    box = field_box(page, control)
    return box.count() > 0 and box.is_editable()


def field_box(page: Any, control: Control) -> Any:
    root = f"#{control.dom_id}"
    selector = {
        "textbox": f"{root} textarea, {root} input",
        "number": f"{root} input[type=number]",
        "dropdown": f"{root} input[role=combobox]",
        "checkbox": f"{root} input[type=checkbox]",
        "radio": f"{root} input[type=radio]",
    }[control.kind]
    return page.locator(selector).first


def read_value(page: Any, control: Control) -> Any:
    root = f"#{control.dom_id}"
    if control.kind == "code":
        return page.locator(f"{root} .cm-content").inner_text()
    if control.kind == "checkbox":
        return field_box(page, control).is_checked()
    if control.kind == "radio":
        checked = page.locator(f"{root} label.selected input")
        return checked.get_attribute("value") if checked.count() else None
    if control.kind == "dropdown" and control.multiselect:
        return page.locator(f"{root} .token span").all_inner_texts()
    return field_box(page, control).input_value()


def blur(page: Any) -> None:
    page.locator("body").click(position={"x": 3, "y": 3})


def set_text(page: Any, control: Control, value: str) -> None:
    if control.kind == "code":
        editor = page.locator(f"#{control.dom_id} .cm-content")
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.press("Delete")
        if value:
            page.keyboard.insert_text(value)
        blur(page)
        return
    box = field_box(page, control)
    box.fill(value)
    box.press("Tab")


def clear_tokens(page: Any, control: Control) -> None:
    box = field_box(page, control)
    for _ in range(len(read_value(page, control))):
        box.click()
        box.press("Backspace")
    blur(page)


def pick(page: Any, control: Control, wanted: Any) -> bool:
    """Choose `wanted` (or the first option when `wanted` is None) in a dropdown; False when the
    dropdown offers nothing to choose."""
    box = field_box(page, control)
    box.click()
    options = page.get_by_role("option")
    if wanted is not None:
        options = page.get_by_role("option", name=str(wanted), exact=True)
    if options.count() == 0:
        page.keyboard.press("Escape")
        blur(page)
        return False
    options.first.click()
    page.keyboard.press("Escape")
    blur(page)
    return True


def type_into_dropdown(page: Any, control: Control, value: str) -> None:
    box = field_box(page, control)
    box.fill(value)
    box.press("Enter")
    blur(page)


def apply(page: Any, control: Control, mode: str, valid: dict[str, Any]) -> bool:
    """Give `control` its `mode` value (empty, invalid or valid); False when it has none."""
    wanted = valid.get(control.dom_id, valid.get(control.label, control.initial))
    kind = control.kind
    if kind in ("textbox", "code", "number"):
        text = {"empty": "", "invalid": "-1" if kind == "number" else NONSENSE}.get(mode)
        set_text(page, control, str(wanted if text is None else text))
        return True
    if kind == "checkbox":
        field_box(page, control).set_checked(
            {"empty": False, "invalid": True}.get(mode, bool(wanted))
        )
        return True
    if kind == "radio":
        if mode != "valid":
            return False
        page.locator(f"#{control.dom_id} input[value='{wanted}']").check()
        return True
    # dropdowns
    if mode == "empty":
        if control.multiselect:
            clear_tokens(page, control)
            return True
        if control.custom:
            type_into_dropdown(page, control, "")
            return True
        return False
    if mode == "invalid":
        type_into_dropdown(page, control, NONSENSE)
        return True
    if control.multiselect:
        clear_tokens(page, control)
        for value in wanted or []:
            pick(page, control, value)
        return True
    if control.custom and wanted:
        type_into_dropdown(page, control, str(wanted))
        return True
    return pick(page, control, wanted or None)


@pytest.fixture(scope="module")
def crawl_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small alpaca file to import and a YAML to load and save, inside the studio's data root."""
    folder = tmp_path_factory.mktemp("crawl")
    alpaca = folder / "crawl_alpaca.json"
    alpaca.write_text(
        json.dumps([{"instruction": "Count table t.", "input": "", "output": "SELECT 1"}])
    )
    config = folder / "crawl_sft.yaml"
    repo = Path(__file__).resolve().parents[2]
    config.write_text((repo / "configs" / "demo_sft.yaml").read_text())
    return {"alpaca": alpaca, "config": config}


def valid_values(seeded: Any, files: dict[str, Path], tiny_model: Path) -> dict[str, Any]:
    """Valid values of the controls where the page's initial value is not one (by elem_id, or
    by label for components without one)."""
    return {
        "import-path": str(files["alpaca"]),
        "import-name": "crawl_alpaca",
        "Dataset to unregister": "crawl_alpaca",
        "preview-dataset": "demo_train",
        "preview-model": str(tiny_model),
        "train-config-path": str(files["config"]),
        "train-ready": "configs/demo_sft.yaml",
        "pairs-export-name": "crawl_pairs",
        "pg-dataset": "demo_train",
        "pg-question": "How many singers are there?",
        "pg-gold": "SELECT COUNT(*) FROM singer",
        "eval-dataset": "demo_test",
        "eval-drill-run": seeded.eval_run,
        "eval-compare": [seeded.eval_run],
        "export-out": str(files["config"].parent / "exported"),
        "Show run": seeded.train_runs[0],
        "train-overlay-runs": [seeded.train_runs[0]],
        **{f"pg-model-{k}": DEFAULT_MODEL for k in (1, 2, 3)},
    }


def click(page: Any, watcher: Watcher, dom_id: str, label: str, what: str) -> None:
    button = page.locator(f"button#{dom_id}")
    if button.count() == 0 or not button.is_visible() or button.is_disabled():
        return
    guards = GUARDS.get(dom_id, {})
    for guarded, value in guards.items():
        type_into_dropdown(page, Control(0, "dropdown", guarded, "", False, True, None), value)
    if guards:  # their change events answered first (the last check settled everything before)
        watcher.settle()
    button.click()
    watcher.check(f"{what}, then '{label}' clicked")


def crawl_tab(
    page: Any, watcher: Watcher, tab: str, valid: dict[str, Any], targets: dict[int, set[int]]
) -> list[str]:
    """Crawl one tab: every control valid, then empty, then invalid, every button clicked once
    after each pass; returns the controls crawled."""
    page.get_by_role("tab", name=tab).click()
    watcher.check(f"[{tab}] tab shown")
    controls = controls_of_tab(page)
    fed = {component for inputs in targets.values() for component in inputs}
    buttons = buttons_of_tab(page)
    for mode in ("valid", "empty", "invalid"):
        changed = [control.dom_id for control in controls if apply(page, control, mode, valid)]
        watcher.check(f"[{tab}] {', '.join(changed)} set {mode}")
        for component, dom_id, label in buttons:
            if targets.get(component) or mode == "valid":
                click(page, watcher, dom_id, label, f"[{tab}] every control {mode}")
    return [control.dom_id for control in controls if control.component in fed]


@pytest.mark.browser
def test_every_control_of_every_tab_survives_empty_invalid_and_valid_values(
    seeded_studio, page, crawl_files, tiny_qwen2_dir: Path
) -> None:
    studio = seeded_studio.studio
    page.set_viewport_size({"width": 1440, "height": 900})
    watcher = Watcher(page, studio)  # before the page loads: its load events are queued then
    page.goto(studio.url)
    page.locator("#datasets-table").wait_for()
    watcher.check("page loaded")
    targets: dict[int, set[int]] = {}
    for button, inputs in page.evaluate(CLICK_TARGETS_JS):
        targets.setdefault(button, set()).update(inputs)
    valid = valid_values(seeded_studio, crawl_files, tiny_qwen2_dir)
    crawled = {tab: crawl_tab(page, watcher, tab, valid, targets) for tab in TABS}
    assert all(crawled.values()), f"a tab had no control to crawl: {crawled}"
    assert not watcher.findings, "\n\n".join(watcher.findings)
