"""Where a running studio waits: the stacks of its threads, asked for with SIGUSR1."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

QUIET_S = 0.5


def dump_studio_stacks(process: subprocess.Popen, log_path: Path, timeout_s: float = 10.0) -> str:
    """Send SIGUSR1 to a studio started by `python app.py` (it writes every thread's stack to
    stderr, studio.commands.serve) and return what its log gained: the dump, once the log has
    stopped growing, or whatever came within `timeout_s`."""
    offset = log_path.stat().st_size
    process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout_s
    text, last_change = "", time.monotonic()
    while time.monotonic() < deadline:
        with open(log_path, encoding="utf-8", errors="replace") as log:
            log.seek(offset)
            now = log.read()
        if now != text:
            text, last_change = now, time.monotonic()
        elif "most recent call first" in text and time.monotonic() - last_change > QUIET_S:
            break
        time.sleep(0.1)
    return text
