"""Worker-side helpers, in this process: run_worker's outcomes and signals, JSONL streams."""

from __future__ import annotations

import json
import os
import signal
import sys

import pytest

from studio.errors import StudioError
from studio.jobs.runtime import (
    append_jsonl,
    cancel_requested,
    last_jsonl_record,
    read_jsonl,
    read_jsonl_from,
    run_worker,
)


def _status(run_dir) -> dict:
    return json.loads((run_dir / "status.json").read_text())


def test_sigterm_sets_the_flag_and_the_worker_ends_cancelled(tmp_path, capfd) -> None:
    seen = []

    def main() -> None:
        seen.append(cancel_requested())
        os.kill(os.getpid(), signal.SIGTERM)  # would end the process without run_worker's handler
        seen.append(cancel_requested())

    assert run_worker(tmp_path, main) == 3
    assert seen == [False, True]
    assert _status(tmp_path)["status"] == "cancelled"
    assert "cancellation requested (SIGTERM)" in capfd.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored


def test_outcomes_and_exit_codes(tmp_path, capfd) -> None:
    def studio_error() -> None:
        raise StudioError("config.yaml: key 'lora_rank' must be a positive integer, got -1")

    def crash() -> None:
        {}["missing"]

    assert run_worker(tmp_path, lambda: None) == 0
    assert (_status(tmp_path)["status"], _status(tmp_path)["error"]) == ("succeeded", None)
    assert run_worker(tmp_path, studio_error) == 1
    assert (
        _status(tmp_path)["error"]
        == "config.yaml: key 'lora_rank' must be a positive integer, got -1"
    )
    assert run_worker(tmp_path, crash) == 1
    assert _status(tmp_path)["error"] == "KeyError: 'missing'"
    assert "Traceback" in capfd.readouterr().err
    assert run_worker(tmp_path, lambda: sys.exit(5)) == 1
    assert _status(tmp_path)["error"] == "worker exited with 5"
    assert not cancel_requested()  # each run starts with a clear flag


def test_jsonl_round_trip_tolerates_a_torn_last_line(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    assert read_jsonl(path) == [] and last_jsonl_record(path) is None
    for step in range(3):
        append_jsonl(path, {"step": step, "loss": 0.5, "note": "é"})
    with open(path, "a") as handle:
        handle.write('{"step": 3, "lo')  # a writer caught mid-line
    assert [record["step"] for record in read_jsonl(path)] == [0, 1, 2]
    assert last_jsonl_record(path) == {"step": 2, "loss": 0.5, "note": "é"}
    _, offset = read_jsonl_from(path)
    with open(path, "a") as handle:
        handle.write('ss": 0.25}\n')
    more, _ = read_jsonl_from(path, offset)
    assert more == [{"step": 3, "loss": 0.25}]


def test_last_record_found_across_read_chunks(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"text": "x" * 300})
    append_jsonl(path, {"text": "y" * 300})
    assert last_jsonl_record(path, chunk=64) == {"text": "y" * 300}


def test_malformed_line_in_the_middle_is_named(tmp_path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 0}\nnot json\n{"step": 2}\n')
    with pytest.raises(StudioError, match=r"metrics.jsonl: line 2 is not valid JSON"):
        read_jsonl(path)
