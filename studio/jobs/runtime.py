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

Every worker reports what it is doing through `ProgressWriter` into `<run_dir>/progress.jsonl`
(one JSON line per update); `studio.jobs.monitor` reads it back for the studio and the CLI:

    progress = ProgressWriter(run_dir)
    progress.phase(LOADING)
    progress.phase(GENERATING, total=len(questions), unit="questions")
    progress.advance(done)
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

# the phases workers report (progress.jsonl's "phase")
LOADING = "loading the model"
TOKENIZING = "tokenizing"
REFERENCE_PASS = "reference pass"
TRAINING = "training"
GENERATING = "generating"
SCORING = "scoring"
SAVING = "saving"
PROGRESS_INTERVAL_S = 0.5  # the most often a count is written (phase changes always are)

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
    """All complete records of a JSONL file ([] when it does not exist); a torn last line is
    ignored."""
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


class ProgressWriter:
    """Appends the worker's phase and count to `<run_dir>/progress.jsonl` (rank 0 only).

    Each record: {"job", "phase", "done", "total", "unit", "rate" (per second over the phase),
    "eta_s", "time"}. A phase change is written at once and echoed to the log; counts at most
    every `interval_s`, except the last of a phase.
    """

    def __init__(self, run_dir: Path, interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self.path = RunDir(run_dir).progress
        self.interval_s = interval_s
        self.job = _job_id()
        self.name = ""
        self.total: int | None = None
        self.unit = ""
        self.done = 0
        self._start_done = 0
        self._started = time.monotonic()
        self._written = 0.0

    def phase(self, name: str, total: int | None = None, unit: str = "", done: int = 0) -> None:
        """Enter phase `name` (with `total` units of work to do when known, `done` of them done)."""
        self.name, self.total, self.unit = name, total, unit
        self.done = self._start_done = done
        self._started = time.monotonic()
        count = f" ({done}/{total} {unit})".rstrip() if total is not None else ""
        if is_main_rank():
            print(f"[studio] {name}{count}", flush=True)
        self._write()

    def advance(self, done: int) -> None:
        """`done` units of the current phase are done (a running total, not an increment)."""
        self.done = done
        now = time.monotonic()
        if now - self._written >= self.interval_s or (
            self.total is not None and done >= self.total
        ):
            self._write()

    def rate(self) -> float | None:
        """Units per second since the phase began (None before the first unit)."""
        elapsed = time.monotonic() - self._started
        new = self.done - self._start_done
        return new / elapsed if new > 0 and elapsed > 0 else None

    def _write(self) -> None:
        self._written = time.monotonic()
        if not is_main_rank():
            return
        rate = self.rate()
        eta = (
            max(self.total - self.done, 0) / rate
            if rate is not None and self.total is not None
            else None
        )
        append_jsonl(
            self.path,
            {
                "job": self.job,
                "phase": self.name,
                "done": self.done if self.total is not None else None,
                "total": self.total,
                "unit": self.unit,
                "rate": round(rate, 4) if rate is not None else None,
                "eta_s": round(eta, 1) if eta is not None else None,
                "time": round(time.time(), 3),
            },
        )
