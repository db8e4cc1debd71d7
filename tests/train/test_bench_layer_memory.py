"""bench/bench_layer_memory.py on the tiny Qwen3-MoE: one line per variant, and each of the
studio's memory levers keeps strictly less than the variant before it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "bench_layer_memory.py"


def test_each_memory_lever_keeps_less_for_the_backward() -> None:
    command = [
        sys.executable,
        str(SCRIPT),
        "--arch",
        "tiny-qwen3-moe",
        "--tokens",
        "64",
        "--scale-to",
        "128",
    ]
    done = subprocess.run(
        command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [line["variant"] for line in lines] == [
        "grouped_mm",
        "studio_grouped_mm",
        "studio_grouped_mm+lean_norms",
        "studio_grouped_mm+lean_norms+recompute_projections",
    ]
    kept = [line["kept_bytes"] for line in lines]
    assert kept[0] > kept[1] > kept[2] > kept[3] > 0, kept


def test_lora_dropout_keeps_more_in_every_variant() -> None:
    def kept(*extra: str) -> list[int]:
        command = [
            sys.executable,
            str(SCRIPT),
            "--arch",
            "tiny-qwen3-moe",
            "--tokens",
            "64",
            *extra,
        ]
        done = subprocess.run(
            command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return [json.loads(line)["kept_bytes"] for line in done.stdout.splitlines() if line.strip()]

    without, with_dropout = kept(), kept("--lora-dropout", "0.05")
    assert len(without) == len(with_dropout) == 4
    assert all(dropped > plain for dropped, plain in zip(with_dropout, without, strict=True)), (
        with_dropout,
        without,
    )
