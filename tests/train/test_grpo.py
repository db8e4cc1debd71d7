"""GRPO on the tiny Qwen2 model and the demo databases: a run that moves the SFT adapter and logs
its reward curves, a rollout serving two optimizer steps, the execution reward against executed
verdicts, rollout log-probabilities against a forward pass and the decode-batch cap, held-out
questions (greedy evaluation, the split SFT makes, those the starting adapter saw), micro-batches
grouped by length against TRL's layout, two ranks over gloo, cancel and resume, the curriculum
helper and the config rules."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback
from trl import GRPOConfig

from studio.data.importers.demo import open_workspace
from studio.data.registry import database_ref, load_examples, register_dataset
from studio.errors import StudioError
from studio.jobs.runtime import EXIT_CANCELLED, run_worker
from studio.models.references import load_tokenizer
from studio.pairs.store import writing
from studio.pairs.verify import check_sql
from studio.patches.compat import PatchIncompatible
from studio.patches.length_batches import (
    group_answers_by_length,
    group_by_length,
    regroup_window,
    trimmed_logps,
)
from studio.sql.connect import parse_database
from studio.sql.extract import extract_sql
from studio.sql.result import ExecResult
from studio.sql.score import SCORING_MAX_ROWS
from studio.testing.random_models import save_random_model
from studio.train.config import TrainConfig, config_from_mapping, load_config
from studio.train.dataset import CHAT_TEMPLATE_KWARGS, build_datasets, training_records
from studio.train.grpo import (
    TRL_UNSCORED_WARNING,
    UnscoredAnswersFilter,
    grpo_args,
    quiet_unscored_answers,
    rollout_questions,
)
from studio.train.grpo_data import grpo_datasets, held_out_seen, seen_warning
from studio.train.held_out import HELD_OUT_METRIC, best_held_out, saved_states
from studio.train.preflight import preflight
from studio.train.reward import ExecutionReward, RewardWeights, unjudged_gold_warning
from studio.train.rollout import ROLLOUT_MAX_SEQUENCES, PrefixRollout, decode_batch_questions
from studio.train.worker import train
from studio.workspace import Workspace

from .conftest import new_run, read_metrics, read_summary, train_on_two_ranks

SHORT_SQL = [  # (question, gold SQL) on the demo's concert_singer
    ("Say one.", "SELECT 1"),
    ("Say two.", "SELECT 2"),
]
FOUR_SQL = [*SHORT_SQL, ("Say one again.", "SELECT 1"), ("Say two again.", "SELECT 2")]
ANSWER = "select 1"  # tokens that each occur once, so each follows from the one before
TRANSITION_LOGIT = 9.0
LAYER_SCALE = 0.05  # decoder layers kept small, not zero: the LoRA's gradients flow through them
GRPO = {
    "stage": "grpo",
    "dataset": "short_sql",
    "num_generations": 4,
    "per_device_train_batch_size": 8,
    "max_completion_length": 16,
    "max_steps": 2,
    "logging_steps": 1,
    "save_steps": 100,
    "learning_rate": 2e-2,
    "lr_scheduler_type": "constant",
    "reward_workers": 2,
}
CURVES = {
    "loss",
    "reward",
    "reward_std",
    "kl",
    "completions/mean_length",
    "grpo/correct",
    "grpo/exec_error",
    "grpo/timeout",
    "grpo/any_correct",
    "grpo/all_correct",
    "grpo/reward_s",
    "rollouts",
    "rollout_questions_per_s",
    "rollout_tokens_per_s",
    "rollout_s",
    "step_s",
    "tokens_per_s",
}


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The demo workspace plus `short_sql` (two short questions on a demo database) and
    `four_sql` (those and two more)."""
    ws = open_workspace(tmp_path_factory.mktemp("grpo-ws"))
    database = database_ref(ws, "demo_train", "concert_singer")
    for name, questions in (("short_sql", SHORT_SQL), ("four_sql", FOUR_SQL)):
        rows = [
            {"instruction": q, "input": "", "system": "SQL.", "output": g}
            | {"db_id": "concert_singer", "gold_sql": g}
            for q, g in questions
        ]
        register_dataset(ws, name, rows, "sft", {"databases": {"concert_singer": database}})
    return ws


