"""LLaMA-Factory keys the studio honours, each changing what a tiny run trains, and LLaMA-Factory's
defaults for a file that reads as LLaMA-Factory's."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from transformers import TrainerCallback

from studio.data.registry import register_dataset
from studio.errors import StudioError
from studio.models.references import load_model_config, meta_model
from studio.testing.random_models import random_config
from studio.train.config import TrainConfig
from studio.train.dataset import training_records
from studio.train.launch import launch_argv
from studio.train.lora_targets import lora_weight_names
from studio.train.preflight import check_integrations
from studio.train.worker import train, write_run_config
from studio.workspace import Workspace

from .conftest import QUESTIONS, new_run, read_metrics, read_summary


class Recorder(TrainerCallback):
    """What the trainer runs with, seen as training begins."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        model = kwargs["model"]
        self.seen = {
            "checkpointing": model.is_gradient_checkpointing,
            "scheduler": args.lr_scheduler_type,
            "eval_batch": args.per_device_eval_batch_size,
        }


def run(ws: Workspace, cfg: TrainConfig) -> tuple[Path, dict[str, Any]]:
    recorder = Recorder()
    run_dir = new_run(ws, cfg)
    train(run_dir, extra_callbacks=[recorder])
    return run_dir, recorder.seen


@pytest.fixture(scope="module")
def lf_runs(
    tiny_config: Callable[..., TrainConfig], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Two 2-step runs of LLaMA-Factory-shaped configs on rows without a system prompt: `a` with
    LLaMA-Factory's defaults (checkpointing on), save_only_model, warmup_steps and
    qwen3_nothink; `b` with checkpointing disabled, evaluation every step, TensorBoard logs and
    its datasets read from a dataset_dir."""
    ws = Workspace.open(tmp_path_factory.mktemp("lf-ws"))
    rows = [{"instruction": q, "input": "", "system": None, "output": sql} for q, sql in QUESTIONS]
    register_dataset(ws, "nosys", rows, "sft")
    elsewhere = Workspace.open(tmp_path_factory.mktemp("lf-data"))
    register_dataset(elsewhere, "only_there", rows, "sft")
    common = {"do_train": True, "max_steps": 2, "save_steps": 1, "logging_steps": 1}
    common |= {"per_device_train_batch_size": 2, "val_size": 4}
    a = tiny_config(
        dataset="nosys",
        save_only_model=True,
        warmup_steps=2,
        lr_scheduler_type="constant_with_warmup",
        template="qwen3_nothink",
        **common,
    )
    b = tiny_config(
        dataset="only_there",
        dataset_dir=str(elsewhere.root),
        disable_gradient_checkpointing=True,
        eval_strategy="steps",
        per_device_eval_batch_size=3,
        lr_scheduler_type="constant_with_warmup",
        report_to="tensorboard",
        **common,
    )
    return {"a": run(ws, a), "b": run(ws, b)}


def test_llamafactory_defaults_turn_gradient_checkpointing_on_and_disable_turns_it_off(
    lf_runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    (a_dir, a), (b_dir, b) = lf_runs["a"], lf_runs["b"]
    assert a["checkpointing"] and not b["checkpointing"]
    assert read_summary(a_dir)["gradient_checkpointing"] is not None
    assert read_summary(b_dir)["gradient_checkpointing"] is None
    assert read_summary(a_dir)["defaults"] == "llamafactory"
    assert read_summary(a_dir)["llamafactory_keys"]["do_train"]["fate"] == "not needed"


def test_save_only_model_leaves_optimizer_state_out_of_checkpoints(
    lf_runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    a_dir, b_dir = lf_runs["a"][0], lf_runs["b"][0]
    assert (a_dir / "checkpoint-1" / "adapter_model.safetensors").is_file()
    assert not (a_dir / "checkpoint-1" / "optimizer.pt").exists()
    assert (b_dir / "checkpoint-1" / "optimizer.pt").is_file()


def test_warmup_steps_warms_the_learning_rate_up(
    lf_runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    warm = [m["learning_rate"] for m in read_metrics(lf_runs["a"][0]) if "loss" in m]
    flat = [m["learning_rate"] for m in read_metrics(lf_runs["b"][0]) if "loss" in m]
    assert flat == [5e-3, 5e-3]
    assert warm[0] < warm[1] <= 5e-3


def test_eval_strategy_and_eval_batch_size(
    lf_runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    # a: LLaMA-Factory's default eval_strategy "no": val_size holds rows out, nothing evaluates
    assert not [m for m in read_metrics(lf_runs["a"][0]) if "eval_loss" in m]
    evals = [m["step"] for m in read_metrics(lf_runs["b"][0]) if "eval_loss" in m]
    assert evals == [1, 2]
    assert lf_runs["b"][1]["eval_batch"] == 3 and lf_runs["a"][1]["eval_batch"] == 8


def test_report_to_tensorboard_writes_each_logged_step(
    lf_runs: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    (a_dir, _), (b_dir, _) = lf_runs["a"], lf_runs["b"]
    events = list((b_dir / "tensorboard").glob("**/events.out.tfevents.*"))
    assert events, sorted(p.name for p in b_dir.iterdir())
    written = b"".join(path.read_bytes() for path in events)
    assert b"train/loss" in written and b"eval/loss" in written
    assert not (a_dir / "tensorboard").exists()


def test_template_sets_the_system_prompt_of_rows_without_one(
    lf_runs: dict[str, tuple[Path, dict[str, Any]]],
    tiny_config: Callable[..., TrainConfig],
) -> None:
    assert read_summary(lf_runs["a"][0])["template"]["system"] is None
    ws = Workspace.open(lf_runs["a"][0].parents[1])
    first = {
        template: training_records(ws, tiny_config(dataset="nosys", template=template))[0]
        for template in (None, "qwen3_nothink", "qwen3", "default", "empty", "qwen")
    }
    assert first[None]["prompt"][0]["content"].startswith("You are an expert SQL developer")
    for template in ("qwen3_nothink", "qwen3", "default", "empty"):
        assert [m["role"] for m in first[template]["prompt"]] == ["user"]
    assert first["qwen"]["prompt"][0] == {
        "role": "system",
        "content": "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    }


def test_dataset_dir_reads_the_datasets_of_another_folder(
    lf_runs: dict[str, tuple[Path, dict[str, Any]]],
    tiny_config: Callable[..., TrainConfig],
    tmp_path: Path,
) -> None:
    assert read_summary(lf_runs["b"][0])["status"] == "succeeded"
    ws = Workspace.open(lf_runs["b"][0].parents[1])
    with pytest.raises(StudioError, match="no dataset 'only_there'"):
        training_records(ws, tiny_config(dataset="only_there"))
    with pytest.raises(StudioError, match="'dataset_dir': .* holds no dataset_info.json"):
        training_records(ws, tiny_config(dataset="only_there", dataset_dir=str(tmp_path)))


def test_pref_loss_chooses_trl_s_loss(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    # at step 1 the policy is the reference: sigmoid's loss is log 2, IPO's (1 / (2 beta))^2
    losses = {}
    for loss in ("sigmoid", "ipo"):
        cfg = tiny_config(stage="dpo", dataset="toy_pairs", pref_loss=loss, max_steps=1)
        run_dir = new_run(toy_workspace, cfg)
        train(run_dir)
        losses[loss] = read_metrics(run_dir)[0]["loss"]
    assert losses["sigmoid"] == pytest.approx(0.6931, abs=1e-3)
    assert losses["ipo"] == pytest.approx((1 / (2 * 0.1)) ** 2, rel=1e-3)


def test_lora_target_all_is_the_linear_layers_not_the_experts_or_router(
    tiny_config: Callable[..., TrainConfig], tiny_qwen3_moe_dir: Path
) -> None:
    model_config = load_model_config(tiny_qwen3_moe_dir)
    cfg = tiny_config(model_name_or_path=str(tiny_qwen3_moe_dir))
    names = lora_weight_names(cfg, meta_model(model_config))
    assert names and all(".self_attn." in name for name in names)
    named = tiny_config(lora_target="q_proj,gate_proj,up_proj")
    assert any(".mlp.experts" in n for n in lora_weight_names(named, meta_model(model_config)))
    dense = lora_weight_names(tiny_config(), meta_model(random_config("tiny-qwen2")))
    assert {n.split(".")[-3] for n in dense} == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }


def test_report_to_and_deepspeed_need_their_packages(
    tiny_config: Callable[..., TrainConfig], tmp_path: Path
) -> None:
    import importlib.util

    ds = tmp_path / "ds_z3_config.json"
    ds.write_text(json.dumps({"zero_optimization": {"stage": 3}, "train_batch_size": "auto"}))
    cfg = tiny_config(deepspeed=str(ds))
    # a DeepSpeed file always runs under accelerate launch, the trainer reading the file
    with_file, plain = tmp_path / "with-deepspeed", tmp_path / "plain"
    with_file.mkdir(), plain.mkdir()
    write_run_config(with_file, cfg)
    write_run_config(plain, tiny_config())
    argv = launch_argv("studio.train.worker", with_file, gpus=1)
    assert argv[1:5] == ["-m", "accelerate.commands.launch", "--num_processes", "1"]
    assert launch_argv("studio.train.worker", plain, gpus=1)[1:3] == ["-m", "studio.train.worker"]
    if importlib.util.find_spec("deepspeed") is None:
        with pytest.raises(StudioError, match="`pip install deepspeed`"):
            check_integrations(cfg)
    else:
        check_integrations(cfg)
    with pytest.raises(StudioError, match="not a readable DeepSpeed JSON"):
        check_integrations(tiny_config(deepspeed=str(tmp_path / "missing.json")))
    tensorboard = tiny_config(report_to="tensorboard")
    assert (
        tensorboard.report_to == ["tensorboard"] and tiny_config(report_to="none").report_to == []
    )
    check_integrations(tensorboard)  # tensorboardX is a test requirement
    with pytest.raises(StudioError, match="'report_to': 'wandb' is not accepted"):
        tiny_config(report_to="wandb")
