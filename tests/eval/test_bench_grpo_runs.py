"""bench/bench_grpo_runs.py: one row per GRPO run of the GPU runs' folders, from their metrics
and verdicts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ..conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "bench" / "bench_grpo_runs.py"


def table_rows(*folders: Path) -> dict[str, list[str]]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, folders)],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.splitlines()
    assert lines[1].startswith("| ---")
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]
    return {row[0]: row[1:] for row in rows}


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def test_a_run_row_holds_its_rollouts_held_out_curve_and_paired_gain(tmp_path: Path) -> None:
    folder = tmp_path / "2026-01-01-grpo"
    folder.mkdir()
    write_jsonl(
        folder / "grpo-metrics.jsonl",
        [
            {"step": 0, "eval_grpo/correct": 0.5},
            {"step": 1, "loss": 0.1, "nonfinite_steps": 0, "grpo/correct": 0.25,
             "frac_reward_zero_std": 0.5},
            {"step": 2, "loss": 0.1, "nonfinite_steps": 1},
            {"step": 3, "loss": 0.1, "nonfinite_steps": 1, "grpo/correct": 0.75,
             "frac_reward_zero_std": 1.0},
            {"step": 3, "eval_grpo/correct": 0.625},
        ],
    )  # fmt: skip
    write_jsonl(folder / "grpo_b-metrics.jsonl", [{"step": 1, "loss": 0.0}])
    # 10 questions: SFT right on 4, the last state on 6 (2 gained), the best state on 3 (1 lost)
    verdicts = {"sft": "1111000000", "grpo": "1111110000", "grpo_best": "1110000000"}
    (folder / "correct-by-question.json").write_text(json.dumps(verdicts))
    rows = table_rows(folder)
    steps, nonfinite, right, settled, held_out, gains = rows["2026-01-01-grpo/grpo"]
    assert (steps, nonfinite, right, settled) == ("3", "2", "25 -> 75", "50 -> 100")
    assert held_out == "0: 50.0, 3: 62.5"
    assert gains.startswith("last +20.00 (") and "; _best -10.00 (" in gains
    # a run with no verdicts and no rollouts still gets its row
    assert rows["2026-01-01-grpo/grpo_b"] == ["1", "none", "–", "–", "–", "–"]


def test_gains_match_the_comparison_the_gpu_machine_wrote() -> None:
    folder = REPO_ROOT / "docs" / "gpu-runs" / "2026-12-06-grpo-loss-and-temperature"
    compare = json.loads((folder / "compare.json").read_text(encoding="utf-8"))
    by_label = {row[0]: row[1:] for row in compare["rows"]}
    # compare.json's columns: sft, grpo, grpo_b, grpo_best
    gain, interval = by_label["EX - first run (paired)"], by_label["paired 95% CI"]
    rows = table_rows(folder)
    low, high = json.loads(interval[1])
    expected_last = f"last {gain[1]:+.2f} ({low:+.2f}, {high:+.2f})"
    low, high = json.loads(interval[3])
    expected_best = f"_best {gain[3]:+.2f} ({low:+.2f}, {high:+.2f})"
    assert rows[f"{folder.name}/grpo"][-1] == f"{expected_last}; {expected_best}"
    low, high = json.loads(interval[2])
    assert rows[f"{folder.name}/grpo_b"][-1] == f"last {gain[2]:+.2f} ({low:+.2f}, {high:+.2f})"