@pytest.fixture(scope="module")
def small_model_dir(builtin_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2 model (the built-in tokenizer cut to 600 tokens) that answers `select 1`
    about half the time: its decoder layers are scaled down, so each next token depends on the
    current one almost only, and its output head makes each step of `ANSWER` likely
    (e^TRANSITION_LOGIT against the rest of the vocabulary); other samples hold stray tokens."""
    from transformers import AutoModelForCausalLM

    target = tmp_path_factory.mktemp("tiny-qwen2-small")
    save_random_model("tiny-qwen2", target, str(builtin_tokenizer_dir), vocab_tokens=600)
    tokenizer = load_tokenizer(str(target))
    model = AutoModelForCausalLM.from_pretrained(target)
    steps = [*tokenizer("\n" + ANSWER, add_special_tokens=False)["input_ids"]]
    steps.append(tokenizer.convert_tokens_to_ids("<|im_end|>"))
    with torch.no_grad():
        for name, parameter in model.model.layers.named_parameters():
            if "norm" not in name:
                parameter.mul_(LAYER_SCALE)
        embeddings = model.get_input_embeddings().weight
        head = torch.zeros_like(embeddings)
        for current, following in itertools.pairwise(steps):
            state = model.model.norm(embeddings[current])
            head[following] += TRANSITION_LOGIT * state / state.dot(state)
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(head)
    model.generation_config.eos_token_id = [steps[-1], tokenizer.eos_token_id]
    model.save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def grpo_config(small_model_dir: Path) -> Callable[..., TrainConfig]:
    def make(**keys: Any) -> TrainConfig:
        return config_from_mapping({"model_name_or_path": str(small_model_dir), **GRPO, **keys})

    return make


@pytest.fixture(scope="module")
def demo_sft(small_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An adapter of the small model standing for the SFT adapter GRPO continues (PEFT's
    initialisation: it leaves the model's answers as they are)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(small_model_dir)
    model.name_or_path = str(small_model_dir)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    target = tmp_path_factory.mktemp("sft") / "adapter"
    get_peft_model(model, lora).save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def grpo_run(demo_ws: Workspace, demo_sft: Path, grpo_config: Callable[..., TrainConfig]) -> Path:
    run_dir = new_run(demo_ws, grpo_config(adapter_name_or_path=str(demo_sft)))
    train(run_dir)
    return run_dir


def adapter_weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


def test_a_grpo_run_moves_the_sft_adapter_and_logs_its_curves(
    grpo_run: Path, demo_sft: Path
) -> None:
    metrics = read_metrics(grpo_run)
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(CURVES <= m.keys() for m in metrics), metrics[0].keys()
    for m in metrics:
        assert 0 <= m["grpo/all_correct"] <= m["grpo/any_correct"] <= 1
        assert m["rollouts"] == 1 and m["rollout_questions_per_s"] > 0
        assert 0 < m["rollout_s"] < m["step_s"]
        assert 0 < m["grpo/reward_s"] < m["step_s"]
    summary = read_summary(grpo_run)
    assert summary["status"] == "succeeded"
    assert summary["reference_model"].startswith("frozen SFT policy")
    assert summary["grpo"]["rollout_engine"] == "prefix"
    assert summary["grpo"]["reward"]["wrong_result"] == 0.1
    assert not (grpo_run / "adapter" / "ref").exists()
    before, after = adapter_weights(demo_sft), adapter_weights(grpo_run / "adapter")
    assert before.keys() == after.keys()
    assert any(not torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize(
    "schedule",
    [
        # a rollout samples 4 micro-batches of 2 answers (both questions x 4 answers); an
        # optimizer step takes 2 of them, so every other step trains on the answers sampled before
        {"steps_per_generation": 4},
        # a rollout per optimizer step (steps_per_generation unset), trained on twice: TRL's μ
        {"num_iterations": 2},
    ],
    ids=["steps_per_generation", "num_iterations"],
)
def test_one_rollout_serves_two_optimizer_steps(
    demo_ws: Workspace,
    demo_sft: Path,
    grpo_config: Callable[..., TrainConfig],
    schedule: dict[str, int],
) -> None:
    cfg = grpo_config(
        adapter_name_or_path=str(demo_sft),
        per_device_train_batch_size=2,
        gradient_accumulation_steps=2,
        max_steps=4,
        gradient_checkpointing=True,
        **schedule,
    )
    run_dir = new_run(demo_ws, cfg)
    train(run_dir)
    metrics = read_metrics(run_dir)
    assert [m["step"] for m in metrics] == [1, 2, 3, 4]
    assert [m["rollouts"] for m in metrics] == [1, 0, 1, 0]
    for m in metrics[::2]:
        assert m["rollout_questions_per_s"] > 0 and 0 < m["rollout_s"] < m["step_s"]
    for m in metrics[1::2]:
        assert m["rollout_s"] == 0 and "rollout_questions_per_s" not in m
    summary = read_summary(run_dir)
    assert summary["status"] == "succeeded"
    recorded = {key: summary["grpo"][key] for key in ("steps_per_generation", "num_iterations")}
    assert recorded == {"steps_per_generation": 2, "num_iterations": 1, **schedule}
    before, after = adapter_weights(demo_sft), adapter_weights(run_dir / "adapter")
    assert any(not torch.equal(before[k], after[k]) for k in before)


def greedy_share_correct(model_dir: Path, adapter: Path, records: list[dict[str, Any]]) -> float:
    """The share of `records` the adapter answers right greedily, by transformers' `generate`
    and the executed verdict."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(str(model_dir))
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), adapter)
    right = 0
    for record in records:
        ids = tokenizer.apply_chat_template(
            record["prompt"], add_generation_prompt=True, return_tensors="pt", return_dict=True,
            **CHAT_TEMPLATE_KWARGS,
        )["input_ids"]  # fmt: skip
        out = model.generate(
            input_ids=ids, do_sample=False, max_new_tokens=GRPO["max_completion_length"]
        )
        text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
        verdict = check_sql(record["database"], record["gold_sql"], [extract_sql(text)])
        right += verdict[0].label == "correct"
    return right / len(records)


@pytest.fixture(scope="module")
def held_out_run(
    demo_ws: Workspace,
    demo_sft: Path,
    grpo_config: Callable[..., TrainConfig],
    small_model_dir: Path,
) -> Path:
    """A GRPO run of `four_sql` holding 2 questions out, evaluated before its first step and
    evaluated and saved at both steps, from `demo_sft` as the adapter of an SFT run that trained
    on all four."""
    sft_run = new_run(demo_ws, sft_run_config(small_model_dir, dataset="four_sql"))
    shutil.copytree(demo_sft, sft_run / "adapter")
    cfg = grpo_config(
        dataset="four_sql",
        adapter_name_or_path=str(sft_run / "adapter"),
        val_size=2,
        eval_strategy="steps",
        eval_steps=1,
        eval_on_start=True,
        save_steps=1,
    )
    run_dir = new_run(demo_ws, cfg)
    with (run_dir / "log").open("w") as log, contextlib.redirect_stdout(log):
        train(run_dir)  # its output in the run's log, as a job's
    return run_dir


