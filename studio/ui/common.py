"""What the studio's tabs share: readable errors instead of tracebacks, table frames, and
plotly figures built from metrics records and evaluation comparisons."""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import gradio as gr
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from studio.errors import StudioError
from studio.models.references import DEFAULT_MODEL
from studio.sql.result import display_value

LOG = logging.getLogger("studio.ui")
TRAIN_PANELS = (("loss", "Loss"), ("learning_rate", "Learning rate"), ("grad_norm", "Grad norm"))
DPO_PANELS = (
    (("rewards/chosen", "rewards/rejected"), "Rewards (chosen / rejected)"),
    (("rewards/margins",), "Reward margin"),
    (("rewards/accuracies",), "Reward accuracy"),
)
GRPO_PANELS = (
    (("reward", "reward_std"), "Reward (mean / std)"),
    (("grpo/any_correct", "grpo/all_correct"), "Groups with any / all correct"),
    (("grpo/correct", "eval_grpo/correct"), "Answers right (sampled / held-out greedy)"),
    (("grpo/exec_error", "grpo/timeout"), "Execution errors (all / timeouts)"),
    (("kl",), "KL to the reference"),
    (("completions/mean_length",), "Answer length (tokens)"),
    (("tokens_per_s", "rollout_tokens_per_s"), "Tokens/s (step / rollout)"),
)
GRPO_COLUMNS = 3
FIGURE_HEIGHT = 320


def readable(error: BaseException) -> str:
    """A message for the page: a StudioError as written (it names the fix), anything else as
    `Type: message`."""
    if isinstance(error, StudioError):
        return str(error)
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def error_markdown(message: str) -> str:
    """A status line for a failed action (kept on the page after the toast goes); `<` and `>`
    stay text, so placeholders such as `<db_id>` are shown, not taken for HTML."""
    lines = html.escape(message, quote=False).splitlines() or [""]
    body = "\n".join(f"> {line}" if line else ">" for line in lines)
    return f"**Could not do that:**\n\n{body}"


def in_form_words(message: str, fields: Mapping[str, str]) -> str:
    """`message` with each CLI option it names (`--db-dir`) called by the page's field label
    (**Database folder (SQLite)**), so a core error reads as the form's own words."""
    for flag, label in fields.items():
        message = re.sub(rf"`?{re.escape(flag)}(?![\w-])`?", f"**{label}**", message)
    return message


def reports_errors(status: gr.Markdown) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """Decorate a handler that returns {component: value}: on any exception, warn with a
    readable message and write it to `status` instead of showing a traceback or an "Error" box."""

    def decorate(handler: Callable[..., dict]) -> Callable[..., dict]:
        @functools.wraps(handler)
        def wrapped(*args: Any, **kwargs: Any) -> dict:
            try:
                return handler(*args, **kwargs)
            except Exception as error:
                if not isinstance(error, StudioError):
                    LOG.exception("handler %s failed", handler.__name__)
                message = readable(error)
                gr.Warning(message, duration=15)
                return {status: error_markdown(message)}

        return wrapped

    return decorate


WHOLE_PAGE_MARK = "yields_whole_page"  # set on every handler yields_whole_page decorated


def yields_whole_page(
    handler: Callable[..., Iterator[dict]],
) -> Callable[..., Iterator[dict]]:
    """Decorate a generator handler that yields {component: value} updates so that each yield
    carries every component set so far, not only the ones it changes.

    Gradio streams a generator's later yields as diffs against the one before, and its browser
    client applies them in place to the values of that earlier yield, even when the page has
    not shown those yet (a slow browser): a component left out of a yield turns into a no-op
    update, so a value yielded just before it (a table) could be lost. With every value yielded
    again, a later yield changes an earlier one only into a newer value.
    """

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Iterator[dict]:
        page: dict = {}
        for update in handler(*args, **kwargs):
            page.update(update)
            yield dict(page)

    setattr(wrapped, WHOLE_PAGE_MARK, True)
    return wrapped


