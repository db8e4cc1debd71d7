"""Every GRPO run of the GPU runs' folders side by side: its rollouts, its held-out curve, its EX.

    python bench/bench_grpo_runs.py docs/gpu-runs/*grpo*

Reads each folder's `*grpo*-metrics.jsonl` (one per GRPO run) and `correct-by-question.json`
and prints a Markdown table, one row per run: optimizer steps and the non-finite ones the guard
skipped; on the run's own rollouts (sampled), the share of answers right and of groups whose
answers all got the same reward, first rollout -> last; the share of held-out train questions
answered right greedily at each evaluation (`step: %`); and its greedy EX on SpiderMan test
against its SFT model's (paired, 95 % interval), for the last state and any other state
evaluated (`_best`: the best held-out state, `_resumed`: the run resumed). No model runs: any
CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from studio.evaluate.paired import paired_verdicts

STATES = ("", "_best", "_resumed")  # suffixes of a run's evaluated states in correct-by-question


def read_metrics(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A run's training steps and its held-out evaluations."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    steps = [row for row in rows if "loss" in row]
    evaluations = [row for row in rows if "eval_grpo/correct" in row]
    return steps, evaluations


def nonfinite_steps(steps: list[dict[str, Any]]) -> list[int]:
    """The steps at which the guard's count of non-finite steps rose."""
    found, count = [], 0
    for row in steps:
        if row.get("nonfinite_steps", 0) > count:
            found.append(row["step"])
            count = row["nonfinite_steps"]
    return found


def first_to_last(rows: list[dict[str, Any]], key: str) -> str:
    if not rows or key not in rows[0]:
        return "–"
    return f"{100 * rows[0][key]:.0f} -> {100 * rows[-1][key]:.0f}"


def by_index(marks: str) -> dict[str, bool]:
    """A correct-by-question string as `eval --compare` keys verdicts: by question index."""
    return {str(index): mark == "1" for index, mark in enumerate(marks)}


def ex_gains(verdicts: dict[str, str], sft: str, run: str) -> str:
    """Each evaluated state of `run` against `sft`: EX gain and paired 95 % interval."""
    if sft not in verdicts:
        return "–"
    first = by_index(verdicts[sft])
    gains = []
    for suffix in STATES:
        if run + suffix not in verdicts:
            continue
        paired = paired_verdicts(first, by_index(verdicts[run + suffix]))
        low, high = paired["ci95"]
        gains.append(f"{suffix or 'last'} {paired['difference']:+.2f} ({low:+.2f}, {high:+.2f})")
    return "; ".join(gains) or "–"


def run_row(metrics: Path, verdicts: dict[str, str]) -> str:
    lane = metrics.name.removesuffix("-metrics.jsonl")
    prefix, _, run = lane.rpartition("-")
    key_prefix = f"{prefix}_" if prefix else ""
    steps, evaluations = read_metrics(metrics)
    rollouts = [row for row in steps if "grpo/correct" in row]
    held_out = ", ".join(
        f"{row['step']}: {100 * row['eval_grpo/correct']:.1f}" for row in evaluations
    )
    cells = [
        f"{metrics.parent.name}/{lane}",
        str(len(steps)),
        ", ".join(map(str, nonfinite_steps(steps))) or "none",
        first_to_last(rollouts, "grpo/correct"),
        first_to_last(rollouts, "frac_reward_zero_std"),
        held_out or "–",
        ex_gains(verdicts, f"{key_prefix}sft", key_prefix + run),
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="GPU run folders")
    args = parser.parse_args()
    print(
        "| run | steps | non-finite | rollouts: % right | rollouts: % groups without spread "
        "| held-out greedy % right by step | test EX over SFT, points (95 % CI) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for folder in sorted(args.folders):
        verdicts_file = folder / "correct-by-question.json"
        verdicts = (
            json.loads(verdicts_file.read_text(encoding="utf-8")) if verdicts_file.exists() else {}
        )
        for metrics in sorted(folder.glob("*grpo*-metrics.jsonl")):
            print(run_row(metrics, verdicts))


if __name__ == "__main__":
    main()
