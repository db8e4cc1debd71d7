"""The job panel every job tab shares (training, mining, evaluation): the shown job's state, phase,
count, rate and ETA, its log's tail, and Cancel / Resume / Delete run buttons enabled by state.

    panel = JobPanel(ws, MINE, "pairs", status, start=mine_button)
    ...
    mine_button.click(start, inputs, panel.outputs)   # a handler returning panel.show(job.id)
    panel.wire(extra=(refresh_pairs, [current], review_outputs))

The panel follows the newest job of its kind (also after a page reload) unless the tab pinned
another with `show(job_id, follow=False)`; its timer ticks only while the shown job is queued,
running or cancelling. What it shows comes from `studio.jobs.monitor`, as the CLI's bar does.
A `resumable` panel (Train) has a Resume button for a cancelled or failed run; the tab supplies
what resuming does: `panel.wire(extra, resume=fn)`, fn(job shown) -> (new job, message).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.jobs.kinds import JobKind
from studio.jobs.model import CANCELLED, FAILED, Job
from studio.jobs.monitor import Snapshot, format_duration, format_rate, latest_job, snapshot
from studio.jobs.runs import active_job
from studio.ui.common import reports_errors
from studio.workspace import Workspace

POLL_S = 2.0
LOG_LINES = 40
# Keeps each panel's log scrolled to its end when new lines arrive (also when first filled).
SCROLL_LOGS_JS = """
if (!window.__studioJobLogs) {
  window.__studioJobLogs = true;
  const stick = () => document.querySelectorAll('.job-log textarea').forEach((box) => {
    box.scrollTop = box.scrollHeight;
  });
  new MutationObserver(stick).observe(document.body, {subtree: true, childList: true,
                                                      characterData: true});
}
"""

Extra = tuple[Callable[..., dict], Sequence[Any], Sequence[Any]]
Resumer = Callable[[Job], tuple[Job, str]]


def progress_html(snap: Snapshot | None) -> str:
    """The phase with a bar when it has a count, then rate and ETA."""
    if snap is None or not snap.phase:
        return ""
    parts = [f"<b>{html.escape(snap.progress)}</b>"]
    if snap.fraction is not None:
        parts.append(f"{snap.fraction:.0%}")
    if snap.rate is not None and snap.state == "running":
        parts.append(html.escape(f"{format_rate(snap.rate)} {snap.unit}/s".replace(" /s", "/s")))
    if snap.eta_s is not None:
        parts.append(f"ETA {format_duration(snap.eta_s)}")
    bar = (
        f'<progress value="{snap.done}" max="{snap.total}" style="width:100%"></progress>'
        if snap.fraction is not None
        else ""
    )
    return f"<div>{' · '.join(parts)}</div>{bar}"


def header_markdown(snap: Snapshot | None, noun: str) -> str:
    """`**run** · job 3 · **running**`, with the error of a failed job."""
    if snap is None:
        return f"No {noun} run yet."
    text = f"**{snap.run_name}** · job {snap.job.id} · **{snap.state}**"
    if snap.job.title:
        text += f" · {snap.job.title}"
    if snap.error:
        text += f"\n\n> {snap.error}"
    return text


class JobPanel:
    """Build inside a tab; `start` (the tab's start button) is disabled while a job of this kind
    is queued or running when `exclusive`."""

    def __init__(
        self,
        ws: Workspace,
        kind: JobKind,
        prefix: str,
        status: gr.Markdown,
        start: gr.Button,
        *,
        resumable: bool = False,
        exclusive: bool = True,
        header_id: str | None = None,
    ) -> None:
        self.ws, self.kind, self.status, self.start = ws, kind, status, start
        self.exclusive = exclusive
        self.state = gr.State(None)  # {"job": id, "follow": bool}
        self.header = gr.Markdown(elem_id=header_id or f"{prefix}-job")
        self.progress = gr.HTML(elem_id=f"{prefix}-job-progress")
        with gr.Row():
            self.cancel = gr.Button(
                "Cancel", variant="stop", interactive=False, size="sm", elem_id=f"{prefix}-cancel"
            )
            self.resume = (
                gr.Button("Resume", interactive=False, size="sm", elem_id=f"{prefix}-resume")
                if resumable
                else None
            )
            self.delete = gr.Button(
                "Delete run", interactive=False, size="sm", elem_id=f"{prefix}-delete"
            )
        self.log = gr.Textbox(
            label="Log (tail)",
            lines=8,
            max_lines=8,
            interactive=False,
            autoscroll=True,
            elem_id=f"{prefix}-job-log",
            elem_classes=["job-log"],
        )
        gr.HTML("", js_on_load=SCROLL_LOGS_JS, container=False)
        self.timer = gr.Timer(POLL_S, active=False)
        self.extra: Callable[..., dict] | None = None  # `wire`'s extra fn

    @property
    def outputs(self) -> list[Any]:
        """Every component `show` and the tick update."""
        buttons = [self.cancel, self.delete, self.start]
        if self.resume is not None:
            buttons.append(self.resume)
        return [self.state, self.header, self.progress, self.log, self.timer, *buttons]

    def snapshot_of(self, state: dict[str, Any] | None) -> Snapshot | None:
        return None if state is None else snapshot(self.ws, state["job"], LOG_LINES)

    def view(self, state: dict[str, Any] | None) -> dict:
        """Updates for every panel component showing the job in `state` (None: no job)."""
        snap = self.snapshot_of(state)
        busy = self.exclusive and active_job(self.ws, self.kind.name) is not None
        update: dict = {
            self.state: state,
            self.header: header_markdown(snap, self.kind.noun),
            self.progress: progress_html(snap),
            self.log: snap.log if snap is not None else "",
            self.timer: gr.Timer(active=snap is not None and snap.active),
            self.cancel: gr.Button(interactive=snap is not None and snap.can_cancel),
            self.delete: gr.Button(interactive=snap is not None and snap.can_delete),
            self.start: gr.Button(interactive=not busy),
        }
        if self.resume is not None:
            update[self.resume] = gr.Button(
                interactive=snap is not None and snap.state in (CANCELLED, FAILED)
            )
        return update

    def show(self, job_id: int | None, follow: bool = True) -> dict:
        """Updates showing job `job_id`; `follow`: switch to newer jobs of the kind as they come."""
        return self.view(None if job_id is None else {"job": job_id, "follow": follow})

    def target(self, state: dict[str, Any] | None) -> dict[str, Any] | None:
        """The state to show now: the newest job of the kind when following, else `state`."""
        if state is not None and not state.get("follow", True):
            return state
        job = latest_job(self.ws, self.kind.name)
        return None if job is None else {"job": job.id, "follow": True}

    def render(self, state: dict[str, Any] | None, *values: Any) -> dict:
        """`view(state)` plus the updates of the `extra` given to `wire` (its inputs' `values`)."""
        update = self.view(state)
        if self.extra is not None:
            update.update(self.extra(self.snapshot_of(state), *values))
        return update

    def wire(
        self, extra: Extra | None = None, resume: Resumer | None = None
    ) -> Callable[..., dict]:
        """Wire the timer and the buttons; returns the refresher (for page load) whose inputs
        are the panel's state then `extra`'s inputs, its outputs `outputs` then `extra`'s.
        `extra` = (fn, inputs, outputs): fn(snapshot or None, *inputs) -> more updates, called
        on each refresh (the tab's own views of the run: charts, tables). `resume` (a resumable
        panel's, and only its): fn(job shown) -> (the job continuing its run, a message)."""
        if (self.resume is None) != (resume is None):
            raise ValueError("a resumable JobPanel takes a resume handler; no other panel does")
        fn, inputs, outputs = extra or (None, [], [])
        self.extra = fn

        @reports_errors(self.status)
        def refresh(state: dict[str, Any] | None, *values: Any) -> dict:
            return self.render(self.target(state), *values)

        @reports_errors(self.status)
        def do_cancel(state: dict[str, Any] | None) -> dict:
            from studio.jobs import cancel

            if state is None:
                raise StudioError(
                    f"no {self.kind.noun} job is shown, so there is nothing to cancel"
                )
            job = cancel(self.ws, state["job"])
            if job.finished and job.state != CANCELLED:
                message = f"Job {job.id} had already {job.state}; nothing to cancel."
            else:
                message = f"Cancelling job {job.id}: it stops at the next safe point."
                if self.resume is not None:
                    message += " **Resume** continues from there."
            return {**self.view(state), self.status: message}

        @reports_errors(self.status)
        def do_resume(state: dict[str, Any] | None, *values: Any) -> dict:
            from studio.jobs import get_job

            if state is None or resume is None:
                raise StudioError(
                    f"no {self.kind.noun} run is shown, so there is nothing to resume; pick a "
                    "cancelled or failed one"
                )
            job, message = resume(get_job(self.ws, state["job"]))
            return {**self.render({"job": job.id, "follow": True}, *values), self.status: message}

        @reports_errors(self.status)
        def do_delete(state: dict[str, Any] | None, *values: Any) -> dict:
            from studio.jobs import get_job
            from studio.jobs.runs import delete_run

            if state is None:
                raise StudioError(
                    f"no {self.kind.noun} run is shown, so there is nothing to delete"
                )
            folder = delete_run(self.ws, str(get_job(self.ws, state["job"]).run_dir))
            update = refresh(None, *values)
            update[self.status] = f"Deleted run `{folder.name}`."
            return update

        panel_inputs = [self.state, *inputs]
        panel_outputs = [*self.outputs, *outputs]
        self.timer.tick(refresh, panel_inputs, panel_outputs, show_progress="hidden")
        self.cancel.click(do_cancel, self.state, [*self.outputs, self.status])
        if self.resume is not None:
            self.resume.click(do_resume, panel_inputs, [*panel_outputs, self.status])
        self.delete.click(do_delete, panel_inputs, [*panel_outputs, self.status])
        return refresh
