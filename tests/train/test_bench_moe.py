"""bench/gpu/bench_moe.py on CPU with the tiny Qwen3-MoE: both the studio's SFT trainer and the
plain PEFT loop train the one in-memory model at every length (the studio with its lean experts
function and every --skip-layers value, the plain loop with transformers' grouped_mm), and an
OOM is reported, not raised."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "gpu" / "bench_moe.py"
LENGTHS = (64, 128)


def _bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_moe", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_modes_train_the_tiny_moe_at_every_length_on_cpu(builtin_tokenizer_dir: Path) -> None:
    command = [
        sys.executable,
        str(SCRIPT),
        "--arch",
        "tiny-qwen3-moe",
        "--device",
        "cpu",
        "--lengths",
        ",".join(map(str, LENGTHS)),
        "--steps",
        "3",
        "--mode",
        "both",
        "--skip-layers",
        "0,1",
        "--tokenizer",
        str(builtin_tokenizer_dir),
    ]
    done = subprocess.run(
        command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [(line["mode"], line["length"], line["skip_layers"]) for line in lines] == [
        *(("studio", length, skip) for length in LENGTHS for skip in (0, 1)),
        *(("plain", length, 0) for length in LENGTHS),
    ]
    # once per studio run with skip 1 (the tiny model has 2 decoder layers)
    assert done.stderr.count(
        "gradient checkpointing: 1 of 2 layers recompute, the last 1 keep their activations"
    ) == len(LENGTHS)
    for line in lines:
        assert line["figure"] == "moe_sft" and line["arch"] == "tiny-qwen3-moe"
        assert line["status"] == "ok", line
        assert line["tokens_per_s"] > 0 and line["steps"] == 3 and len(line["step_s"]) == 3
        assert line["device"] == "cpu" and line["peak_gib"] is None
        assert line["config"]["lora_target"] == ["q_proj", "k_proj"]
        assert (
            line["experts_implementation"]
            == {"studio": "studio_grouped_mm", "plain": "grouped_mm"}[line["mode"]]
        )


def test_an_out_of_memory_run_is_recorded_and_the_next_goes_on() -> None:
    bench = _bench_module()

    def out_of_memory() -> list[float]:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")

    failed = bench.measure(out_of_memory, 32_768, "cpu")
    assert failed["status"] == "oom" and failed["tokens_per_s"] is None
    assert "out of memory" in failed["error"]
    fine = bench.measure(lambda: [9.0, 1.0, 2.0], 300, "cpu")
    assert (
        fine["status"] == "ok" and fine["tokens_per_s"] == 200.0
    )  # the first (warm-up) step is left out


def test_profile_reports_the_last_steps_top_operators_and_leaves_it_out_of_the_times(
    builtin_tokenizer_dir: Path,
) -> None:
    command = [
        sys.executable,
        str(SCRIPT),
        "--arch",
        "tiny-qwen3-moe",
        "--device",
        "cpu",
        "--lengths",
        "64",
        "--steps",
        "3",
        "--mode",
        "studio",
        "--profile",
        "5",
        "--tokenizer",
        str(builtin_tokenizer_dir),
    ]
    done = subprocess.run(
        command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run, profile = (json.loads(line) for line in done.stdout.splitlines() if line.strip())
    assert (
        run["figure"] == "moe_sft" and run["status"] == "ok" and len(run["step_s"]) == 2
    )  # the third profiled
    assert (
        profile["figure"] == "moe_profile"
        and profile["length"] == 64
        and profile["skip_layers"] == 0
    )
    total, *top = profile["top"]
    assert total["op"] == "all" and len(top) == 5
    assert [row["ms"] for row in top] == sorted((row["ms"] for row in top), reverse=True)
    assert 0 < sum(row["ms"] for row in top) <= total["ms"]
    assert any(row["op"].startswith("aten::") for row in top)
