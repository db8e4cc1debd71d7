"""Worker-side helpers for code that runs as a job (training, pair generation, evaluation).

A job's entry point wraps its work in `run_worker(run_dir, main)`:

    def main() -> None:
        for step in range(steps):
            if cancel_requested():
                save_checkpoint()
                return
            append_jsonl(RunDir(run_dir).metrics, {"step": step, "loss": loss})

    raise SystemExit(run_worker(run_dir, main))

`run_worker` turns SIGTERM/SIGINT into a cancellation flag (the job supervisor sends
SIGTERM on cancel and SIGKILL only after a grace period), and writes
`<run_dir>/status.json` at the end so the outcome is known even if no supervisor was
alive to see the exit.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from studio.errors import StudioError
from studio.fsutil import atomic_write_json
from studio.jobs.rundir import RunDir

JOB_ID_ENV = "STUDIO_JOB_ID"
EXIT_OK, EXIT_FAILED, EXIT_CANCELLED = 0, 1, 3

_cancel_flag = threading.Event()


def cancel_requested() -> bool:
    """True once the worker was asked to stop (SIGTERM or SIGINT); poll it between steps."""
    return _cancel_flag.is_set()


def _request_cancel(signum: int, _frame: FrameType | None) -> None:
    first = not _cancel_flag.is_set()
    _cancel_flag.set()
    if first:
        name = signal.Signals(signum).name
        # os.write, not print: a signal handler may interrupt a print on the same stream
        os.write(
            2,
            f"[studio] cancellation requested ({name}); stopping at the next safe point\n".encode(),
        )


def is_main_rank() -> bool:
    """Under `accelerate launch`/torchrun only rank 0 reports the outcome."""
    return os.environ.get("RANK", "0") == "0"


def _job_id() -> int | None:
    value = os.environ.get(JOB_ID_ENV)
    return int(value) if value and value.isdigit() else None


def write_status(run_dir: Path, status: str, error: str | None, exit_code: int) -> None:
    """Atomically write `<run_dir>/status.json` (rank 0 only)."""
    if not is_main_rank():
        return
    atomic_write_json(
        RunDir(run_dir).status,
        {
            "status": status,
            "error": error,
            "exit_code": exit_code,
            "job_id": _job_id(),
            "pid": os.getpid(),
            "finished_at": time.time(),
        },
    )


def _outcome(main: Callable[[], None]) -> tuple[str, str | None, int]:
    """Run `main` and classify how it ended: (status, error, exit code)."""
    try:
        main()
    except StudioError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return "failed", str(error), EXIT_FAILED
    except SystemExit as stop:
        if stop.code in (None, 0):
            return (
                ("cancelled", None, EXIT_CANCELLED)
                if cancel_requested()
                else ("succeeded", None, EXIT_OK)
            )
        return "failed", f"worker exited with {stop.code!r}", EXIT_FAILED
    except Exception as error:  # noqa: BLE001 - every failure must reach status.json
        traceback.print_exc()
        sys.stderr.flush()
        return "failed", f"{type(error).__name__}: {error}", EXIT_FAILED
    if cancel_requested():
        return "cancelled", None, EXIT_CANCELLED
    return "succeeded", None, EXIT_OK


def run_worker(run_dir: Path, main: Callable[[], None]) -> int:
    """Run `main` as a job body; write status.json; return 0 (ok), 1 (failed) or 3 (cancelled).

    SIGTERM and SIGINT only set the flag `cancel_requested()` reports, so `main` decides
    when to stop (e.g. after saving a checkpoint). A StudioError's message is recorded as
    is; any other exception as "Type: message", with its traceback printed to stderr
    (the job's log).
    """
    _cancel_flag.clear()
    previous = {sig: signal.signal(sig, _request_cancel) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        status, error, exit_code = _outcome(main)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sys.stdout.flush()
    write_status(run_dir, status, error, exit_code)
    return exit_code


def read_status(run_dir: Path) -> dict[str, Any] | None:
    """The worker's `status.json`, or None when absent or unreadable."""
    try:
        data = json.loads(RunDir(run_dir).status.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append `record` as one JSON line with a single write, so a tailing reader never
    sees half a line from a live writer. Flushed to the OS (survives a crash of the
    worker), not fsynced (a power cut may lose the tail, which `read_jsonl` tolerates).
    """
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_jsonl_from(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Records from byte `offset` on, and the offset after the last complete line.

    An unterminated last line (a writer mid-write, or a torn tail) is left for the next
    call; a malformed complete line raises StudioError naming the file and line.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    records = []
    for number, raw in enumerate(data[:end].splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            records.append(json.loads(raw))
        except json.JSONDecodeError as error:
            where = f"line {number}" if offset == 0 else f"line {number} after byte {offset}"
            raise StudioError(
                f"{path}: {where} is not valid JSON ({error.msg}); "
                "fix or delete that line (each line must be one JSON object)"
            ) from error
    return records, offset + end


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """All complete records of a JSONL file ([] when it does not exist); a torn last line is ignored."""
    return read_jsonl_from(path)[0]


def last_jsonl_record(path: Path, chunk: int = 65536) -> dict[str, Any] | None:
    """The last complete record of a JSONL file, read from its end (None when there is none)."""
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return None
    start = max(0, size - chunk)
    while True:
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read()
        lines = [line for line in data[: data.rfind(b"\n") + 1].splitlines() if line.strip()]
        if start > 0:
            lines = lines[1:]  # the first line may be cut by the seek
        if lines or start == 0:
            break
        start = max(0, start - chunk)
    for raw in reversed(lines):
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            continue
    return None
