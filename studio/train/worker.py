"""The training job body: `python -m studio.train.worker RUN_DIR [--resume]`.

RUN_DIR is `<workspace>/runs/<id>/` holding config.yaml. The worker validates the config,
builds the records, trains with TRL (SFT, DPO or GRPO), streams metrics.jsonl and its phases
(tokenizing, loading the model, reference pass, step N/M, saving) to progress.jsonl, and writes the
adapter (after checking its weights are finite) and summary.json. `--resume` continues
from the run's newest complete `checkpoint-N` (studio.train.resume), saying which newer ones
it skipped, and deletes saves a kill interrupted. Under `accelerate launch` every rank runs
this and rank 0 reports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio.jobs.rundir import RunDir
from studio.jobs.runtime import (
    LOADING,
    SAVING,
    TOKENIZING,
    ProgressWriter,
    cancel_requested,
    is_main_rank,
    run_worker,
)
from studio.train.config import TrainConfig, dump_config, load_config


def resume_checkpoint(run_dir: Path) -> str:
    """The checkpoint `--resume` continues from; rank 0 logs the choice and deletes
    interrupted saves."""
    from studio.train.resume import discard_interrupted_saves, find_resume_point

    point = find_resume_point(run_dir)
    if is_main_rank():
        for line in point.report():
            print(line, flush=True)
        discard_interrupted_saves(run_dir)
    return str(point.checkpoint)


def _model_type(cfg: TrainConfig) -> str | None:
    from studio.models.references import resolve_model_dir

    config = json.loads((resolve_model_dir(cfg.model_name_or_path) / "config.json").read_text())
    return config.get("model_type")


def train(run_dir: Path, resume: bool = False, extra_callbacks: Sequence[Any] = ()) -> None:
    """Train the run in `run_dir` (see the module docstring).

    `extra_callbacks` (TrainerCallbacks) run before the studio's own, e.g. instrumentation.
    """
    from transformers import PrinterCallback

    from studio.patches.moe_experts import experts_in_use
    from studio.patches.partial_checkpointing import checkpointing_split
    from studio.patches.registry import training_patches
    from studio.train.callbacks import CancelCallback, MetricsCallback, PhaseCallback
    from studio.train.dataset import build_datasets, template_system
    from studio.train.grpo_data import grpo_datasets, held_out_seen, seen_warning
    from studio.train.guard import (
        NonFiniteGuard,
        NonFiniteTrainingError,
        assert_finite_adapter,
        assert_finite_weights,
    )
    from studio.train.key_report import key_fates, report_lines
    from studio.train.policy import drop_reference_copy
    from studio.train.preflight import check_adapter_free, preflight, template_warning

    started = time.time()
    # An adapter records the built-in model by its portable name (builtin:...), which PEFT cannot
    # open to compare vocabularies as it saves; the studio never resizes the vocabulary.
    warnings.filterwarnings("ignore", message="Could not find a config file in builtin:")
    run = RunDir(run_dir)
    cfg = load_config(run.train_config)
    ws = run.workspace()
    tokenizer = preflight(ws, cfg)  # the tokenizer it checked the cutoff with
    adapter_dir = Path(cfg.output_dir).expanduser() if cfg.output_dir else run.adapter_dir
    check_adapter_free(adapter_dir)
    resume_from = resume_checkpoint(run_dir) if resume else cfg.resume_from_checkpoint
    if is_main_rank():
        for line in report_lines(cfg):
            print(line, flush=True)
    warning = template_warning(cfg, _model_type(cfg))
    if warning:
        print(f"warning: {warning}", flush=True)
    progress = ProgressWriter(run_dir)
    progress.phase(TOKENIZING)
    curriculum = seen = None
    if cfg.stage == "grpo":
        train_dataset, eval_dataset, curriculum = grpo_datasets(ws, cfg)
        if eval_dataset is not None:
            seen = held_out_seen(cfg.adapter_name_or_path, eval_dataset)
            seen_note = seen_warning(seen, cfg)
            if seen_note and is_main_rank():
                print(f"warning: {seen_note}", flush=True)
    else:
        train_dataset, eval_dataset = build_datasets(ws, cfg)
    print(
        f"{cfg.stage}: {len(train_dataset)} training records"
        + (f", {len(eval_dataset)} held out for evaluation" if eval_dataset is not None else ""),
        flush=True,
    )

    if "tensorboard" in cfg.report_to:
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(RunDir(run_dir).tensorboard)
    guard = NonFiniteGuard(cfg.max_nonfinite_steps)
    cancel = CancelCallback(cancel_requested)
    metrics = MetricsCallback(run.metrics, guard)
    callbacks = [*extra_callbacks, cancel, guard, metrics, PhaseCallback(progress)]
    if cfg.stage == "sft":
        from studio.train.sft import build_sft_trainer as build
    elif cfg.stage == "dpo":
        from studio.train.dpo import build_dpo_trainer as build
    else:
        from studio.train.grpo import build_grpo_trainer as build
    progress.phase(LOADING)
    trainer, policy = build(cfg, run_dir, tokenizer, train_dataset, eval_dataset, callbacks)
    trainer.remove_callback(PrinterCallback)  # the metrics callback logs each step as one line
    print(f"reference model: {policy.reference}", flush=True)
    loaded = time.time()

    summary: dict[str, Any] = {
        "stage": cfg.stage,
        "base_model": cfg.model_name_or_path,
        "reference_model": policy.reference,
        "attn_implementation": cfg.attn_implementation,
        "experts_implementation": experts_in_use(policy.model),
        "gradient_checkpointing": checkpointing_split(policy.model, cfg),
        "patches": training_patches(cfg, policy.model.config),
        "merged_adapters": policy.merged_adapters,
        "resumed_from": resume_from,
        "defaults": cfg.defaults,
        "llamafactory_keys": key_fates(cfg),
        "template": {
            "asked": cfg.template,
            "used": "the tokenizer's chat template (thinking off)",
            "system": template_system(cfg.template),
            "warning": warning,
        },
    }
    if cfg.stage == "grpo":
        summary["grpo"] = grpo_summary(cfg, curriculum, seen)
    try:
        trainer.train(resume_from_checkpoint=resume_from)
    except NonFiniteTrainingError as error:
        if trainer.is_world_process_zero():
            run.write_summary(
                {
                    **summary,
                    "status": "failed",
                    "error": str(error),
                    "nonfinite_steps": guard.skipped_steps,
                    "last_metrics": metrics.last_train,
                },
            )
        raise
    trained = time.time()
    summary.update(
        global_step=trainer.state.global_step,
        nonfinite_steps=guard.skipped_steps,
        final_metrics=metrics.last_train,
        eval_metrics=metrics.last_eval,
        train=metrics.final,
        timings={"load_s": round(loaded - started, 1), "train_s": round(trained - loaded, 1)},
    )
    if cancel.cancelled_at is not None:
        if trainer.is_world_process_zero():
            checkpoint = run.checkpoint(cancel.cancelled_at)
            held_out(summary, run, cfg, eval_dataset)
            run.write_summary({**summary, "status": "cancelled", "checkpoint": str(checkpoint)})
            print(
                f"cancelled at step {cancel.cancelled_at}; checkpoint saved to {checkpoint}; "
                f"continue with `python -m studio train --resume {run_dir.name}`",
                flush=True,
            )
        return

    progress.phase(SAVING)
    assert_finite_weights(trainer.model, "the final adapter")
    trainer.save_model(str(adapter_dir))
    if trainer.is_world_process_zero():
        drop_reference_copy(adapter_dir)
        assert_finite_adapter(adapter_dir)
        tokenizer.save_pretrained(str(adapter_dir))
        summary.update(
            status="succeeded",
            adapter=str(adapter_dir.resolve()),
            inference_adapters=[*policy.inference_prefix, str(adapter_dir.resolve())],
        )
        held_out(
            summary, run, cfg, eval_dataset, (trainer.state.global_step, adapter_dir.resolve())
        )
        summary["timings"]["total_s"] = round(time.time() - started, 1)
        run.write_summary(summary)
        print(
            f"adapter saved to {adapter_dir}; inference stacks: {summary['inference_adapters']}",
            flush=True,
        )


def held_out(
    summary: dict[str, Any],
    run: RunDir,
    cfg: TrainConfig,
    eval_dataset: Any,
    final: tuple[int, Path] | None = None,
) -> None:
    """With held-out questions, GRPO's summary names the saved state that scored best on them
    (`best_held_out`, studio.train.held_out); a run that trains one given adapter further can
    name that adapter (step 0, evaluated with `eval_on_start`)."""
    from studio.models.adapters import adapter_folder
    from studio.train.held_out import best_held_out, saved_states

    if summary["stage"] == "grpo" and eval_dataset is not None:
        adapters = cfg.adapter_name_or_path
        start = adapter_folder(adapters[0]) if len(adapters) == 1 else None
        summary["best_held_out"] = best_held_out(run.metrics, saved_states(run.path, final, start))


def grpo_summary(
    cfg: TrainConfig, curriculum: dict[str, Any] | None, seen: dict[str, Any] | None
) -> dict[str, Any]:
    """What summary.json records of a GRPO run: rollouts, reward, curriculum and held-out
    questions (studio.train.grpo_data.held_out_seen)."""
    return {
        "rollout_engine": cfg.rollout_engine,
        "num_generations": cfg.num_generations,
        "steps_per_generation": cfg.steps_per_generation or cfg.gradient_accumulation_steps,
        "num_iterations": cfg.num_iterations,
        "reward": {
            "correct": 1.0,
            "wrong_result": cfg.reward_wrong_result,
            "overlap": cfg.reward_overlap,
            "error": 0.0,
            "format": cfg.reward_format,
            "timeout_s": cfg.reward_timeout_s,
        },
        "skip_settled": curriculum,
        "held_out": seen,
    }


def write_run_config(run_dir: Path, cfg: TrainConfig) -> Path:
    """Write the validated config into the run folder (what the worker reads)."""
    path = RunDir(run_dir).train_config
    path.write_text(dump_config(cfg), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse RUN_DIR [--resume] and run `train` as a job body."""
    parser = argparse.ArgumentParser(prog="python -m studio.train.worker")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument(
        "--resume", action="store_true", help="continue from the run's newest complete checkpoint"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    exit_code = run_worker(args.run_dir, lambda: train(args.run_dir, args.resume))
    leave_process_group(wait_for_others=exit_code == 0)
    return exit_code


def leave_process_group(wait_for_others: bool) -> None:
    """Destroy torch.distributed's process group if this rank joined one; a rank whose work
    succeeded first waits until every rank has come this far. A group left to the interpreter's
    exit, or destroyed while another rank still works (rank 0 writes the summary last), can
    abort a rank (`terminate called without an active exception`) after its work is done, and
    the launcher then stops the other ranks. A rank that failed leaves at once, so that the
    launcher stops the others instead of their waiting for it."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        if wait_for_others:
            dist.barrier()
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