def test_held_out_questions_are_answered_greedily_at_each_evaluation(
    demo_ws: Workspace, small_model_dir: Path, held_out_run: Path
) -> None:
    run_dir = held_out_run
    cfg = load_config(run_dir / "config.yaml")
    metrics = read_metrics(run_dir)
    evals = [m for m in metrics if "eval_grpo/correct" in m]
    assert [m["step"] for m in evals] == [0, 1, 2]
    # the evaluations before step 1 and after it do not count as rollouts
    assert [m["rollouts"] for m in metrics if "rollouts" in m] == [1, 1]
    _, held_out = build_datasets(demo_ws, cfg)
    start = Path(cfg.adapter_name_or_path[0])
    states = {0: start, 1: run_dir / "checkpoint-1", 2: run_dir / "checkpoint-2"}
    for m in evals:
        share = greedy_share_correct(small_model_dir, states[m["step"]], list(held_out))
        assert m["eval_grpo/correct"] == share
        assert m["eval_grpo/any_correct"] == m["eval_grpo/all_correct"] == share  # one answer each
    assert {m["eval_grpo/correct"] for m in evals} != {0.0}  # the greedy answer can be right
    best = max(evals, key=lambda m: (m["eval_grpo/correct"], -m["step"]))
    summary = read_summary(run_dir)
    sft_run = Path(cfg.adapter_name_or_path[0]).parent.name
    assert summary["grpo"]["held_out"] == {
        "questions": 2,
        "seen_in_training": 2,
        "adapter_runs": [sft_run],
    }
    assert (
        f"warning: 2 of the 2 held-out questions were training questions of {sft_run}"
        in (run_dir / "log").read_text()
    )
    assert summary["best_held_out"] == {
        "metric": "eval_grpo/correct",
        "value": best["eval_grpo/correct"],
        "step": best["step"],
        "path": str(states[best["step"]].resolve()),
    }


def test_the_best_held_out_state_is_a_saved_one_the_earliest_of_equals(tmp_path: Path) -> None:
    import json

    scores = {10: 0.4, 20: 0.7, 25: 0.9, 30: 0.7, 40: 0.7}  # step 25 was evaluated, not saved
    lines = [{"step": step, "loss": 0.1} for step in scores]
    lines += [{"step": step, "eval_grpo/correct": value} for step, value in scores.items()]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    for step in (10, 20, 30):
        (tmp_path / f"checkpoint-{step}").mkdir()
    (tmp_path / "adapter").mkdir()
    saved = saved_states(tmp_path, (40, tmp_path / "adapter"))
    assert sorted(saved) == [10, 20, 30, 40] and saved[40] == tmp_path / "adapter"
    best = best_held_out(tmp_path / "metrics.jsonl", saved)
    assert best == {
        "metric": "eval_grpo/correct",
        "value": 0.7,
        "step": 20,
        "path": str(tmp_path / "checkpoint-20"),
    }
    assert best_held_out(tmp_path / "metrics.jsonl", {25: tmp_path}) == {
        "metric": "eval_grpo/correct",
        "value": 0.9,
        "step": 25,
        "path": str(tmp_path),
    }
    assert best_held_out(tmp_path / "metrics.jsonl", {15: tmp_path}) is None
    # evaluated before the first step, the starting adapter is a candidate at step 0
    start = tmp_path / "sft-adapter"
    with (tmp_path / "metrics.jsonl").open("a") as metrics:
        metrics.write(json.dumps({"step": 0, "eval_grpo/correct": 0.8}) + "\n")
    saved = saved_states(tmp_path, (40, tmp_path / "adapter"), start)
    assert sorted(saved) == [0, 10, 20, 30, 40] and saved[0] == start
    assert best_held_out(tmp_path / "metrics.jsonl", saved) == {
        "metric": "eval_grpo/correct",
        "value": 0.8,
        "step": 0,
        "path": str(start),
    }


def test_epsilon_high_reaches_the_loss_as_its_upper_clipping_bound(
    demo_ws: Workspace, demo_sft: Path, grpo_config: Callable[..., TrainConfig]
) -> None:
    # cispo caps the policy ratio of answers with a positive advantage at epsilon_high (TRL:
    # `epsilon` when unset): a ratio of about 1 is above a cap of 0.2 and below one of 10
    capped = {}
    for epsilon_high in (None, 10.0):
        cfg = grpo_config(
            adapter_name_or_path=str(demo_sft), loss_type="cispo", epsilon_high=epsilon_high
        )
        run_dir = new_run(demo_ws, cfg)
        train(run_dir)
        capped[epsilon_high] = [m["cispo_clip_ratio"] for m in read_metrics(run_dir)]
    assert all(0 < share <= 1 for share in capped[None]), capped
    assert capped[10.0] == [0.0, 0.0], capped


def test_a_dataset_smaller_than_one_rollout_is_refused(
    demo_ws: Workspace, demo_sft: Path, grpo_config: Callable[..., TrainConfig], tmp_path: Path
) -> None:
    # short_sql holds 2 questions; a rollout of 8 x 2 answers wants 4
    cfg = grpo_config(adapter_name_or_path=str(demo_sft), steps_per_generation=2)
    refused = "one rollout samples 4 questions .* the dataset has 2"
    with pytest.raises(StudioError, match=refused):
        preflight(demo_ws, cfg)  # what `train --check` runs
    with pytest.raises(StudioError, match=refused):
        train(new_run(demo_ws, cfg))
    # the check counts a rollout's questions as TRL does
    args = GRPOConfig(**grpo_args(cfg, tmp_path))
    assert rollout_questions(cfg) == args.generation_batch_size // cfg.num_generations == 4


