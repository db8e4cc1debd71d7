"""The pairs CLI verbs as subprocesses on a mined workspace (generate is covered by the
kill-and-resume test in test_mining.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from studio.pairs.curate import get_pair, pair_history
from studio.workspace import Workspace

from .conftest import TINY_LIMIT

Cli = Callable[..., subprocess.CompletedProcess[str]]


def test_list_show_set_export_summary_and_build(
    mined: tuple[Workspace, Path], studio_cli: Cli
) -> None:
    ws, run_dir = mined
    listed = [
        json.loads(line) for line in studio_cli(ws, "pairs", "list", "--json").stdout.splitlines()
    ]
    assert [p["status"] for p in listed] == ["pending"] * TINY_LIMIT
    first, second = listed[0]["id"], listed[1]["id"]
    assert studio_cli(ws, "pairs", "list", "--status", "accepted", "--json").stdout == ""

    shown = json.loads(studio_cli(ws, "pairs", "show", str(first)).stdout)
    assert shown["gold_sql"] == listed[0]["gold_sql"] and shown["history"] == []
    assert shown["question_vote"] == {  # the tiny model's samples all fail
        "sample": 0,
        "votes": 0,
        "executed": 0,
        "distinct_results": 0,
        "n": 2,
        "correct": False,
    }

    gold_again = f"SELECT * FROM ({listed[1]['gold_sql']}) AS t"
    refused = studio_cli(
        ws,
        "pairs",
        "set",
        str(second),
        "--rejected",
        gold_again,
        "--status",
        "accepted",
        check=False,
    )
    assert refused.returncode == 2 and "stays needs_review" in refused.stderr
    assert get_pair(ws, second).status == "needs_review"
    edited = json.loads(
        studio_cli(ws, "pairs", "set", str(second), "--rejected", "SELECT 0").stdout
    )
    assert (edited["status"], edited["rejected_label"]) == ("edited", "wrong_result")
    studio_cli(ws, "pairs", "set", str(first), "--status", "accepted")
    assert [h.actor for h in pair_history(ws, first)] == ["cli"]
    bad = studio_cli(ws, "pairs", "show", "999", check=False)
    assert bad.returncode == 2 and "no pair 999" in bad.stderr

    summary = json.loads(studio_cli(ws, "pairs", "summary").stdout)
    assert summary["by_status"] == {"accepted": 1, "edited": 1, "pending": TINY_LIMIT - 2}
    exported = json.loads(studio_cli(ws, "pairs", "export", "--name", "cli_pairs").stdout)
    assert exported["rows"] == 2
    assert json.loads(ws.dataset_info_path.read_text())["cli_pairs"]["ranking"] is True
    assert (
        json.loads(
            studio_cli(ws, "pairs", "export", "--name", "cli_all", "--include-pending").stdout
        )["rows"]
        == TINY_LIMIT
    )

    built = json.loads(
        studio_cli(ws, "pairs", "build", run_dir.name, "--strategy", "onpolicy").stdout
    )
    assert built["skipped"]["onpolicy"] == {"no_correct_candidate": TINY_LIMIT}
