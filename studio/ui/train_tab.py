"""The Train tab: a LoRA SFT/DPO form mirrored as LLaMA-Factory YAML, the shared job panel
(state, phase, ETA, log, Cancel / Resume / Delete run), live charts from metrics.jsonl, the
history of runs and "Continue as a new run".

The same functions as `python -m studio train CONFIG [--set K=V] | --resume RUN | --continue RUN`
and `jobs cancel`. The page holds no run of its own: the panel follows the newest training job
in the jobs table, also after a reload.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import gradio as gr

from studio.errors import StudioError
from studio.jobs import SUCCEEDED, Job, get_job
from studio.jobs.kinds import TRAIN
from studio.jobs.monitor import Snapshot
from studio.jobs.runs import find_run, metrics, train_runs
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
from studio.train.run_view import (
    HISTORY_COLUMNS,
    MetricsFeed,
    follow_metrics,
    history_rows,
    resume_message,
)
from studio.ui.common import (
    dpo_figure,
    error_markdown,
    frame,
    grpo_figure,
    overlay_figure,
    reports_errors,
    training_figure,
    yields_whole_page,
)
from studio.ui.job_panel import JobPanel
from studio.web.path_roots import PathRoots
from studio.workspace import Workspace

YAML_SUFFIXES = (".yaml", ".yml")
CHECKING = "Checking the config, the model and the datasets before queueing the job…"


def build(
    ws: Workspace, roots: PathRoots
) -> list[tuple[Callable[..., dict], list[Any], list[Any]]]:
    """Build the tab; returns its refreshers (fn, inputs, outputs) for page load and tab selection.
    Paths typed in it (YAML files, and those a config names) must lie inside `roots`."""
    gr.Markdown(
        "Fill the form or load a YAML from `configs/`; the YAML on the right is exactly what "
        "`python -m studio train FILE` would run. Charts follow the run of the job panel; a "
        "reloaded page fills the form with that run's config."
    )
    status = gr.Markdown(elem_id="train-status")
    base = gr.State(DEFAULT_BASE)
    feed = gr.State(None)  # the shown run's MetricsFeed
    seen = gr.State(None)  # (job id, state) the history table was last refreshed for
    offered = gr.State(None)  # the pickers' choices as a page refresh last set them

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
                lora_rank = gr.Number(8, label=label("lora_rank"), precision=0)
                lora_alpha = gr.Number(
                    0,
                    label=label("lora_alpha"),
                    precision=0,
                    elem_id="train-lora-alpha",
                )
                lora_dropout = gr.Number(0.0, label=label("lora_dropout"), step=0.05)
                lora_target = gr.Textbox(
                    "all", label=label("lora_target"), info="all, or q_proj,v_proj,..."
                )
            with gr.Row():
                learning_rate = gr.Number(5e-5, label=label("learning_rate"), elem_id="train-lr")
                epochs = gr.Number(3.0, label=label("num_train_epochs"), elem_id="train-epochs")
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
                    elem_id="train-batch",
                )
                grad_accum = gr.Number(1, label=label("gradient_accumulation_steps"), precision=0)
            steps_text = gr.Markdown(steps_note(3.0, 8), elem_id="train-steps-note")
            with gr.Row():
                cutoff_len = gr.Number(
                    1024, label=label("cutoff_len"), precision=0, elem_id="train-cutoff"
                )
                logging_steps = gr.Number(1, label=label("logging_steps"), precision=0)
                save_steps = gr.Number(
                    500,
                    label=label("save_steps"),
                    precision=0,
                    elem_id="train-save-steps",
                )
                packing = gr.Checkbox(
                    False,
                    label=label("packing"),
                    elem_id="train-packing",
                    info="pack examples into cutoff_len bins, no padding; batch size counts bins",
                )
            with gr.Row(visible=False) as dpo_row:
                pref_beta = gr.Number(0.1, label=label("pref_beta"))
                pref_loss = gr.Dropdown(
                    list(PREF_LOSSES), value="sigmoid", label=label("pref_loss")
                )
                pref_ftx = gr.Number(
                    0.0,
                    label=label("pref_ftx"),
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
        continue_button = gr.Button(
            "Continue as a new run", interactive=False, elem_id="train-continue"
        )

    panel = JobPanel(
        ws, TRAIN, "train", status, start_button, resumable=True, header_id="train-run"
    )
    step_text = gr.Markdown(elem_id="train-step")
    curves = gr.Plot(label="Training curves", elem_id="train-curves")
    dpo_curves = gr.Plot(label="DPO rewards", visible=False, elem_id="train-dpo-curves")
    grpo_curves = gr.Plot(label="GRPO rewards", visible=False, elem_id="train-grpo-curves")

    gr.Markdown("### Runs")
    history = gr.Dataframe(
        frame([], HISTORY_COLUMNS), interactive=False, wrap=True, elem_id="train-history"
    )
    with gr.Row():
        show_run = gr.Dropdown([], label="Show run", info="follow another run in the panel above")
        overlay_runs = gr.Dropdown(
            [],
            value=[],
            multiselect=True,
            label="Overlay loss curves of runs",
            elem_id="train-overlay-runs",
        )
    overlay = gr.Plot(label="Loss by run", elem_id="train-overlay")

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
    run_outputs = [
        feed,
        seen,
        step_text,
        curves,
        dpo_curves,
        grpo_curves,
        history,
        show_run,
        overlay_runs,
        continue_button,
    ]

    def history_updates() -> dict:
        runs = train_runs(ws)
        names = [run.name for run in runs]
        return {
            history: frame(history_rows(runs), HISTORY_COLUMNS),
            show_run: gr.Dropdown(choices=names),
            overlay_runs: gr.Dropdown(choices=names),
        }

    def run_view(snap: Snapshot | None, shown: MetricsFeed | None, seen_value: Any) -> dict:
        """The panel's extra: the shown run's step line and charts (redrawn when its metrics
        grew), the history when the shown job or its state changed, Continue for a success."""
        update: dict = {
            continue_button: gr.Button(interactive=snap is not None and snap.state == SUCCEEDED)
        }
        now = None if snap is None else [snap.job.id, snap.state]
        if now != seen_value:
            update.update({**history_updates(), seen: now})
        if snap is None:
            if shown is not None:
                update.update(
                    {
                        feed: None,
                        step_text: "",
                        curves: None,
                        dpo_curves: gr.Plot(None, visible=False),
                        grpo_curves: gr.Plot(None, visible=False),
                    }
                )
            return update
        read = follow_metrics(shown, snap.job.run_dir)
        if read is not shown:
            steps = read.steps
            update.update(
                {
                    feed: read,
                    step_text: read.step_line(),
                    curves: training_figure(steps),
                    dpo_curves: gr.Plot(dpo_figure(steps), visible=read.stage == "dpo"),
                    grpo_curves: gr.Plot(grpo_figure(steps), visible=read.stage == "grpo"),
                }
            )
        return update

    def resume(job: Job) -> tuple[Job, str]:
        """Queue the shown run again from its last checkpoint (a succeeded run is refused)."""
        from studio.jobs.kinds import FinishedRunError, resume_run

        try:
            resumed, point = resume_run(ws, str(job.run_dir), TRAIN)
        except FinishedRunError as error:
            raise StudioError(
                f"run {error.run_dir.name} finished (succeeded): its adapter is final and is never "
                "trained further in place; press **Continue as a new run** to train on from it "
                "in a new run of its own"
            ) from None
        return resumed, resume_message(resumed, point)

    refresh_panel = panel.wire((run_view, [feed, seen], run_outputs), resume=resume)

    def picker_updates(cfg: dict[str, Any], with_values: bool = True) -> dict:
        """The model, adapter and dataset pickers for a form showing `cfg`: their choices now
        (adapters labelled by their runs), the values `cfg` names kept among them (with
        `with_values` false, the choices alone: the pickers keep what they show)."""
        datasets_now = dataset_choices(ws, cfg.get("stage") or "sft")
        chosen_adapters = list(cfg.get("adapter_name_or_path") or [])
        adapter_options = [(choice.label, choice.path) for choice in adapter_choices(ws)]
        known = {path for _, path in adapter_options}
        adapter_options += [(path, path) for path in chosen_adapters if path not in known]
        chosen_datasets = list(cfg.get("dataset") or [])
        chosen_model = cfg.get("model_name_or_path") or DEFAULT_MODEL

        def shown(value: Any) -> dict[str, Any]:
            return {"value": value} if with_values else {}

        return {
            model: gr.Dropdown(
                choices=list(dict.fromkeys([*model_choices(ws), *filter(None, [chosen_model])])),
                **shown(chosen_model),
            ),
            adapters: gr.Dropdown(choices=adapter_options, **shown(chosen_adapters)),
            datasets: gr.Dropdown(
                choices=list(dict.fromkeys([*datasets_now.names, *chosen_datasets])),
                info=datasets_now.info,
                **shown(chosen_datasets),
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

    def offered_by(pickers: dict) -> list[Any]:
        """The choices `picker_updates` offers in the model, adapter and dataset pickers."""
        return [pickers[picker].choices for picker in (model, adapters, datasets)]

    initial = [field.value for field in form]  # the form as the page starts

    @reports_errors(status)
    def on_load(
        event: gr.EventData,
        state: dict[str, Any] | None,
        offered_value: list[Any] | None,
        base_value: dict[str, Any],
        *values: Any,
    ) -> dict:
        """Page load and tab selection: the pickers' choices and the history now. On page load
        the form and the YAML pane show the config of the run the job panel shows (queued,
        running or finished). A selection made while the form still shows its starting values
        may have been asked before that load was answered: it updates the pickers' choices but
        not their values. A refresh whose pickers' choices did not change leaves them alone: a
        refresh answered late never undoes what was picked or typed since."""
        untouched = list(values) == initial
        if event.target is None:  # the page's load (a selection's target is the tab)
            shown = panel.target(state)
            run_dir = None if shown is None else get_job(ws, shown["job"]).run_dir
            cfg = None if run_dir is None else run_config(run_dir)
            if cfg is not None:
                update = fill_form(cfg, f"The form shows the config of `{run_dir.name}`.")
                return {**update, offered: offered_by(update), **history_updates()}
            untouched = False
        current = {**base_value, **dict(zip(FORM_KEYS, values, strict=True))}
        current["dataset"] = current["dataset"] or base_value.get("dataset", [])
        pickers = picker_updates(current, with_values=not untouched)
        offered_now = offered_by(pickers)
        if offered_now == offered_value:
            pickers = {}
        return {**pickers, offered: offered_now, **history_updates()}

    @reports_errors(status)
    def show_yaml(base_value: dict[str, Any], *values: Any) -> dict:
        return {yaml_code: dump_config(config_from_form(base_value, list(values))), status: ""}

    def show_steps(epochs_value: float | None, steps_value: float | None) -> str:
        return steps_note(epochs_value, int(steps_value) if steps_value is not None else None)

    @reports_errors(status)
    def on_stage(base_value: dict[str, Any], *values: Any) -> dict:
        """A stage switch: datasets of the right kind, the SFT adapter for DPO and GRPO, a batch
        of whole answer groups for GRPO, the stage's fields shown, and the YAML pane matching
        the form."""
        stage_value = values[0]
        names = dataset_choices(ws, stage_value)
        continues = stage_value in ("dpo", "grpo")
        sft_adapter = first_of_stage(adapter_choices(ws), "sft") if continues else None
        values = restage(base_value, list(values), names, sft_adapter)
        shown = dict(zip(FORM_KEYS, values, strict=True))
        update = picker_updates({**base_value, **shown})
        update.update(
            {
                batch_size: shown["per_device_train_batch_size"],
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
    def start(
        shown: MetricsFeed | None, seen_value: Any, base_value: dict[str, Any], *values: Any
    ) -> dict:
        from studio.train.start import start_training

        cfg = roots.confine_train_config(config_from_form(base_value, list(values)))
        job = start_training(ws, cfg)
        update = panel.render({"job": job.id, "follow": True}, shown, seen_value)
        update[status] = f"Job {job.id} queued in `{job.run_dir}`."
        return update

    @yields_whole_page
    def do_start(*args: Any) -> Iterator[dict]:
        """Say at once that the checks run (they take seconds), then queue the job."""
        yield {status: CHECKING}
        yield start(*args)

    @reports_errors(status)
    def do_show(name: str | None, shown: MetricsFeed | None, seen_value: Any) -> dict:
        if not name:
            return {}
        run = find_run(ws, TRAIN.name, name)
        update = panel.render({"job": run.job.id, "follow": False}, shown, seen_value)
        cfg = run_config(run.run_dir)
        if cfg is not None:
            update.update(fill_form(cfg, f"The form shows the config of `{run.name}`."))
        return update

    @reports_errors(status)
    def do_continue(state: dict[str, Any] | None) -> dict:
        from studio.train.continuation import continuation_config

        if state is None:
            raise StudioError("no run is shown; pick a succeeded run under **Show run** first")
        name = get_job(ws, state["job"]).run_dir.name
        try:
            cfg = continuation_config(ws, name)
        except StudioError as error:
            if "saved no adapter" not in str(error):
                raise
            raise StudioError(
                f"run {name} saved no adapter to continue from; **Resume** continues a "
                "cancelled or failed run from its last checkpoint"
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
    panel_outputs = [*panel.outputs, *run_outputs]
    for field in form[1:]:
        field.input(show_yaml, form_inputs, [yaml_code, status], show_progress="hidden")
    for field in (epochs, max_steps):
        field.change(show_steps, [epochs, max_steps], steps_text, show_progress="hidden")
    stage.input(
        on_stage,
        form_inputs,
        [model, adapters, datasets, batch_size, dpo_row, packing, yaml_code, status],
        show_progress="hidden",
    )
    apply_yaml.click(do_apply, [yaml_code, *form_inputs], form_outputs)
    ready.change(lambda value: value or gr.skip(), ready, config_path)
    load_button.click(do_load, config_path, form_outputs)
    save_button.click(do_save, [config_path, *form_inputs], status)
    start_button.click(do_start, [feed, seen, *form_inputs], [*panel_outputs, status])
    show_run.input(
        do_show, [show_run, feed, seen], list(dict.fromkeys([*panel_outputs, *form_outputs]))
    )
    continue_button.click(do_continue, panel.state, form_outputs)
    overlay_runs.change(do_overlay, overlay_runs, [overlay, status])
    return [
        (refresh_panel, [panel.state, feed, seen], panel_outputs),
        (
            on_load,
            [panel.state, offered, *form_inputs],
            [*form_outputs, offered, history, show_run, overlay_runs],
        ),
    ]