def test_a_rollout_decodes_its_questions_at_once_up_to_the_cap() -> None:
    assert ROLLOUT_MAX_SEQUENCES == 1024
    assert decode_batch_questions(16, 8) == 16
    assert decode_batch_questions(128, 8) == 128  # 128 questions x 8 answers: one batch
    assert decode_batch_questions(300, 8) == 128
    assert decode_batch_questions(300, 16) == 64
    assert decode_batch_questions(3, 4096) == 1  # a question's answers are never split


def demo_question(ws: Workspace, index: int = 0) -> tuple[str, str]:
    example = load_examples(ws, "demo_train")[index]
    return str(database_ref(ws, "demo_train", example.db_id)), example.gold_sql


def test_rewards_match_executed_verdicts(demo_ws: Workspace) -> None:
    database, gold = demo_question(demo_ws)
    answers = [
        f"```sql\n{gold}\n```",
        gold,
        "SELECT name FROM singer",
        "SELECT nothing FROM nowhere",
        "DELETE FROM singer",
        "I cannot answer that.",
    ]
    reward = ExecutionReward(RewardWeights(wrong_result=0.1, format=0.5), 10.0, 2)
    logged: dict[str, float] = {}
    rewards = reward(
        prompts=["q"] * len(answers),
        completions=[[{"role": "assistant", "content": a}] for a in answers],
        database=[database] * len(answers),
        gold_sql=[gold] * len(answers),
        log_metric=logged.__setitem__,
    )
    labels = [c.label for c in check_sql(database, gold, [gold, gold, *answers[2:5]])]
    assert labels == ["correct", "correct", "wrong_result", "error", "error"]
    assert rewards == [1.5, 1.0, 0.1, 0.0, 0.0, 0.0]
    assert logged.pop("grpo/reward_s") > 0
    assert logged == {
        "grpo/correct": 2 / 6,
        "grpo/exec_error": 3 / 6,
        "grpo/timeout": 0.0,
        "grpo/any_correct": 1.0,
        "grpo/all_correct": 0.0,
    }
    assert list(reward.golds) == [(database, gold)]  # the gold ran once
    again = reward.score([gold], [database], [gold])
    assert again[0].category == "correct" and len(reward.golds) == 1


def test_an_answer_that_runs_out_of_time_counts_as_an_error_and_a_timeout(
    demo_ws: Workspace,
) -> None:
    database, gold = demo_question(demo_ws)
    endless = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n"
    )
    reward = ExecutionReward(RewardWeights(wrong_result=0.1), 1.0, 2)
    logged: dict[str, float] = {}
    rewards = reward(
        prompts=["q", "q"],
        completions=[[{"role": "assistant", "content": a}] for a in (gold, endless)],
        database=[database] * 2,
        gold_sql=[gold] * 2,
        log_metric=logged.__setitem__,
    )
    assert rewards == [1.0, 0.0]
    assert logged["grpo/exec_error"] == logged["grpo/timeout"] == 0.5


def test_reward_overlap_credits_a_wrong_result_by_the_rows_it_shares(demo_ws: Workspace) -> None:
    import sqlite3

    database = database_ref(demo_ws, "demo_train", "concert_singer")
    gold = "SELECT name FROM singer WHERE country IN ('Spain', 'South Korea', 'France')"
    answers = [
        gold,
        "SELECT name FROM singer WHERE country = 'Spain'",  # a subset of the gold's rows
        "SELECT name FROM singer WHERE country IN ('Spain', 'Canada')",  # some shared, one not
        "SELECT country FROM singer",  # no row shared
        "SELECT nothing FROM nowhere",
    ]
    with sqlite3.connect(database) as connection:
        rows = [set(connection.execute(sql).fetchall()) for sql in [gold, *answers[1:4]]]
    shares = [len(r & rows[0]) / len(r | rows[0]) for r in rows[1:]]
    assert 0 < shares[1] < shares[0] < 1 and shares[2] == 0
    reward = ExecutionReward(RewardWeights(wrong_result=0.1, overlap=0.5), 10.0, 2)
    rewards = reward(
        prompts=["q"] * len(answers),
        completions=[[{"role": "assistant", "content": a}] for a in answers],
        database=[str(database)] * len(answers),
        gold_sql=[gold] * len(answers),
    )
    assert rewards == pytest.approx([1.0, *(0.1 + 0.5 * share for share in shares), 0.0])
    plain = ExecutionReward(RewardWeights(wrong_result=0.1), 10.0, 2)
    assert plain.score(answers[1:2], [str(database)], [gold])[0].reward == 0.1


