"""The Train tab: a LoRA SFT/DPO form mirrored as LLaMA-Factory YAML, job start/cancel/resume,
live charts from metrics.jsonl, and the history of runs.

The same functions as `python -m studio train CONFIG [--set K=V] | --resume RUN` and `jobs cancel`.
The page holds no run of its own: it re-attaches to the running job found in the jobs table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.jobs import FINAL_STATES, Job
from studio.jobs.kinds import TRAIN
from studio.jobs.rundir import RunDir
from studio.jobs.runs import (
    Run,
    active_job,
    find_run,
    log_tail,
    metrics,
    train_runs,
)
from studio.models.references import DEFAULT_MODEL
from studio.project import CONFIGS_DIR
from studio.train.choices import adapter_choices, first_of_stage, model_choices
from studio.train.config import TrainConfig, config_from_mapping, dump_config
from studio.train.form import (
    DEFAULT_BASE,
    FORM_KEYS,
    base_of,
    config_from_form,
    dataset_choices,
    form_values,
    form_yaml,
    key_notes,
    label,
    restage,
    run_config,
    steps_note,
)
from studio.train.keys import DPO_REFERENCES, PREF_LOSSES, STAGES
from studio.ui.common import (
    dpo_figure,
    error_markdown,
    frame,
    grpo_figure,
    overlay_figure,
    reports_errors,
    training_figure,
)
from studio.web.path_roots import PathRoots
from studio.workspace import Workspace

YAML_SUFFIXES = (".yaml", ".yml")
POLL_S = 2.0
HISTORY_COLUMNS = (
    "run",
    "job",
    "stage",
    "state",
    "datasets",
    "model",
    "step",
    "loss",
    "started",
    "duration",
    "error",
)


def history_table(runs: list[Run]) -> Any:
    rows = []
    for run in runs:
        last = run.last_metrics or {}
        started = run.job.started_at or run.job.created_at
        duration = run.job.duration_s
        rows.append(
            [
                run.name,
                run.job.id,
                run.config.get("stage", ""),
                run.state,
                ", ".join(run.config.get("dataset") or []),
                run.config.get("model_name_or_path", ""),
                last.get("step", ""),
                _round(last.get("loss")),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
                f"{duration:.0f} s" if duration is not None else "",
                run.job.error or "",
            ]
        )
    return frame(rows, HISTORY_COLUMNS)


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else ("" if value is None else value)


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def build(
    ws: Workspace, roots: PathRoots
) -> list[tuple[Callable[..., dict], list[Any], list[Any]]]:
    """Build the tab; returns its refreshers (fn, inputs, outputs) for page load and tab selection.
    Paths typed in it (YAML files, and those a config names) must lie inside `roots`."""
    gr.Markdown(
        "Fill the form or load a YAML from `configs/`; the YAML on the right is exactly what "
        "`python -m studio train FILE` would run. Charts and form follow the running job, also "
        "after a reload."
    )
    status = gr.Markdown(elem_id="train-status")
    base = gr.State(DEFAULT_BASE)
    monitor = gr.State(None)

    with gr.Row():
        with gr.Column(scale=3):
            with gr.Row():
                stage = gr.Radio(
                    list(STAGES), value="sft", label=label("stage"), elem_id="train-stage"
                )
                model = gr.Dropdown(
                    [DEFAULT_MODEL],
                    value=DEFAULT_MODEL,
                    allow_custom_value=True,
                    label=label("model_name_or_path"),
                    info="builtin:NAME, a local HF folder or a .gguf",
                    elem_id="train-model",
                )
            with gr.Row():
                adapters = gr.Dropdown(
                    [],
                    value=[],
                    multiselect=True,
                    allow_custom_value=True,
                    label=label("adapter_name_or_path"),
                    info="adapters finished runs saved, newest first (or type a folder); SFT "
                    "trains the last one further",
                    elem_id="train-adapters",
                )
                datasets = gr.Dropdown(
                    [], value=[], multiselect=True, label=label("dataset"), elem_id="train-dataset"
                )
            with gr.Row():
                lora_rank = gr.Number(8, label=label("lora_rank"), precision=0, minimum=1)
                lora_alpha = gr.Number(
                    0,
                    label=label("lora_alpha"),
                    precision=0,
                    minimum=0,
                    elem_id="train-lora-alpha",
                )
                lora_dropout = gr.Number(
                    0.0, label=label("lora_dropout"), minimum=0, maximum=0.99, step=0.05
                )
                lora_target = gr.Textbox(
                    "all", label=label("lora_target"), info="all, or q_proj,v_proj,..."
                )
            with gr.Row():
                learning_rate = gr.Number(5e-5, label=label("learning_rate"), elem_id="train-lr")
                epochs = gr.Number(
                    3.0, label=label("num_train_epochs"), minimum=0, elem_id="train-epochs"
                )
                max_steps = gr.Number(
                    8,
                    label=label("max_steps"),
                    precision=0,
                    info="-1: train Epochs instead",
                    elem_id="train-max-steps",
                )
                batch_size = gr.Number(
                    1,
                    label=label("per_device_train_batch_size"),
                    precision=0,
                    minimum=1,
                    elem_id="train-batch",
                )
                grad_accum = gr.Number(
                    1, label=label("gradient_accumulation_steps"), precision=0, minimum=1
                )
            steps_text = gr.Markdown(steps_note(3.0, 8), elem_id="train-steps-note")
            with gr.Row():
                cutoff_len = gr.Number(
                    1024, label=label("cutoff_len"), precision=0, minimum=16, elem_id="train-cutoff"
                )
                logging_steps = gr.Number(1, label=label("logging_steps"), precision=0, minimum=1)
                save_steps = gr.Number(
                    500,
                    label=label("save_steps"),
                    precision=0,
                    minimum=1,
                    elem_id="train-save-steps",
                )
                packing = gr.Checkbox(
                    False,
                    label=label("packing"),
                    elem_id="train-packing",
                    info="pack examples into cutoff_len bins, no padding; batch size counts bins",
                )
            with gr.Row(visible=False) as dpo_row:
                pref_beta = gr.Number(0.1, label=label("pref_beta"), minimum=0)
                pref_loss = gr.Dropdown(
                    list(PREF_LOSSES), value="sigmoid", label=label("pref_loss")
                )
                pref_ftx = gr.Number(
                    0.0,
                    label=label("pref_ftx"),
                    minimum=0,
                    elem_id="train-pref-ftx",
                    info="adds the chosen answers' NLL to the DPO loss; 0 = plain DPO",
                )
                dpo_reference = gr.Dropdown(
                    list(DPO_REFERENCES),
                    value="sft_adapter",
                    label=label("dpo_reference"),
                    info="sft_adapter: frozen copy of the SFT adapter; merged_sft: SFT "
                    "merged into the base",
                )
        with gr.Column(scale=2):
            yaml_code = gr.Code(
                dump_config(config_from_mapping(DEFAULT_BASE)),
                language="yaml",
                interactive=True,
                label="Equivalent YAML (edit, then Apply)",
                lines=20,
                max_lines=28,
                elem_id="train-yaml",
            )
            key_fates = gr.Markdown(elem_id="train-key-fates")
            with gr.Row():
                apply_yaml = gr.Button("Apply YAML to form", size="sm", elem_id="train-apply-yaml")
            with gr.Row():
                ready_files = sorted(
                    str(p.relative_to(CONFIGS_DIR.parent)) for p in CONFIGS_DIR.glob("*.yaml")
                )
                ready = gr.Dropdown(
                    ready_files, value=None, label="Ready configs", scale=2, elem_id="train-ready"
                )
                config_path = gr.Textbox(
                    label="YAML file",
                    placeholder="configs/my_run.yaml",
                    scale=3,
                    elem_id="train-config-path",
                )
            with gr.Row():
                load_button = gr.Button("Load file", size="sm", elem_id="train-load")
                save_button = gr.Button("Save to file", size="sm", elem_id="train-save")
    with gr.Row():
        start_button = gr.Button("Start training", variant="primary", elem_id="train-start")
        cancel_button = gr.Button("Cancel", variant="stop", elem_id="train-cancel")
        resume_button = gr.Button("Resume from last checkpoint", elem_id="train-resume")
        continue_button = gr.Button("Continue as a new run", elem_id="train-continue")

    run_header = gr.Markdown(elem_id="train-run")
    with gr.Row():
        step_text = gr.Markdown(elem_id="train-step")
        speed_text = gr.Markdown(elem_id="train-speed")
    curves = gr.Plot(label="Training curves", elem_id="train-curves")
    dpo_curves = gr.Plot(label="DPO rewards", visible=False, elem_id="train-dpo-curves")
    grpo_curves = gr.Plot(label="GRPO rewards", visible=False, elem_id="train-grpo-curves")
    log = gr.Textbox(
        label="Log (tail)",
        lines=10,
        max_lines=10,
        interactive=False,
        autoscroll=True,
        elem_id="train-log",
    )

    gr.Markdown("### Runs")
    history = gr.Dataframe(
        frame([], HISTORY_COLUMNS), interactive=False, wrap=True, elem_id="train-history"
    )
    with gr.Row():
        show_run = gr.Dropdown([], label="Show run", info="follow another run in the charts above")
        overlay_runs = gr.Dropdown(
            [],
            value=[],
            multiselect=True,
            label="Overlay loss curves of runs",
            elem_id="train-overlay-runs",
        )
    overlay = gr.Plot(label="Loss by run", elem_id="train-overlay")
    timer = gr.Timer(POLL_S, active=False)  # ticks only while a training job is queued or running

    form = [
        stage,
        model,
        adapters,
        datasets,
        lora_rank,
        lora_alpha,
        lora_dropout,
        lora_target,
        learning_rate,
        epochs,
        max_steps,
        batch_size,
        grad_accum,
        cutoff_len,
        logging_steps,
        save_steps,
        pref_beta,
        pref_loss,
        pref_ftx,
        dpo_reference,
        packing,
    ]
    monitor_outputs = [
        monitor,
        run_header,
        step_text,
        speed_text,
        curves,
        dpo_curves,
        grpo_curves,
        log,
        history,
        show_run,
        overlay_runs,
        status,
        timer,
    ]

    def attach(run_dir: Path, job_id: int, follow: bool) -> dict[str, Any]:
        run = RunDir(run_dir)
        config = run.read_config() or {}
        return {
            "run_dir": str(run_dir),
            "job_id": job_id,
            "stage": config.get("stage", "sft"),
            "max_steps": config.get("max_steps", -1),
            "offset": run.metrics.stat().st_size if run.metrics.exists() else 0,
            "records": metrics(run_dir),
            "follow": follow,
            "state": None,
        }

    def history_updates() -> dict:
        runs = train_runs(ws)
        names = [run.name for run in runs]
        return {
            history: history_table(runs),
            show_run: gr.Dropdown(choices=names),
            overlay_runs: gr.Dropdown(choices=names),
        }

    def monitor_view(state: dict[str, Any] | None, new_records: bool) -> dict:
        from studio.jobs import get_job

        if state is None:
            return {
                monitor: None,
                run_header: "No training run yet: fill the form and press **Start training**.",
            }
        job = get_job(ws, state["job_id"])
        records = [r for r in state["records"] if "loss" in r]
        last = records[-1] if records else {}
        stage_name = state["stage"]
        total = state["max_steps"]
        step = last.get("step", 0)
        update: dict = {
            run_header: (
                f"**{Path(state['run_dir']).name}** · job {job.id} · **{job.state}**"
                + (f" · {job.error}" if job.error else "")
            ),
            step_text: f"Step **{step}**"
            + (f" / {total}" if total and total > 0 else "")
            + (f" · epoch {last['epoch']}" if "epoch" in last else ""),
            speed_text: (
                f"{last.get('tokens_per_s') or '–'} tokens/s · ETA {_eta(last.get('eta_s'))}"
                if last
                else "waiting for the first logged step…"
            ),
            log: log_tail(job, 25),
        }
        if new_records:
            update[curves] = training_figure(records)
            update[dpo_curves] = gr.Plot(dpo_figure(records), visible=stage_name == "dpo")
            update[grpo_curves] = gr.Plot(grpo_figure(records), visible=stage_name == "grpo")
        if job.state != state.get("state"):
            state = {**state, "state": job.state}
            update.update(history_updates())
        update[monitor] = state
        return update

    def follow_target(state: dict[str, Any] | None, job: Job | None) -> dict[str, Any] | None:
        """The state to show: the active `job` when following (or nothing shown yet), else
        `state`."""
        following = state is None or state.get("follow", True)
        if following and job is not None and (state is None or job.id != state["job_id"]):
            if state is not None and Path(state["run_dir"]) == job.run_dir:
                return {**state, "job_id": job.id}
            return attach(job.run_dir, job.id, follow=True)
        if state is None:
            runs = train_runs(ws)
            return attach(runs[0].run_dir, runs[0].job.id, follow=True) if runs else None
        return state

    @reports_errors(status)
    def poll(state: dict[str, Any] | None) -> dict:
        """Refresh the shown run; the timer stays on while a training job is queued or running."""
        from studio.jobs.runtime import read_jsonl_from

        # read first: with none, the refresh below shows the final state
        job = active_job(ws, TRAIN.name)
        target = follow_target(state, job)
        if target is None:
            update = monitor_view(None, False)
        else:
            fresh = target is not state
            new, offset = read_jsonl_from(RunDir(target["run_dir"]).metrics, target["offset"])
            if new:
                target = {**target, "records": target["records"] + new, "offset": offset}
            update = monitor_view(target, fresh or bool(new))
        # asked again: a job started meanwhile (its click turned the timer on) keeps the timer on
        update[timer] = gr.Timer(active=job is not None or active_job(ws, TRAIN.name) is not None)
        return update

    def picker_updates(cfg: dict[str, Any]) -> dict:
        """The model, adapter and dataset pickers for a form showing `cfg`: their choices now
        (adapters labelled by their runs), the values `cfg` names kept among them."""
        datasets_now = dataset_choices(ws, cfg.get("stage") or "sft")
        chosen_adapters = list(cfg.get("adapter_name_or_path") or [])
        adapter_options = [(choice.label, choice.path) for choice in adapter_choices(ws)]
        known = {path for _, path in adapter_options}
        adapter_options += [(path, path) for path in chosen_adapters if path not in known]
        chosen_datasets = list(cfg.get("dataset") or [])
        chosen_model = cfg.get("model_name_or_path") or DEFAULT_MODEL
        return {
            model: gr.Dropdown(
                choices=list(dict.fromkeys([*model_choices(ws), *filter(None, [chosen_model])])),
                value=chosen_model,
            ),
            adapters: gr.Dropdown(choices=adapter_options, value=chosen_adapters),
            datasets: gr.Dropdown(
                choices=list(dict.fromkeys([*datasets_now.names, *chosen_datasets])),
                value=chosen_datasets,
                info=datasets_now.info,
            ),
        }

    def fill_form(cfg: TrainConfig, message: str) -> dict:
        """Every form field, the YAML pane and the pickers showing `cfg`."""
        data = cfg.to_dict()
        update: dict = dict(zip(form, form_values(data), strict=True))
        update.update(picker_updates(data))
        update.update(
            {
                base: base_of(cfg),
                yaml_code: dump_config(cfg),
                key_fates: key_notes(cfg),
                dpo_row: gr.Row(visible=cfg.stage == "dpo"),
                packing: gr.Checkbox(value=cfg.packing, visible=cfg.stage == "sft"),
                steps_text: steps_note(cfg.num_train_epochs, cfg.max_steps),
                status: message,
            }
        )
        return update

    @reports_errors(status)
    def on_load(state: dict[str, Any] | None, base_value: dict[str, Any], *values: Any) -> dict:
        """Page load and tab selection: refresh the run shown and the pickers. On page load (no
        run shown yet) attached to a queued or running job, the form shows that job's config."""
        update = poll(state)
        update.update(history_updates())
        shown = update.get(monitor)
        active = state is None and shown and shown.get("state") not in FINAL_STATES
        cfg = run_config(Path(shown["run_dir"])) if active else None
        if cfg is not None:
            update.update(fill_form(cfg, update.get(status, "")))
            return update
        current = {**base_value, **dict(zip(FORM_KEYS, values, strict=True))}
        current["dataset"] = current["dataset"] or base_value.get("dataset", [])
        update.update(picker_updates(current))
        return update

    @reports_errors(status)
    def show_yaml(base_value: dict[str, Any], *values: Any) -> dict:
        return {yaml_code: dump_config(config_from_form(base_value, list(values))), status: ""}

    def show_steps(epochs_value: float | None, steps_value: float | None) -> str:
        return steps_note(epochs_value, int(steps_value) if steps_value is not None else None)

    @reports_errors(status)
    def on_stage(base_value: dict[str, Any], *values: Any) -> dict:
        """A stage switch: datasets of the right kind, the SFT adapter for DPO, the stage's fields
        shown, and the YAML pane matching the form."""
        stage_value = values[0]
        names = dataset_choices(ws, stage_value)
        sft_adapter = first_of_stage(adapter_choices(ws), "sft") if stage_value == "dpo" else None
        values = restage(base_value, list(values), names, sft_adapter)
        shown = dict(zip(FORM_KEYS, values, strict=True))
        update = picker_updates({**base_value, **shown})
        update.update(
            {
                dpo_row: gr.Row(visible=stage_value == "dpo"),
                packing: gr.Checkbox(visible=stage_value == "sft"),
                yaml_code: form_yaml(base_value, values),
            }
        )
        return update

    @reports_errors(status)
    def do_apply(text: str, base_value: dict[str, Any], *values: Any) -> dict:
        """Fill the form from the YAML pane; a YAML that is not a config leaves the form as it
        is, puts the form's YAML back in the pane and says what was wrong (line included)."""
        from studio.train.strict_yaml import load_yaml

        try:
            data = load_yaml(text, "the YAML", fix="correct it and press Apply again") or {}
            if not isinstance(data, dict):
                raise StudioError(
                    "the YAML must be a mapping of config keys to values (key: value per line)"
                )
            cfg = config_from_mapping(data, source="the YAML")
        except StudioError as error:
            gr.Warning(str(error), duration=15)
            return {
                yaml_code: form_yaml(base_value, list(values)),
                status: error_markdown(f"{error}\n\nThe YAML pane shows the form's config again."),
            }
        return fill_form(cfg, "Form filled from the YAML.")

    @reports_errors(status)
    def do_load(path_value: str) -> dict:
        from studio.train.config import load_config

        if not path_value.strip():
            raise StudioError("pick a ready config or type the path of a YAML file to load")
        cfg = load_config(roots.confine(path_value.strip(), "YAML file"))
        message = f"Loaded `{path_value.strip()}`."
        if cfg.stage == "dpo" and not cfg.adapter_name_or_path:
            choices = adapter_choices(ws)
            sft_adapter = first_of_stage(choices, "sft")
            if sft_adapter is not None:
                data = {**base_of(cfg), "adapter_name_or_path": [sft_adapter]}
                cfg = config_from_mapping(data, source=path_value.strip())
                picked = next(c.label for c in choices if c.path == sft_adapter)
                message += (
                    f" It names no SFT adapter: **Adapters** holds the newest, {picked}; "
                    "clear it to start DPO from the base model."
                )
            else:
                message += (
                    " It names no SFT adapter and no SFT run has finished: train one first "
                    "(e.g. configs/demo_sft.yaml), or DPO starts from the base model."
                )
        return fill_form(cfg, message)

    @reports_errors(status)
    def do_save(path_value: str, base_value: dict[str, Any], *values: Any) -> dict:
        from studio.fsutil import atomic_write_text

        if not path_value.strip():
            raise StudioError("type the path of the YAML file to write (e.g. configs/my_run.yaml)")
        path = roots.confine(path_value.strip(), "YAML file")
        if path.suffix not in YAML_SUFFIXES:
            raise StudioError(f"{path_value.strip()} is not a YAML file name; end it with .yaml")
        atomic_write_text(path, dump_config(config_from_form(base_value, list(values))))
        return {status: f"Saved `{path}`; **Load file** fills the form from it again."}

    @reports_errors(status)
    def do_start(base_value: dict[str, Any], *values: Any) -> dict:
        from studio.train.start import start_training

        cfg = roots.confine_train_config(config_from_form(base_value, list(values)))
        job = start_training(ws, cfg)
        update = monitor_view(attach(job.run_dir, job.id, follow=True), True)
        update.update(
            {status: f"Job {job.id} queued in `{job.run_dir}`.", timer: gr.Timer(active=True)}
        )
        return update

    @reports_errors(status)
    def do_cancel(state: dict[str, Any] | None) -> dict:
        from studio.errors import StudioError
        from studio.jobs import cancel

        if state is None:
            raise StudioError("no run is shown, so there is nothing to cancel")
        job = cancel(ws, state["job_id"])
        if job.finished and job.state != "cancelled":
            return {status: f"Job {job.id} had already {job.state}; nothing to cancel."}
        return {
            status: (
                f"Cancel requested for job {job.id}: it stops after the current step "
                "and saves a checkpoint; **Resume** continues from it."
            )
        }

    @reports_errors(status)
    def do_resume(state: dict[str, Any] | None) -> dict:
        from studio.jobs.kinds import FinishedRunError, resume_run

        if state is None:
            raise StudioError(
                "no run is shown; pick a cancelled or failed run under **Show run** first"
            )
        try:
            job, point = resume_run(ws, state["run_dir"], TRAIN)
        except FinishedRunError as error:
            raise StudioError(
                f"run {error.run_dir.name} finished (succeeded): its adapter is final and is never "
                "trained further in place; press **Continue as a new run** to train on from it "
                "in a new run of its own"
            ) from None
        update = monitor_view({**state, "job_id": job.id, "follow": True}, False)
        skipped = "".join(f" Skipped {folder.name} ({reason})." for folder, reason in point.skipped)
        message = (
            f"Job {job.id} resumes `{Path(state['run_dir']).name}` from "
            f"`{point.checkpoint.name}`.{skipped}"
        )
        update.update({status: message, timer: gr.Timer(active=True)})
        return update

    @reports_errors(status)
    def do_show(name: str | None) -> dict:
        if not name:
            return {}
        run = find_run(ws, TRAIN.name, name)
        update = monitor_view(attach(run.run_dir, run.job.id, follow=False), True)
        cfg = run_config(run.run_dir)
        if cfg is not None:
            update.update(fill_form(cfg, f"The form shows the config of `{run.name}`."))
        return update

    @reports_errors(status)
    def do_continue(state: dict[str, Any] | None) -> dict:
        from studio.train.continuation import continuation_config

        if state is None:
            raise StudioError("no run is shown; pick a succeeded run under **Show run** first")
        name = Path(state["run_dir"]).name
        try:
            cfg = continuation_config(ws, state["run_dir"])
        except StudioError as error:
            if "saved no adapter" not in str(error):
                raise
            raise StudioError(
                f"run {name} saved no adapter to continue from; **Resume from last checkpoint** "
                "continues a cancelled or failed run"
            ) from None
        return fill_form(
            cfg,
            f"The form continues `{name}` from its adapter: adjust it, then **Start training** "
            f"trains a new run in a folder of its own (`{name}` stays as it is).",
        )

    @reports_errors(status)
    def do_overlay(names: list[str] | None) -> dict:
        by_name = {run.name: run for run in train_runs(ws)}
        chosen = {name: metrics(by_name[name].run_dir) for name in names or [] if name in by_name}
        return {overlay: overlay_figure(chosen, "loss") if chosen else None}

    form_inputs = [base, *form]
    form_outputs = [*form, base, yaml_code, key_fates, dpo_row, steps_text, status]
    for field in form[1:]:
        field.input(show_yaml, form_inputs, [yaml_code, status], show_progress="hidden")
    for field in (epochs, max_steps):
        field.change(show_steps, [epochs, max_steps], steps_text, show_progress="hidden")
    stage.input(
        on_stage,
        form_inputs,
        [model, adapters, datasets, dpo_row, packing, yaml_code, status],
        show_progress="hidden",
    )
    apply_yaml.click(do_apply, [yaml_code, *form_inputs], form_outputs)
    ready.change(lambda value: value or gr.skip(), ready, config_path)
    load_button.click(do_load, config_path, form_outputs)
    save_button.click(do_save, [config_path, *form_inputs], status)
    start_button.click(do_start, form_inputs, monitor_outputs)
    cancel_button.click(do_cancel, monitor, status)
    resume_button.click(do_resume, monitor, monitor_outputs)
    show_run.input(do_show, show_run, list(dict.fromkeys([*monitor_outputs, *form_outputs])))
    continue_button.click(do_continue, monitor, form_outputs)
    overlay_runs.change(do_overlay, overlay_runs, [overlay, status])
    timer.tick(poll, monitor, monitor_outputs, show_progress="hidden")
    return [
        (on_load, [monitor, *form_inputs], list(dict.fromkeys([*monitor_outputs, *form_outputs])))
    ]
