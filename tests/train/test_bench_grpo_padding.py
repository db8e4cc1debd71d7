"""bench/bench_grpo_padding.py on the demo workspace: the tokens a rollout's forward passes
process under TRL's layout and grouped by length, counted from the dataset's real prompts."""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path

from studio.data.importers.demo import open_workspace
from studio.data.registry import load_examples
from studio.train.config import config_from_mapping, dump_config

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "bench_grpo_padding.py"


def test_grouped_micro_batches_are_padded_to_their_own_longest_rows() -> None:
    spec = importlib.util.spec_from_file_location("bench_grpo_padding", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = [(100, 5), (10, 2), (100, 5), (10, 2)]
    rng = random.Random(0)
    # TRL: 4 rows at the rollout's 100 + 5; one step of both micro-batches grouped: 2 rows at
    # 10 + 2, 2 at 100 + 5
    assert bench.padded_tokens(rows, 2, 2, rng) == (4 * 105, 2 * 12 + 2 * 105)
    # a step of one micro-batch each: grouped only as the shuffle drew them
    assert bench.padded_tokens(rows, 2, 1, rng)[1] in (2 * 12 + 2 * 105, 4 * 105)


def test_the_bench_counts_a_rollout_of_the_configs_size(
    tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    ws = open_workspace(tmp_path / "ws")
    config = tmp_path / "grpo.yaml"
    keys = {
        "model_name_or_path": str(tiny_qwen2_dir),
        "stage": "grpo",
        "dataset": "demo_train",
        "num_generations": 2,
        "per_device_train_batch_size": 4,
        "steps_per_generation": 2,
    }
    config.write_text(dump_config(config_from_mapping(keys)))
    command = [sys.executable, str(SCRIPT), str(config), "--workspace", str(ws.root)]
    command += ["--rollouts", "5"]
    done = subprocess.run(
        command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["questions"] == len(load_examples(ws, "demo_train"))
    assert result["rollout"] == {
        "questions": 4,
        "answers": 8,
        "micro_batches": 2,
        "micro_batches_a_step": 1,
    }
    assert result["tokens_real"] <= result["tokens_grouped"] <= result["tokens_trl_layout"]
    assert result["grouped_over_trl"] == round(
        result["tokens_grouped"] / result["tokens_trl_layout"], 2
    )
