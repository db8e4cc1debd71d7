"""bench/gpu/bench_norms.py on CPU: one line per (shape, implementation), and on the CPU the
studio's lean norm is bit-identical to transformers' (its fused CUDA path is measured on the
GPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "bench" / "gpu" / "bench_norms.py"


def test_prints_both_implementations_for_each_norm_of_a_layer() -> None:
    command = [sys.executable, str(SCRIPT), "--device", "cpu", "--tokens", "32", "--iters", "2"]
    done = subprocess.run(
        command, check=False, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [(line["shape"], line["implementation"]) for line in lines] == [
        (shape, impl)
        for shape in ("hidden", "query heads", "key heads")
        for impl in ("transformers", "studio")
    ]
    assert [line["size"] for line in lines[::2]] == [[32, 2048], [32, 32, 128], [32, 4, 128]]
    for line in lines:
        assert line["figure"] == "rms_norm" and line["device"] == "cpu"
        assert line["forward_ms"] > 0 and line["forward_backward_ms"] > 0
        assert line["out_differs_fraction"] == 0.0 and line["grad_max_rel_diff"] == 0.0
