"""Checks a config against the workspace, the file system and the model's own files before any
weight loads: `train --check` runs them, and so does every training job as it starts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import StudioError
from studio.jobs.rundir import ADAPTER_CONFIG, RunDir
from studio.models.adapters import check_adapters
from studio.models.references import load_model_config, load_tokenizer, resolve_model_dir
from studio.train.config import TrainConfig, load_config
from studio.train.dataset import check_cutoff, check_datasets, training_records
from studio.train.keys import TEMPLATES
from studio.train.lora_targets import check_lora_target
from studio.train.policy import ADAPTERS_KEY
from studio.train.resume import incomplete_reason
from studio.workspace import Workspace

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

TRAINER_STATE = "trainer_state.json"


def checkpoint_stage(folder: Path) -> str | None:
    """ "sft" or "dpo" for a trainer checkpoint (from its run's config.yaml or its log), None
    when unknown."""
    run_config = RunDir(folder.parent).train_config
    if run_config.is_file():
        try:
            return load_config(run_config).stage
        except StudioError:
            pass
    state = folder / TRAINER_STATE
    if not state.is_file():
        return None
    history = json.loads(state.read_text(encoding="utf-8")).get("log_history", [])
    if any(key.startswith("rewards/") for entry in history for key in entry):
        return "dpo"
    return "sft" if any("loss" in entry for entry in history) else None


def check_resume(cfg: TrainConfig) -> None:
    """`resume_from_checkpoint` must be a checkpoint of a run of the same stage (not an SFT
    output)."""
    if cfg.resume_from_checkpoint is None:
        return
    folder = Path(cfg.resume_from_checkpoint).expanduser()
    if not folder.is_dir():
        raise StudioError(
            f"config key 'resume_from_checkpoint': {folder} is not a folder; give a checkpoint-N "
            "folder of an earlier run of this stage, or remove the key"
        )
    is_adapter = (folder / ADAPTER_CONFIG).is_file()
    stage = checkpoint_stage(folder)
    if cfg.stage in ("dpo", "grpo") and is_adapter and stage != cfg.stage:
        name = cfg.stage.upper()
        raise StudioError(
            f"config key 'resume_from_checkpoint': {folder} is an SFT adapter, not a checkpoint "
            f"of a {name} run, and resuming would restore SFT's optimizer and step counter; to "
            f"start {name} from it set adapter_name_or_path: {folder} and remove "
            "resume_from_checkpoint"
        )
    if cfg.stage == "sft" and stage == "dpo":
        raise StudioError(
            f"config key 'resume_from_checkpoint': {folder} is a DPO checkpoint; "
            "an SFT run resumes only from an SFT checkpoint-N folder"
        )
    if not (folder / TRAINER_STATE).is_file():
        fix = (
            f"to continue training it set adapter_name_or_path: {folder}"
            if is_adapter
            else "give a checkpoint-N folder written by a run"
        )
        raise StudioError(
            f"config key 'resume_from_checkpoint': {folder} has no {TRAINER_STATE}, so it is not a "
            f"training checkpoint; {fix}"
        )
    incomplete = incomplete_reason(folder)
    if incomplete is not None:
        raise StudioError(
            f"config key 'resume_from_checkpoint': {folder} is incomplete ({incomplete}); "
            "give an earlier checkpoint-N of the run, or resume the run with `train --resume RUN`, "
            "which takes its newest complete checkpoint"
        )


def check_adapter_free(folder: Path, key: str | None = None) -> None:
    """The final adapter goes to `folder`: refuse one that already holds an adapter (nothing
    overwrites an adapter; `key` names the config key that chose the folder)."""
    if not (folder.expanduser() / ADAPTER_CONFIG).is_file():
        return
    where = f"config key '{key}': " if key else ""
    raise StudioError(
        f"{where}{folder} already holds an adapter, which training never overwrites; "
        "continue a finished run as a new run (`python -m studio train --continue RUN`)"
        + (f" or remove {key}" if key else "")
    )


def template_warning(cfg: TrainConfig, model_type: str | None) -> str | None:
    """A warning when the LLaMA-Factory `template` asked for does not fit the model (None when it
    fits)."""
    if cfg.template is None:
        return None
    if cfg.template not in TEMPLATES:
        return (
            f"template '{cfg.template}' is not a LLaMA-Factory template the studio knows "
            f"({', '.join(TEMPLATES)}): rows without a system prompt get none, and the "
            "tokenizer's own chat template is used"
        )
    family = TEMPLATES[cfg.template].family
    if family is not None and model_type is not None and not model_type.startswith(family):
        return (
            f"template '{cfg.template}' is written for {family} models but the model is "
            f"{model_type}; the studio uses the tokenizer's own chat template, so check the config "
            "names the model you meant"
        )
    return None


def check_integrations(cfg: TrainConfig) -> None:
    """`deepspeed` names a readable JSON file and the deepspeed package is installed;
    `save_only_model` is not combined with FSDP over several GPUs; `report_to: tensorboard`
    has the tensorboard package."""
    if cfg.deepspeed is not None:
        path = Path(cfg.deepspeed).expanduser()
        try:
            json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise StudioError(
                f"config key 'deepspeed': {path} is not a readable DeepSpeed JSON file ({error}); "
                "give the path of one, e.g. LLaMA-Factory's examples/deepspeed/ds_z3_config.json"
            ) from None
        if importlib.util.find_spec("deepspeed") is None:
            raise StudioError(
                "config key 'deepspeed': the deepspeed package is not installed; "
                "`pip install deepspeed`, or remove the key"
            )
    if cfg.save_only_model and cfg.deepspeed is None and cfg.distributed_backend == "fsdp":
        from studio.train.launch import process_count, visible_gpus

        if process_count(cfg, visible_gpus()) > 1:
            raise StudioError(
                "config key 'save_only_model': transformers cannot save the model alone from "
                "FSDP's sharded state dict (configs/accelerate/fsdp.yaml); set it to false, "
                "or train on one GPU (num_gpus: 1)"
            )
    if "tensorboard" in cfg.report_to and not tensorboard_writer_installed():
        raise StudioError(
            "config key 'report_to': tensorboard needs the tensorboard package; "
            "`pip install tensorboard` (or the lighter tensorboardX), or set report_to: none"
        )


def tensorboard_writer_installed() -> bool:
    """Whether transformers' TensorBoard callback finds a writer (tensorboard or tensorboardX)."""
    from transformers.integrations import is_tensorboard_available

    return is_tensorboard_available()


def check_model_folder(cfg: TrainConfig) -> Path:
    """The model folder of `model_name_or_path`: it exists, with config.json and weights."""
    try:
        folder = resolve_model_dir(cfg.model_name_or_path)
    except StudioError as error:
        raise StudioError(f"config key 'model_name_or_path': {error}") from None
    if not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        raise StudioError(
            f"config key 'model_name_or_path': {folder} has a config.json but no "
            "weights (*.safetensors or *.bin); give the folder that holds the "
            "model's weights"
        )
    return folder


def preflight(ws: Workspace, cfg: TrainConfig) -> PreTrainedTokenizerBase:
    """Everything checkable without loading weights: the datasets, the resume folder, the model
    folder and its config, each adapter against it, lora_target against its modules (meta
    device), that at cutoff_len the datasets leave an example to train on (its tokenizer), and
    for GRPO that they hold the questions of one rollout. Returns that tokenizer (padding on the
    right), which training goes on with."""
    check_integrations(cfg)
    check_datasets(ws, cfg)
    if (
        cfg.stage == "dpo"
        and len(cfg.adapter_name_or_path) == 0
        and cfg.dpo_reference == "merged_sft"
    ):
        raise StudioError(
            "config key 'dpo_reference': merged_sft needs the SFT adapter in adapter_name_or_path"
        )
    check_resume(cfg)
    if cfg.output_dir is not None:
        check_adapter_free(Path(cfg.output_dir), "output_dir")
    folder = check_model_folder(cfg)
    model_config = load_model_config(folder)
    check_adapters(
        cfg.adapter_name_or_path, cfg.model_name_or_path, model_config, where=ADAPTERS_KEY
    )
    check_lora_target(cfg, model_config)
    tokenizer = load_tokenizer(cfg.model_name_or_path, padding_side="right")
    records = training_records(ws, cfg)
    check_cutoff(records, tokenizer, cfg)
    if cfg.stage == "grpo":
        from studio.train.grpo import check_rollout_questions, rollout_questions

        # one process here; the job checks again with TRL's count over its processes
        check_rollout_questions(rollout_questions(cfg), len(records))
    return tokenizer
