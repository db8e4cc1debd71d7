"""Tokens GRPO's forward passes process per rollout: TRL's layout against `grpo_group_by_length`.

    python bench/bench_grpo_padding.py configs/spiderman_grpo.yaml [--rollouts 50] [--seed 0]

Reads the config's dataset from the workspace (`--workspace` or $STUDIO_WORKSPACE), tokenizes
every prompt as training does (chat template, generation prompt), and draws rollouts of the
config's size (per_device_train_batch_size x steps_per_generation answers, num_generations a
question). Each answer is as long as its question's gold SQL in tokens (a stand-in for the
policy's answers). TRL pads every micro-batch to the rollout's longest prompt and answer; with
the key on, the answers of each optimizer step (gradient_accumulation_steps micro-batches of the
shuffled rollout; one for loss_type bnpo) are sorted by length and cut into as many
micro-batches, each padded to its own longest.
Prints one JSON line: mean tokens per rollout (real, TRL's layout, grouped) and the ratios.
No GPU needed: it counts tokens, it runs no model.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from studio.models.references import load_tokenizer, resolve_model_dir
from studio.patches.length_batches import MICRO_BATCH_TOKEN_MEAN_LOSSES
from studio.train.config import load_config
from studio.train.dataset import CHAT_TEMPLATE_KWARGS, training_records
from studio.workspace import Workspace, default_workspace_path

Rows = list[tuple[int, int]]  # (prompt tokens, answer tokens) per answer


def padded_tokens(
    rows: Rows, micro_batches: int, window: int, rng: random.Random
) -> tuple[int, int]:
    """(TRL's layout, grouped by length): tokens the forward passes process for one rollout,
    its answers shuffled as TRL does and regrouped within each window of micro-batches."""
    width = max(p for p, _ in rows) + max(a for _, a in rows)
    trl = len(rows) * width
    shuffled = rng.sample(rows, len(rows))
    size = len(rows) // micro_batches
    grouped = 0
    for first in range(0, micro_batches, window):
        step = sorted(shuffled[first * size : (first + window) * size])
        for i in range(0, len(step), size):
            chunk = step[i : i + size]
            grouped += len(chunk) * (max(p for p, _ in chunk) + max(a for _, a in chunk))
    return trl, grouped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--workspace", type=Path, default=default_workspace_path())
    parser.add_argument("--rollouts", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = load_config(args.config)
    records = training_records(Workspace.open(args.workspace), cfg)
    tokenizer = load_tokenizer(str(resolve_model_dir(cfg.model_name_or_path)))
    lengths = [
        (
            len(
                tokenizer.apply_chat_template(
                    r["prompt"],
                    add_generation_prompt=True,
                    return_dict=True,
                    **CHAT_TEMPLATE_KWARGS,
                )["input_ids"]
            ),
            len(tokenizer(r["gold_sql"], add_special_tokens=False)["input_ids"]) + 1,  # + end
        )
        for r in records
    ]
    micro_batches = cfg.steps_per_generation or cfg.gradient_accumulation_steps
    window = (
        1 if cfg.loss_type in MICRO_BATCH_TOKEN_MEAN_LOSSES else cfg.gradient_accumulation_steps
    )
    answers = cfg.per_device_train_batch_size * micro_batches
    questions = answers // cfg.num_generations
    rng = random.Random(args.seed)
    real, trl, grouped = [], [], []
    for _ in range(args.rollouts):
        rows = [row for row in rng.sample(lengths, questions) for _ in range(cfg.num_generations)]
        real.append(sum(p + a for p, a in rows))
        padded = padded_tokens(rows, micro_batches, window, rng)
        trl.append(padded[0])
        grouped.append(padded[1])
    result = {
        "questions": len(lengths),
        "prompt_tokens_mean": round(statistics.mean(p for p, _ in lengths), 1),
        "prompt_tokens_max": max(p for p, _ in lengths),
        "rollout": {
            "questions": questions,
            "answers": answers,
            "micro_batches": micro_batches,
            "micro_batches_a_step": window,
        },
        "rollouts": args.rollouts,
        "tokens_real": round(statistics.mean(real)),
        "tokens_trl_layout": round(statistics.mean(trl)),
        "tokens_grouped": round(statistics.mean(grouped)),
        "trl_over_real": round(statistics.mean(trl) / statistics.mean(real), 2),
        "grouped_over_real": round(statistics.mean(grouped) / statistics.mean(real), 2),
        "grouped_over_trl": round(statistics.mean(grouped) / statistics.mean(trl), 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