def frame(rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> pd.DataFrame:
    """A table for gr.Dataframe (an empty one keeps its headers; long text cut for the page)."""
    return pd.DataFrame([[display_value(v) for v in row] for row in rows], columns=list(columns))


def _series(records: Sequence[Mapping[str, Any]], key: str) -> tuple[list[Any], list[Any]]:
    points = [
        (r["step"], r[key]) for r in records if r.get(key) is not None and r.get("step") is not None
    ]
    return [p[0] for p in points], [p[1] for p in points]


def training_figure(records: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Loss, learning rate and grad norm against step, one panel each (training records only)."""
    figure = make_subplots(
        rows=1, cols=len(TRAIN_PANELS), subplot_titles=[title for _, title in TRAIN_PANELS]
    )
    for column, (key, _title) in enumerate(TRAIN_PANELS, start=1):
        steps, values = _series(records, key)
        figure.add_trace(
            go.Scatter(x=steps, y=values, name=key, mode="lines+markers"), row=1, col=column
        )
    figure.update_xaxes(title_text="step")
    figure.update_layout(
        height=FIGURE_HEIGHT, showlegend=False, margin={"t": 40, "b": 40, "l": 50, "r": 20}
    )
    return figure


def _panels_figure(
    records: Sequence[Mapping[str, Any]],
    panels: Sequence[tuple[tuple[str, ...], str]],
    columns: int,
) -> go.Figure:
    """One panel per (metric keys, title), `columns` to a row, every key a curve against step."""
    rows = -(-len(panels) // columns)
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=[t for _, t in panels])
    for index, (keys, _title) in enumerate(panels):
        for key in keys:
            steps, values = _series(records, key)
            figure.add_trace(
                go.Scatter(x=steps, y=values, name=key, mode="lines+markers"),
                row=index // columns + 1,
                col=index % columns + 1,
            )
    figure.update_xaxes(title_text="step")
    figure.update_layout(height=FIGURE_HEIGHT * rows, margin={"t": 40, "b": 40, "l": 50, "r": 20})
    return figure


def dpo_figure(records: Sequence[Mapping[str, Any]]) -> go.Figure:
    """DPO rewards (chosen and rejected), margins and accuracies against step."""
    return _panels_figure(records, DPO_PANELS, len(DPO_PANELS))


def grpo_figure(records: Sequence[Mapping[str, Any]]) -> go.Figure:
    """GRPO reward mean and std, groups with any and with all answers correct, execution
    errors, KL, answer length and tokens/s against step."""
    return _panels_figure(records, GRPO_PANELS, GRPO_COLUMNS)


def overlay_figure(
    curves: Mapping[str, Sequence[Mapping[str, Any]]], key: str = "loss"
) -> go.Figure:
    """`key` against step for several runs on one chart (run name -> its records)."""
    figure = go.Figure()
    for name, records in curves.items():
        steps, values = _series(records, key)
        figure.add_trace(go.Scatter(x=steps, y=values, name=name, mode="lines+markers"))
    figure.update_layout(
        height=FIGURE_HEIGHT,
        xaxis_title="step",
        yaxis_title=key,
        margin={"t": 30, "b": 40, "l": 50, "r": 20},
    )
    return figure


def comparison_figure(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> go.Figure:
    """Grouped bars of EX (%) per run: overall, voted (when a run voted), then each difficulty,
    hardness and database row of a `compare_runs` table (columns: label then one per run)."""
    overall = {"EX (%)": "overall", "EX voted (%)": "voted"}
    groups = [
        row
        for row in rows
        if row[0] in overall or str(row[0]).startswith(("difficulty:", "hardness:", "database:"))
    ]
    labels = [overall.get(row[0], str(row[0])) for row in groups]
    figure = go.Figure()
    for position, run_name in enumerate(columns[1:], start=1):
        figure.add_trace(go.Bar(x=labels, y=[row[position] for row in groups], name=run_name))
    figure.update_layout(
        barmode="group",
        height=380,
        yaxis_title="EX (%)",
        yaxis_range=[0, 100],
        legend={"orientation": "h", "y": -0.3},
        margin={"t": 30, "b": 40, "l": 50, "r": 20},
    )
    return figure


def model_picker(elem_id: str) -> gr.Dropdown:
    """The model dropdown every tab shows: the default model, or any reference typed in."""
    return gr.Dropdown(
        [DEFAULT_MODEL],
        value=DEFAULT_MODEL,
        allow_custom_value=True,
        label="Model",
        info="builtin:<name>, a model folder or a .gguf file",
        elem_id=elem_id,
    )


def adapter_picker(
    choices: Sequence[str],
    elem_id: str,
    label: str = "Adapters (in order)",
    info: str | None = None,
) -> gr.Dropdown:
    """The LoRA adapter stack dropdown: `choices` (trained adapters), or folders typed in."""
    return gr.Dropdown(
        list(choices),
        value=[],
        multiselect=True,
        allow_custom_value=True,
        label=label,
        info=info,
        elem_id=elem_id,
    )
