"""The progress bar printed when the CLI follows a job into a file or a pipe."""

from __future__ import annotations

import io
from typing import Any

from studio.jobs.monitor import Snapshot
from studio.jobs.terminal import ProgressDisplay


def running(phase: str, done: int | None = None, total: int | None = None) -> Snapshot:
    job: Any = None  # the bar reads the snapshot's own fields only
    return Snapshot(job, "running", phase, done, total, "steps", 1.0, 1.0, "")


def test_a_phase_s_last_count_is_printed_before_the_next_phase() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream)
    for done in range(10):  # polled within a second: only the phase's first count is printed
        display.show(running("training", done, 9))
    display.show(running("saving"))
    display.show(running("saving"))
    lines = stream.getvalue().splitlines()
    assert [line.split(" |")[0].split(" · ")[0] for line in lines] == [
        "step 0/9",
        "step 9/9",
        "saving",
    ]
    assert "100%" in lines[1]
