"""bench/bench_sft.py on CPU with the tiny Qwen2 model: the throughput line over the steps after
the first, and with --profile the last step's top operators, that step left out of the figures."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from studio.train.config import TrainConfig, dump_config
from studio.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "bench_sft.py"


def test_profile_adds_the_last_steps_operators_and_times_the_steps_before_it(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig], tmp_path: Path
) -> None:
    config = tmp_path / "tiny_sft.yaml"
    config.write_text(dump_config(tiny_config()))
    command = [
        sys.executable,
        str(SCRIPT),
        str(config),
        "--steps",
        "4",
        "--profile",
        "6",
        "--workspace",
        str(toy_workspace.root),
    ]
    done = subprocess.run(
        command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    throughput, profile = (
        json.loads(line) for line in done.stdout.splitlines() if line.startswith('{"figure"')
    )
    assert throughput["figure"] == "sft_throughput" and throughput["device"] == "cpu"
    assert (
        throughput["steps_timed"] == 2
    )  # steps 2 and 3: the first is warm-up, the fourth profiled
    assert throughput["tokens_per_s"] > 0
    assert profile["figure"] == "sft_profile"
    total, *top = profile["top"]
    assert total["op"] == "all" and len(top) == 6
    assert [row["ms"] for row in top] == sorted((row["ms"] for row in top), reverse=True)
    assert any(row["op"] in ("aten::mm", "aten::addmm", "aten::linear") for row in top), top
