"""SFT and DPO on the tiny Qwen2 model: metrics, adapters, and the DPO reference semantics."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from studio.data.importers.demo import open_workspace
from studio.jobs.rundir import RunDir
from studio.jobs.runtime import LOADING, SAVING, TOKENIZING, TRAINING, read_jsonl
from studio.models.loading import load_model
from studio.train.config import TrainConfig
from studio.train.guard import assert_finite_adapter
from studio.train.worker import train
from studio.workspace import Workspace

from .conftest import QUESTIONS, SFT_RUN_STEPS, SYSTEM, new_run, read_metrics, read_summary

TRAIN_KEYS = {
    "step",
    "epoch",
    "loss",
    "learning_rate",
    "grad_norm",
    "tokens_per_s",
    "eta_s",
    "elapsed_s",
    "nonfinite_steps",
}
DPO_KEYS = {
    "rewards/chosen",
    "rewards/rejected",
    "rewards/margins",
    "rewards/accuracies",
    "logps/chosen",
    "logps/rejected",
}


def completion_logprob(model_dir: Path, adapters: list[str], answer: str) -> float:
    """Summed log-probability of `answer` after the first toy prompt, via the chat template."""
    loaded = load_model(str(model_dir), adapters=adapters, device="cpu")
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTIONS[0][0]}]
    prompt = loaded.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=False
    )
    prompt_ids = loaded.tokenizer(prompt, return_tensors="pt").input_ids
    answer_ids = loaded.tokenizer(answer, return_tensors="pt").input_ids
    ids = torch.cat([prompt_ids, answer_ids], dim=1)
    with torch.no_grad():
        logits = loaded.model(ids).logits[0, prompt_ids.shape[1] - 1 : -1]
    return float(torch.log_softmax(logits, -1).gather(1, answer_ids[0][:, None]).sum())


def test_sft_writes_metrics_and_a_loadable_adapter(sft_run: Path, tiny_qwen2_dir: Path) -> None:
    metrics = read_metrics(sft_run)
    assert [m["step"] for m in metrics] == list(range(1, SFT_RUN_STEPS + 1))
    assert all(TRAIN_KEYS <= m.keys() for m in metrics)
    assert all(m["loss"] > 0 and m["nonfinite_steps"] == 0 for m in metrics)
    assert metrics[-1]["eta_s"] == 0 and metrics[-1]["tokens_per_s"] > 0
    progress = read_jsonl(RunDir(sft_run).progress)
    phases = list(dict.fromkeys(record["phase"] for record in progress))
    assert phases == [TOKENIZING, LOADING, TRAINING, SAVING]
    counts = [(r["done"], r["total"]) for r in progress if r["phase"] == TRAINING]
    assert counts[0] == (0, SFT_RUN_STEPS) and counts[-1] == (SFT_RUN_STEPS, SFT_RUN_STEPS)
    assert [r["done"] for r in progress if r["phase"] != TRAINING] == [None] * 3
    summary = read_summary(sft_run)
    adapter = sft_run / "adapter"
    assert summary["status"] == "succeeded" and summary["adapter"] == str(adapter)
    assert summary["inference_adapters"] == [str(adapter)]
    assert summary["patches"] == ["fused_rms_norm", "atomic_checkpoints"]
    assert_finite_adapter(adapter)
    loaded = load_model(str(tiny_qwen2_dir), adapters=[str(adapter)], device="cpu")
    ids = loaded.tokenizer("SELECT", return_tensors="pt").input_ids
    out = loaded.model.generate(ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] == ids.shape[1] + 4
    # the adapter moved the model towards the answers
    base = completion_logprob(tiny_qwen2_dir, [], QUESTIONS[0][1])
    tuned = completion_logprob(tiny_qwen2_dir, [str(adapter)], QUESTIONS[0][1])
    assert tuned > base + 1.0


def test_sft_holds_out_val_size_and_logs_eval_loss(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    run_dir = new_run(toy_workspace, tiny_config(max_steps=2, val_size=0.25, eval_steps=2))
    train(run_dir)
    metrics = read_metrics(run_dir)
    evals = [m for m in metrics if "eval_loss" in m]
    assert len(evals) == 1 and evals[0]["step"] == 2 and evals[0]["eval_loss"] > 0


def test_dpo_continues_from_sft_adapter_with_frozen_sft_reference(
    sft_run: Path, tiny_config: Callable[..., TrainConfig], tiny_qwen2_dir: Path
) -> None:
    ws = open_workspace(sft_run.parents[1])
    sft_adapter = str(sft_run / "adapter")
    run_dir = new_run(
        ws,
        tiny_config(
            stage="dpo",
            dataset="toy_pairs",
            adapter_name_or_path=sft_adapter,
            learning_rate=5e-3,
            pref_beta=0.5,
            max_steps=2,
        ),
    )
    train(run_dir)
    summary = read_summary(run_dir)
    assert summary["reference_model"].startswith(
        f"frozen SFT policy: copy of adapter {sft_adapter}"
    )
    assert summary["inference_adapters"] == [str(run_dir / "adapter")]
    assert not (run_dir / "adapter" / "ref").exists()
    metrics = read_metrics(run_dir)
    assert all(DPO_KEYS <= m.keys() for m in metrics)
    # step 1 is measured before any update: policy == reference, so every reward is 0
    first = metrics[0]
    assert abs(first["rewards/chosen"]) < 1e-4 and abs(first["rewards/margins"]) < 1e-4
    # against the base model (the silent TRL default) the reward would have been far from 0
    sft_vs_base = completion_logprob(
        tiny_qwen2_dir, [sft_adapter], QUESTIONS[0][1]
    ) - completion_logprob(tiny_qwen2_dir, [], QUESTIONS[0][1])
    assert abs(0.5 * sft_vs_base) > 0.5
    # and DPO moved the policy: margins grow
    assert metrics[-1]["rewards/margins"] > 1e-3
    assert_finite_adapter(run_dir / "adapter")


def test_pref_ftx_adds_the_chosen_nll_with_its_weight(
    sft_run: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    ws = open_workspace(sft_run.parents[1])
    first_losses = {}
    for ftx in (1.0, 2.0):
        run_dir = new_run(
            ws,
            tiny_config(
                stage="dpo",
                dataset="toy_pairs",
                pref_ftx=ftx,
                max_steps=1,
                adapter_name_or_path=str(sft_run / "adapter"),
            ),
        )
        train(run_dir)
        first_losses[ftx] = read_metrics(run_dir)[0]["loss"]
    # step 1 is measured before any update, so the sigmoid DPO term is exactly ln 2 and the rest is
    # pref_ftx x the chosen answers' mean token NLL
    nll = first_losses[1.0] - math.log(2)
    assert nll > 0.01
    assert first_losses[2.0] - math.log(2) == pytest.approx(2 * nll, rel=1e-3)


def test_dpo_merged_sft_trains_a_new_adapter_on_the_merged_model(
    sft_run: Path, tiny_config: Callable[..., TrainConfig], tiny_qwen2_dir: Path
) -> None:
    ws = open_workspace(sft_run.parents[1])
    sft_adapter = str(sft_run / "adapter")
    run_dir = new_run(
        ws,
        tiny_config(
            stage="dpo",
            dataset="toy_pairs",
            adapter_name_or_path=sft_adapter,
            dpo_reference="merged_sft",
            max_steps=2,
        ),
    )
    train(run_dir)
    summary = read_summary(run_dir)
    assert summary["reference_model"].startswith("merged SFT model")
    assert summary["merged_adapters"] == [sft_adapter]
    dpo_adapter = str(run_dir / "adapter")
    assert summary["inference_adapters"] == [sft_adapter, dpo_adapter]
    first = read_metrics(run_dir)[0]
    assert abs(first["rewards/margins"]) < 1e-4
    loaded = load_model(str(tiny_qwen2_dir), adapters=summary["inference_adapters"], device="cpu")
    assert loaded.adapters == (sft_adapter, dpo_adapter)


def test_dpo_refuses_an_sft_dataset_and_sft_a_preference_dataset(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    from studio.errors import StudioError
    from studio.train.preflight import preflight

    with pytest.raises(
        StudioError, match="'toy_sft' is a sft dataset but stage: dpo trains on preference"
    ):
        preflight(toy_workspace, tiny_config(stage="dpo", dataset="toy_sft"))
    with pytest.raises(StudioError, match="'toy_pairs' is a preference dataset but stage: sft"):
        preflight(toy_workspace, tiny_config(dataset="toy_pairs"))
    with pytest.raises(StudioError, match="no dataset 'nope'"):
        preflight(toy_workspace, tiny_config(dataset="nope"))


def test_records_are_conversational_and_val_size_must_leave_training_rows(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    from studio.errors import StudioError
    from studio.train.dataset import build_datasets

    train_set, held_out = build_datasets(toy_workspace, tiny_config(val_size=0.25, max_samples=8))
    assert (len(train_set), len(held_out)) == (6, 2)
    record = train_set[0]
    assert [m["role"] for m in record["prompt"]] == ["system", "user"]
    assert record["completion"][0]["role"] == "assistant"
    assert record["chat_template_kwargs"] == {"enable_thinking": False}
    pairs, _ = build_datasets(toy_workspace, tiny_config(stage="dpo", dataset="toy_pairs"))
    assert pairs[0]["rejected"] == [{"role": "assistant", "content": "SELECT name FROM singer"}]
    with pytest.raises(StudioError, match="'val_size': 12.0 holds out 12 of 12 rows"):
        build_datasets(toy_workspace, tiny_config(val_size=12))
