"""bench/bench_ex_by_hardness.py on the SpiderMan slice: EX and paired differences per Spider
hardness level, from a correct-by-question.json."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

from studio.sql.hardness import spider_hardness

from ..conftest import FIXTURES, REPO_ROOT

SCRIPT = REPO_ROOT / "bench" / "bench_ex_by_hardness.py"


def run_bench(verdicts: Path, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(verdicts), "--data", str(data)],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ex_and_paired_differences_per_hardness_level(tmp_path: Path) -> None:
    data = tmp_path / "spiderman"
    data.mkdir()
    shutil.copy(FIXTURES / "spiderman" / "test_queries.csv", data)
    (data / "sqlite.tar.xz").write_bytes(b"")  # a full copy's layout; only questions are read
    with open(data / "test_queries.csv", encoding="utf-8") as handle:
        levels = [spider_hardness(row["sql"]) for row in csv.DictReader(handle)]
    # the first model right everywhere; the second wrong on every "hard" question
    runs = {"sft": "1" * len(levels), "grpo": "".join("0" if h == "hard" else "1" for h in levels)}
    verdicts = tmp_path / "correct-by-question.json"
    verdicts.write_text(json.dumps(runs))
    done = run_bench(verdicts, data)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    hard = levels.count("hard")
    assert hard and sum(result["questions"].values()) == len(levels) == 103
    assert result["questions"]["hard"] == hard
    assert result["ex"]["sft"] == {level: 100.0 for level in result["questions"]}
    assert result["ex"]["grpo"]["hard"] == 0.0 and result["ex"]["grpo"]["easy"] == 100.0
    against = result["vs_sft"]["grpo"]
    assert against["hard"]["difference"] == -100.0 and against["hard"]["lost"] == hard
    assert against["medium"]["difference"] == 0.0 and against["medium"]["lost"] == 0
    assert "sft" not in result["vs_sft"]


def test_verdicts_of_another_length_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "spiderman"
    data.mkdir()
    shutil.copy(FIXTURES / "spiderman" / "test_queries.csv", data)
    (data / "sqlite.tar.xz").write_bytes(b"")
    verdicts = tmp_path / "correct-by-question.json"
    verdicts.write_text(json.dumps({"sft": "101"}))
    done = run_bench(verdicts, data)
    assert done.returncode != 0 and "sft: not one verdict per test question (103)" in done.stderr
