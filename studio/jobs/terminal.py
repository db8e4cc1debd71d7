"""A followed job's progress in the terminal: a bar (phase, N/M, rate, ETA) under the job's log.

On a terminal the bar is redrawn in place below the log lines; elsewhere (a pipe, a file, CI)
it is printed as a line when the phase changes and then at most every `PLAIN_EVERY_S`.

    display = ProgressDisplay(sys.stderr)
    display.log("a line of the job's log")
    display.show(snapshot(ws, job_id))
    display.close()
"""

from __future__ import annotations

import shutil
import time
from typing import TextIO

from studio.jobs.monitor import Snapshot, format_duration, format_rate

BAR_WIDTH = 24
PLAIN_EVERY_S = 10.0


def progress_bar(snap: Snapshot, width: int = BAR_WIDTH) -> str:
    """`step 3/8 |█████████░░░░░░░░░░░░░░░| 38% · 1.2 steps/s · ETA 0:05` (no bar without a
    count; the state while the job is not running)."""
    parts = []
    if snap.state != "running" or not snap.phase:
        parts.append(snap.state)
    if snap.phase:
        parts.append(snap.progress)
    fraction = snap.fraction
    if fraction is not None:
        filled = int(round(fraction * width))
        parts[-1] += f" |{'█' * filled}{'░' * (width - filled)}| {fraction:.0%}"
    if snap.rate is not None and snap.state == "running":
        parts.append(f"{format_rate(snap.rate)} {snap.unit}/s".replace(" /s", "/s"))
    if snap.eta_s is not None:
        parts.append(f"ETA {format_duration(snap.eta_s)}")
    return " · ".join(parts)


class ProgressDisplay:
    """Log lines and a progress bar on one stream."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.shown = ""  # the bar drawn (live) or seen (plain) last
        self.printed = ""  # the bar printed last (plain)
        self.phase: str | None = None
        self.printed_at = 0.0

    def log(self, line: str) -> None:
        """Print a log line above the bar."""
        self._erase()
        print(line, file=self.stream, flush=True)
        self._draw()

    def show(self, snap: Snapshot) -> None:
        """Show the job's progress now."""
        bar = progress_bar(snap)
        if self.live:
            self._erase()
            self.shown = bar[: shutil.get_terminal_size().columns - 1]
            self._draw()
            return
        now = time.monotonic()
        new_phase = snap.phase != self.phase
        if new_phase and self.phase and self.shown != self.printed:  # how it ended: step 9/9
            print(self.shown, file=self.stream, flush=True)
        if snap.phase and (
            new_phase or (bar != self.printed and now - self.printed_at >= PLAIN_EVERY_S)
        ):
            print(bar, file=self.stream, flush=True)
            self.printed, self.printed_at = bar, now
        self.phase, self.shown = snap.phase, bar

    def close(self) -> None:
        """Leave the last bar on its own line."""
        if self.live and self.shown:
            print(file=self.stream, flush=True)
            self.shown = ""

    def _erase(self) -> None:
        if self.live and self.shown:
            self.stream.write("\r\033[K")

    def _draw(self) -> None:
        if self.live and self.shown:
            self.stream.write(self.shown)
            self.stream.flush()