def test_a_failing_gold_gives_no_reward_and_is_named_once(
    demo_ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    database, _ = demo_question(demo_ws)
    reward = ExecutionReward(RewardWeights(), 10.0, 1)
    broken = "SELECT broken FROM nowhere"
    scored = reward.score(["SELECT 1", "SELECT 2"], [database] * 2, [broken] * 2)
    assert [(s.category, s.reward) for s in scored] == [("gold_error", None)] * 2
    reward.score(["SELECT 3"], [database], [broken])  # a later rollout drawing the question
    warnings = [line for line in capsys.readouterr().out.splitlines() if "warning:" in line]
    assert len(warnings) == 1
    name = parse_database(database).name
    assert (
        f"the gold SQL of a question on {name} cannot judge answers (unknown_table: "
        in (warnings[0])
    )
    assert "data validate --golds" in warnings[0] and warnings[0].endswith(f"Gold: {broken}")
    too_many = unjudged_gold_warning(database, "SELECT 1", ExecResult(ok=True, truncated=True))
    assert f"on {name} cannot judge answers (returns more than the {SCORING_MAX_ROWS:,} rows" in (
        too_many
    )
    gone = str(demo_ws.root / "gone.sqlite")  # the warning itself never fails
    failed = reward.golds[(database, broken)][0]
    assert "whose database cannot be opened" in unjudged_gold_warning(gone, "SELECT 1", failed)


def test_trls_warning_for_unscored_answers_is_dropped_and_other_warnings_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """TRL prints the whole prompt of an answer no reward function scored; the studio names the
    question's gold itself, so that warning is filtered out of TRL's trainer logger."""
    import inspect
    import logging

    from trl import GRPOTrainer

    assert TRL_UNSCORED_WARNING in inspect.getsource(GRPOTrainer)  # TRL's wording still
    quiet_unscored_answers(GRPOTrainer.__module__)
    quiet_unscored_answers(GRPOTrainer.__module__)  # installed once
    logger = logging.getLogger(GRPOTrainer.__module__)
    assert sum(isinstance(f, UnscoredAnswersFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger=GRPOTrainer.__module__):
        logger.warning(f"{TRL_UNSCORED_WARNING} for the following kwargs:\n{{'prompt': '...'}}")
        logger.warning("another warning")
    assert [r.getMessage() for r in caplog.records] == ["another warning"]


def test_rollout_logprobs_match_a_forward_pass(
    demo_ws: Workspace, demo_sft: Path, small_model_dir: Path
) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from studio.models.references import load_tokenizer

    tokenizer = load_tokenizer(str(small_model_dir))
    base = AutoModelForCausalLM.from_pretrained(small_model_dir, attn_implementation="sdpa")
    model = PeftModel.from_pretrained(base, demo_sft, is_trainable=True)
    records = training_records(demo_ws, config_from_mapping({**GRPO, "dataset": "demo_train"}))
    records = records[:2]
    prompts = [r["prompt"] for r in records for _ in range(3)]
    rollout = PrefixRollout(tokenizer, 12, 0.8, 1.0, 0, CHAT_TEMPLATE_KWARGS)
    out = rollout.sample(model, prompts, step=0)
    assert model.training  # the policy goes back to training mode
    assert len(out["completion_ids"]) == len(prompts)
    model.eval()
    for prompt_ids, ids, logprobs in zip(
        out["prompt_ids"], out["completion_ids"], out["logprobs"], strict=True
    ):
        assert len(ids) == len(logprobs) >= 1
        full = torch.tensor([prompt_ids + ids])
        with torch.no_grad():
            logits = model(full).logits[0, len(prompt_ids) - 1 : -1].float() / 0.8
        expected = torch.log_softmax(logits, -1).gather(1, torch.tensor(ids)[:, None])[:, 0]
        torch.testing.assert_close(torch.tensor(logprobs), expected, atol=2e-4, rtol=1e-4)
    tally = rollout.drain()
    assert (tally.rollouts, tally.questions) == (1, 2)
    assert tally.tokens == sum(map(len, out["completion_ids"])) and tally.seconds > 0
    assert rollout.drain().rollouts == 0


def test_loss_over_signal_groups_divides_by_the_tokens_of_answers_with_an_advantage(
    demo_ws: Workspace,
    demo_sft: Path,
    grpo_config: Callable[..., TrainConfig],
    tmp_path: Path,
) -> None:
    cfg = grpo_config(adapter_name_or_path=str(demo_sft), loss_over_signal_groups=True)
    records = training_records(demo_ws, cfg)
    trainer = grpo_trainer(cfg, records, tmp_path)
    # the two questions, then one whose gold fails: its answers get no reward, so advantage 0
    failing = {**records[0], "gold_sql": "SELECT broken FROM nowhere"}
    inputs = [record for record in [*records, failing] for _ in range(cfg.num_generations)]
    trainer.model.train()
    out = trainer._generate_and_score_completions(inputs)
    mask, advantages = out["completion_mask"], out["advantages"]
    assert not advantages[-cfg.num_generations :].any() and advantages.any()
    with_signal = int((mask * (advantages != 0)[:, None]).sum())
    assert int(out["num_items_in_batch"]) == with_signal < int(mask.sum())
    # TRL's own count, the patch's method underneath: every answer's tokens
    own = type(trainer)._generate_and_score_completions(trainer, inputs)
    assert int(own["num_items_in_batch"]) == int(own["completion_mask"].sum())


def grpo_trainer(cfg: TrainConfig, records: list[dict[str, Any]], run_dir: Path) -> Any:
    from datasets import Dataset

    from studio.train.grpo import build_grpo_trainer

    tokenizer = load_tokenizer(cfg.model_name_or_path)
    trainer, _ = build_grpo_trainer(cfg, run_dir, tokenizer, Dataset.from_list(records), None, [])
    return trainer


def padded_rows(
    prompts: list[list[int]], answers: list[list[int]], pad_id: int, extra: int
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Prompts padded on the left, answers on the right (plus `extra` columns no row uses), as
    TRL lays out a rollout: (ids, attention mask, answer width)."""
    prompt_width = max(map(len, prompts))
    answer_width = max(map(len, answers)) + extra
    ids, mask = [], []
    for prompt, answer in zip(prompts, answers, strict=True):
        left, right = prompt_width - len(prompt), answer_width - len(answer)
        ids.append([pad_id] * left + prompt + answer + [pad_id] * right)
        mask.append([0] * left + [1] * (len(prompt) + len(answer)) + [0] * right)
    return torch.tensor(ids), torch.tensor(mask), answer_width


def test_length_batches_give_trls_log_probs_from_trimmed_chunks(
    demo_ws: Workspace, demo_sft: Path, grpo_config: Callable[..., TrainConfig], tmp_path: Path
) -> None:
    cfg = grpo_config(dataset="demo_train", adapter_name_or_path=str(demo_sft))
    records = training_records(demo_ws, cfg)[:6]
    trainer = grpo_trainer(cfg, records, tmp_path)
    own = type(trainer)._get_per_token_logps_and_entropies.__get__(trainer)
    tokenizer = trainer.processing_class
    prompts = [
        tokenizer.apply_chat_template(
            r["prompt"], add_generation_prompt=True, return_dict=True, **CHAT_TEMPLATE_KWARGS
        )["input_ids"]
        for r in records
    ]
    assert len({len(p) for p in prompts}) > 2  # schemas of several lengths
    generator = torch.Generator().manual_seed(0)
    lengths = (1, 5, 9, 3, 12, 7)
    answers = [torch.randint(10, 500, (n,), generator=generator).tolist() for n in lengths]
    ids, mask, width = padded_rows(prompts, answers, tokenizer.pad_token_id, extra=2)
    chunks: list[tuple[int, int]] = []  # (columns, answer columns) of each chunk the patch ran

    def recording(model: Any, rows: torch.Tensor, rows_mask: Any, keep: int, *rest: Any) -> Any:
        chunks.append((rows.size(1), keep))
        return own(model, rows, rows_mask, keep, *rest)

    trainer.model.eval()
    with torch.no_grad():
        logps, entropies, _ = trimmed_logps(recording)(
            trainer.model, ids, mask, width, batch_size=2, compute_entropy=True
        )
        trl_logps, trl_entropies, _ = own(
            trainer.model, ids, mask, width, batch_size=2, compute_entropy=True
        )
    answer_mask = mask[:, -width:].bool()
    torch.testing.assert_close(logps[answer_mask], trl_logps[answer_mask], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(entropies[answer_mask], trl_entropies[answer_mask])
    assert not logps[~answer_mask].any() and not entropies[~answer_mask].any()
    # rows in order of prompt, then answer length, two a chunk, each cut to its longest ones
    rows = sorted(zip(map(len, prompts), lengths, strict=True))
    pairs = [rows[i : i + 2] for i in range(0, len(rows), 2)]
    expected = [
        (max(p for p, _ in pair) + max(a for _, a in pair), max(a for _, a in pair))
        for pair in pairs
    ]
    assert sorted(chunks) == sorted(expected)
    assert trainer._get_per_token_logps_and_entropies is not own  # installed with the key on


def real_answers(chunks: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each answer of a rollout's micro-batches: its prompt and answer tokens and advantage."""
    rows = []
    for chunk in chunks:
        for i in range(len(chunk["advantages"])):
            prompt = chunk["prompt_ids"][i][chunk["prompt_mask"][i].bool()].tolist()
            answer = chunk["completion_ids"][i][chunk["completion_mask"][i].bool()].tolist()
            rows.append((prompt, answer, round(float(chunk["advantages"][i]), 6)))
    return sorted(rows)


@pytest.mark.parametrize(("loss_type", "window"), [("dapo", 2), ("bnpo", 1)])
def test_each_optimizer_step_grouped_by_length_trains_on_trls_answers_at_trls_loss(
    demo_ws: Workspace,
    demo_sft: Path,
    grpo_config: Callable[..., TrainConfig],
    tmp_path: Path,
    loss_type: str,
    window: int,
) -> None:
    keys = {
        "dataset": "demo_train",
        "max_samples": 4,
        "adapter_name_or_path": str(demo_sft),
        "per_device_train_batch_size": 4,
        "steps_per_generation": 4,  # 16 answers: 4 questions x 4, in 4 micro-batches
        "gradient_accumulation_steps": 2,  # 2 optimizer steps a rollout
        "loss_type": loss_type,
        "temperature": 1.5,
    }
    records = training_records(demo_ws, grpo_config(**keys))
    on = grpo_trainer(grpo_config(**keys), records, tmp_path / "on")
    off = grpo_trainer(grpo_config(**keys, grpo_group_by_length=False), records, tmp_path / "off")
    generation_batch = [record for record in records for _ in range(4)]
    for trainer in (on, off):
        trainer.model.train()
        # what the training loop sets before its first step
        trainer.current_gradient_accumulation_steps = trainer.args.gradient_accumulation_steps
    off._prepare_inputs(generation_batch)  # TRL's own rollout and micro-batches
    trl_chunks = off._buffered_inputs
    grouped = group_by_length(trl_chunks, window)
    assert grouped is not None and len(grouped) == len(trl_chunks) == 4
    assert real_answers(grouped) == real_answers(trl_chunks)
    for first in range(0, 4, window):  # what one optimizer step accumulates
        step, trl_step = grouped[first : first + window], trl_chunks[first : first + window]
        assert real_answers(step) == real_answers(trl_step)
        spans = [
            (int(c["prompt_mask"].sum(1).min()), int(c["prompt_mask"].sum(1).max())) for c in step
        ]
        assert all(high <= low for (_, high), (low, _) in itertools.pairwise(spans))
        trl_loss = sum(off.compute_loss(off.model, chunk) for chunk in trl_step)
        step_loss = sum(on.compute_loss(on.model, chunk) for chunk in step)
        torch.testing.assert_close(step_loss, trl_loss, atol=1e-5, rtol=1e-4)
    for chunk in grouped:  # trimmed to its own longest prompt and answer
        assert chunk["prompt_mask"][:, 0].any() and chunk["completion_mask"][:, -1].any()
    trimmed, padded = (sum(c["prompt_ids"].numel() for c in cs) for cs in (grouped, trl_chunks))
    assert trimmed < padded if window > 1 else trimmed <= padded
    assert regroup_window(on.args) == window
    on._prepare_inputs(generation_batch)  # the installed patch regroups its own rollout
    for chunk in on._buffered_inputs:
        assert chunk["prompt_mask"][:, 0].any() and chunk["completion_mask"][:, -1].any()


def test_length_batches_name_their_key_when_a_trainer_lacks_the_state_they_read() -> None:
    class OlderTrainer:  # a GRPOTrainer of a TRL without the attributes the patch reads
        def _prepare_inputs(self, generation_batch: Any) -> Any:
            return generation_batch

    with pytest.raises(
        PatchIncompatible, match=r"no _buffered_inputs, _step .*grpo_group_by_length: false"
    ):
        group_answers_by_length(OlderTrainer())


def test_two_ranks_train_grpo_over_gloo_with_answers_grouped_by_length(
    demo_ws: Workspace, demo_sft: Path, grpo_config: Callable[..., TrainConfig]
) -> None:
    cfg = grpo_config(
        dataset="four_sql", adapter_name_or_path=str(demo_sft), max_steps=2, save_steps=2
    )
    run_dir = new_run(demo_ws, cfg)
    done = train_on_two_ranks(run_dir, timeout_s=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = read_summary(run_dir)
    assert summary["status"] == "succeeded" and summary["global_step"] == 2
    assert "length_batches" in summary["patches"]
    saved = {path.name for path in (run_dir / "checkpoint-2").iterdir()}
    assert {"rng_state_0.pth", "rng_state_1.pth"} <= saved  # both ranks trained
    rewards = [m["reward"] for m in read_metrics(run_dir) if "reward" in m]
    assert len(rewards) == 2 and all(0.0 <= r <= 1.0 for r in rewards)
    trained = adapter_weights(run_dir / "adapter")
    start = adapter_weights(demo_sft)
    assert any(not torch.equal(trained[k], start[k]) for k in start)


class CancelAfterFirstStep(TrainerCallback):
    """Sends the worker SIGTERM (what `jobs cancel` sends) as the first step ends."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step == 1:
            os.kill(os.getpid(), signal.SIGTERM)


def test_a_cancelled_grpo_run_resumes_from_its_checkpoint(
    demo_ws: Workspace, demo_sft: Path, grpo_config: Callable[..., TrainConfig]
) -> None:
    run_dir = new_run(
        demo_ws, grpo_config(adapter_name_or_path=str(demo_sft), max_steps=3, beta=0.0)
    )
    code = run_worker(run_dir, lambda: train(run_dir, extra_callbacks=[CancelAfterFirstStep()]))
    assert code == EXIT_CANCELLED
    summary = read_summary(run_dir)
    assert summary["status"] == "cancelled" and summary["checkpoint"].endswith("checkpoint-1")
    assert summary["reference_model"] == "none (beta 0: no KL term)"
    assert run_worker(run_dir, lambda: train(run_dir, resume=True)) == 0
    assert [m["step"] for m in read_metrics(run_dir)] == [1, 2, 3]
    assert read_summary(run_dir)["resumed_from"] == str(run_dir / "checkpoint-1")


def mining_run(
    ws: Workspace, labels: dict[int, list[str]], run_id: str = "pairs-test-settled"
) -> str:
    """A mining run of demo_train in the pair store whose question i got candidates `labels[i]`."""
    with writing(ws) as conn:
        conn.execute(
            "INSERT INTO pair_runs (id, dataset, model, adapters, settings, created_at) "
            "VALUES (?, 'demo_train', 'm', '[]', '{}', 0)",
            (run_id,),
        )
        for question, found in labels.items():
            for sample, label in enumerate(found):
                conn.execute(
                    "INSERT INTO pair_candidates (run_id, question_index, sample, completion, "
                    "sql, label, created_at) VALUES (?, ?, ?, '', '', ?, 0)",
                    (run_id, question, sample, label),
                )
    return run_id


def test_skip_settled_leaves_out_questions_always_right_or_wrong(
    demo_ws: Workspace, grpo_config: Callable[..., TrainConfig]
) -> None:
    run_id = mining_run(
        demo_ws,
        {
            0: ["correct", "correct"],
            1: ["error", "wrong_result", "timeout"],
            2: ["correct", "error"],
            3: ["gold_error", "gold_error"],
        },
    )
    records, held_out, counts = grpo_datasets(
        demo_ws, grpo_config(dataset="demo_train", max_samples=5, grpo_skip_settled=run_id)
    )
    assert held_out is None
    assert counts == {"mining_run": run_id, "kept": 3, "always_right": 1, "always_wrong": 1}
    golds = [e.gold_sql for e in load_examples(demo_ws, "demo_train")]
    assert [r["gold_sql"] for r in records] == [golds[2], golds[3], golds[4]]
    with pytest.raises(StudioError, match="no pair-mining run 'pairs-missing'"):
        grpo_datasets(demo_ws, grpo_config(dataset="demo_train", grpo_skip_settled="pairs-missing"))


def user_prompts(records: Any) -> set[str]:
    return {record["prompt"][-1]["content"] for record in records}


def sft_run_config(small_model_dir: Path, **keys: Any) -> TrainConfig:
    return config_from_mapping({"model_name_or_path": str(small_model_dir), "stage": "sft", **keys})


def test_grpo_holds_out_the_questions_sft_held_out_and_the_curriculum_keeps_to_training(
    demo_ws: Workspace, grpo_config: Callable[..., TrainConfig], small_model_dir: Path
) -> None:
    settled_or_not = {i: ["correct", "correct" if i % 2 else "error"] for i in range(8)}
    run_id = mining_run(demo_ws, settled_or_not, "pairs-test-split")
    split = {"dataset": "demo_train", "max_samples": 8, "val_size": 3, "seed": 5}
    sft_cfg = sft_run_config(small_model_dir, **split)
    sft_run = new_run(demo_ws, sft_cfg)
    cfg = grpo_config(
        **split, grpo_skip_settled=run_id, adapter_name_or_path=str(sft_run / "adapter")
    )
    records, held_out, counts = grpo_datasets(demo_ws, cfg)
    sft_train, sft_held_out = build_datasets(demo_ws, sft_cfg)
    assert held_out is not None and sft_held_out is not None
    assert user_prompts(held_out) == user_prompts(sft_held_out)  # the curriculum moved nothing
    assert counts is not None and counts["kept"] + counts["always_right"] == 5
    assert counts["kept"] and counts["always_right"]
    assert user_prompts(records) < user_prompts(sft_train)
    seen = held_out_seen(cfg.adapter_name_or_path, held_out)
    assert seen == {"questions": 3, "seen_in_training": 0, "adapter_runs": [sft_run.name]}
    assert seen_warning(seen, cfg) is None


def test_held_out_questions_the_starting_adapter_trained_on_are_counted_and_named(
    demo_ws: Workspace, grpo_config: Callable[..., TrainConfig], small_model_dir: Path
) -> None:
    unsplit_run = new_run(demo_ws, sft_run_config(small_model_dir, dataset="demo_train"))
    cfg = grpo_config(
        dataset="demo_train",
        val_size=3,
        adapter_name_or_path=["/elsewhere/adapter", str(unsplit_run / "checkpoint-4")],
    )
    _, held_out, _ = grpo_datasets(demo_ws, cfg)
    assert held_out is not None
    seen = held_out_seen(cfg.adapter_name_or_path, held_out)
    assert seen == {"questions": 3, "seen_in_training": 3, "adapter_runs": [unsplit_run.name]}
    warning = seen_warning(seen, cfg)
    assert warning is not None and warning.startswith("3 of the 3 held-out questions were")
    assert "val_size: 3 and seed: 42" in warning
    not_a_run = held_out_seen(["/elsewhere/adapter"], held_out)
    assert not_a_run == {"questions": 3, "seen_in_training": None, "adapter_runs": []}


def test_grpo_config_rules(grpo_config: Callable[..., TrainConfig]) -> None:
    with pytest.raises(StudioError, match="'num_generations' applies to stage: grpo only"):
        config_from_mapping({"dataset": "a", "num_generations": 4})
    with pytest.raises(StudioError, match="'steps_per_generation' applies to stage: grpo only"):
        config_from_mapping({"dataset": "a", "steps_per_generation": 2})
    with pytest.raises(
        StudioError,
        match=r"'gradient_accumulation_steps' \(steps_per_generation unset\) = 6 answers per "
        r"rollout must be a multiple of 'num_generations' \(4\).*raise gradient_accumulation_steps",
    ):
        grpo_config(per_device_train_batch_size=3, gradient_accumulation_steps=2)
    with pytest.raises(
        StudioError,
        match=r"'per_device_train_batch_size' x 'steps_per_generation' = 6 answers per rollout "
        r"must be a multiple of 'num_generations' \(4\).*raise steps_per_generation",
    ):
        grpo_config(
            per_device_train_batch_size=3, gradient_accumulation_steps=4, steps_per_generation=2
        )
    with pytest.raises(StudioError, match="config key 'steps_per_generation'"):
        grpo_config(steps_per_generation=0)
    # the rollout, not the optimizer step, holds whole groups (as TRL's GRPOConfig checks)
    cfg = grpo_config(per_device_train_batch_size=2, steps_per_generation=2)
    assert cfg.steps_per_generation == 2 and cfg.gradient_accumulation_steps == 1
    with pytest.raises(StudioError, match="'loss_over_signal_groups' changes the divisor.*grpo"):
        grpo_config(loss_type="grpo", loss_over_signal_groups=True)
    with pytest.raises(StudioError, match="'loss_over_signal_groups' applies to stage: grpo"):
        config_from_mapping({"dataset": "a", "loss_over_signal_groups": True})
    with pytest.raises(StudioError, match="config key 'epsilon_high'"):
        grpo_config(epsilon_high=0)
    with pytest.raises(StudioError, match="'epsilon_high' applies to stage: grpo"):
        config_from_mapping({"dataset": "a", "epsilon_high": 0.28})
    with pytest.raises(StudioError, match="'reward_overlap': 1.5 is out of range"):
        grpo_config(reward_overlap=1.5)
    with pytest.raises(StudioError, match="'reward_overlap' applies to stage: grpo"):
        config_from_mapping({"dataset": "a", "reward_overlap": 0.5})
    # LLaMA-Factory's sampling keys are accepted by every stage, read by GRPO's rollouts
    assert config_from_mapping({"dataset": "a", "temperature": 0.7}).temperature == 0.7


def test_the_grpo_chart_draws_every_curve_of_a_run(held_out_run: Path) -> None:
    from studio.ui.common import GRPO_PANELS, grpo_figure

    figure = grpo_figure(read_metrics(held_out_run))
    drawn = {trace.name: list(trace.y) for trace in figure.data}
    assert set(drawn) == {key for keys, _ in GRPO_PANELS for key in keys}
    # a point per step; the held-out share also before the first step
    assert {len(points) for key, points in drawn.items() if key != HELD_OUT_METRIC} == {2}, drawn
    assert len(drawn[HELD_OUT_METRIC]) == 3


@pytest.mark.builtin
def test_two_grpo_steps_of_the_builtin_model_on_demo_data(demo_ws: Workspace) -> None:
    cfg = config_from_mapping(
        {
            **GRPO,
            "dataset": "demo_train",
            "max_samples": 2,
            "num_generations": 2,
            "per_device_train_batch_size": 4,
            "max_completion_length": 48,
            "learning_rate": 1e-5,
        }
    )
    run_dir = new_run(demo_ws, cfg)
    train(run_dir)
    metrics = read_metrics(run_dir)
    assert [m["step"] for m in metrics] == [1, 2]
    assert all(CURVES - {"kl"} <= m.keys() for m in metrics)
    # the instruct model writes SQL: most answers run
    assert sum(m["grpo/exec_error"] for m in metrics) / 2 < 0.5
    assert read_summary(run_dir)["status"] == "succeeded"
