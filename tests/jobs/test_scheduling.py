"""Concurrency rules: one GPU job at a time, a total cap, and atomic claiming across supervisors."""

from __future__ import annotations

import re
from collections import Counter

from studio.jobs import QUEUED, RUNNING, SUCCEEDED, get_job


def test_gpu_jobs_run_one_at_a_time_while_cpu_jobs_proceed(
    workspace, submit_sample, supervisors, wait_state, eventually
) -> None:
    supervisors(max_concurrent=3)
    first = submit_sample("loop")
    second = submit_sample("loop")
    cpu = submit_sample("succeed", uses_gpu=False)
    wait_state(first.id, RUNNING)
    assert wait_state(cpu.id, SUCCEEDED)  # not held back by the busy GPU
    assert get_job(workspace, second.id).state == QUEUED
    (first.run_dir / "release").touch()
    done_first = wait_state(first.id, SUCCEEDED)
    started_second = wait_state(second.id, RUNNING)
    assert started_second.started_at >= done_first.finished_at
    (second.run_dir / "release").touch()
    wait_state(second.id, SUCCEEDED)


def test_total_cap_holds_cpu_jobs_back(workspace, submit_sample, supervisors, wait_state) -> None:
    supervisors(max_concurrent=1)
    busy = submit_sample("loop", uses_gpu=False)
    waiting = submit_sample("succeed", uses_gpu=False)
    wait_state(busy.id, RUNNING)
    assert get_job(workspace, waiting.id).state == QUEUED
    (busy.run_dir / "release").touch()
    assert wait_state(waiting.id, SUCCEEDED).started_at >= get_job(workspace, busy.id).finished_at


def test_two_supervisors_never_start_the_same_job(
    workspace, submit_sample, supervisors, daemon, wait_state, tmp_path
) -> None:
    record = tmp_path / "starts.txt"
    jobs = [submit_sample("record", str(record), uses_gpu=False) for _ in range(8)]
    daemon("--max-jobs", "4")  # another process ...
    supervisors(max_concurrent=4)  # ... and this one, racing for the same queue
    supervisors(max_concurrent=4)  # ... and a second thread here
    for job in jobs:
        wait_state(job.id, SUCCEEDED, timeout=30)
    starts = Counter(line.split()[0] for line in record.read_text().splitlines())
    assert starts == Counter({str(job.id): 1 for job in jobs})
    for job in jobs:
        headers = re.findall(r"^\[studio\] job \d+ ", job.log_path.read_text(), flags=re.MULTILINE)
        assert headers == [f"[studio] job {job.id} "]
