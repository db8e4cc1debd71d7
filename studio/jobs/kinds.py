"""The three kinds of studio job and the one path that starts and resumes them.

| kind | worker (`python -m WORKER RUN_DIR`) | config | resume |
|---|---|---|---|
| `train` | studio.train.worker | config.yaml | with `--resume`, from the last whole checkpoint |
| `pairs` (mining) | studio.pairs.worker | config.json | again: the questions without candidates |
| `eval` | studio.evaluate.worker | config.json | again: the questions without predictions |

Each kind's own module checks its config, creates the run folder and writes the config there
(the only copy: the jobs table keeps none), then calls `start_run`:

    run_dir = ws.new_run_dir("eval")            # ... config.json written into it
    job = start_run(ws, EVAL, run_dir, title="EX builtin:... on demo_test")
    job, point = resume_run(ws, "sft-demo_train-20250101-120000-a1b2c3", TRAIN)

A training run that succeeded is never resumed: its adapter is final (other runs, evaluations
and exports use it); `studio.train.continuation` continues it as a new run instead.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import StudioError
from studio.jobs.daemon import ensure_background_supervisor
from studio.jobs.model import EVAL_KIND, MINE_KIND, SUCCEEDED, TRAIN_KIND
from studio.jobs.rundir import SETTINGS_CONFIG, TRAIN_CONFIG
from studio.jobs.store import resubmit, submit

if TYPE_CHECKING:
    from studio.jobs.model import Job
    from studio.train.resume import ResumePoint
    from studio.workspace import Workspace


@dataclass(frozen=True)
class JobKind:
    """One kind of job: how its command line is built and how a stopped run continues."""

    name: str  # the jobs table's `kind`
    noun: str  # in messages: "training", "mining", "evaluation"
    worker: str  # the module run as `python -m WORKER RUN_DIR`
    config_file: str  # written into the run folder before the job is queued
    resume_argv: tuple[str, ...]  # appended to the worker's command line to continue a run
    from_checkpoint: bool  # resumes from a checkpoint-N folder (checked before queueing)
    multi_gpu: bool  # may run under `accelerate launch` over several GPUs
    start_command: str  # the command that starts a new run (for messages)

    def argv(self, run_dir: Path) -> list[str]:
        """The job's command line for `run_dir`."""
        if self.multi_gpu:
            from studio.train.launch import launch_argv

            return launch_argv(self.worker, run_dir)
        return [sys.executable, "-m", self.worker, str(run_dir)]


TRAIN = JobKind(
    TRAIN_KIND,
    "training",
    "studio.train.worker",
    TRAIN_CONFIG,
    ("--resume",),
    from_checkpoint=True,
    multi_gpu=True,
    start_command="python -m studio train CONFIG",
)
MINE = JobKind(
    MINE_KIND,
    "mining",
    "studio.pairs.worker",
    SETTINGS_CONFIG,
    (),
    from_checkpoint=False,
    multi_gpu=False,
    start_command="python -m studio pairs generate --model REF --dataset NAME",
)
EVAL = JobKind(
    EVAL_KIND,
    "evaluation",
    "studio.evaluate.worker",
    SETTINGS_CONFIG,
    (),
    from_checkpoint=False,
    multi_gpu=False,
    start_command="python -m studio eval --dataset NAME",
)
KINDS = {kind.name: kind for kind in (TRAIN, MINE, EVAL)}


class FinishedRunError(StudioError):
    """A resume asked of a training run that succeeded: its adapter is final."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        super().__init__(
            f"training run {run_dir.name} finished (succeeded): its adapter is final and is never "
            "trained further in place; continue it as a new run with its own folder: "
            f"`python -m studio train --continue {run_dir.name}` (add --set max_steps=N ...)"
        )


def job_kind(name: str) -> JobKind:
    """The kind called `name`; a StudioError naming the kinds otherwise."""
    if name not in KINDS:
        raise StudioError(f"unknown job kind {name!r}; the kinds are {', '.join(KINDS)}")
    return KINDS[name]


def start_run(ws: Workspace, kind: JobKind, run_dir: Path, title: str) -> Job:
    """Queue the run in `run_dir` (its config already written there) and make sure a supervisor
    will start it (a background one is started when none is alive)."""
    job = submit(ws, kind.name, kind.argv(run_dir), run_dir, title=title)
    ensure_background_supervisor(ws)
    return job


def resume_run(
    ws: Workspace, run: str, kind: JobKind | None = None
) -> tuple[Job, ResumePoint | None]:
    """Queue a stopped (cancelled, failed or killed) run again, found by name or folder; the job
    and, for training, the checkpoint it continues from. A succeeded training run is refused
    with a FinishedRunError.

    `kind` is the kind the caller expects (None: the kind of the last job that ran there). A run
    no job ran in is started afresh from its config when `kind` is given.
    """
    from studio.jobs.runs import find_run_dir, jobs_in

    run_dir = find_run_dir(ws, run, None if kind is None else kind.name)
    previous = jobs_in(ws, run_dir)
    ran = job_kind(previous[0].kind) if previous else kind
    if ran is None:
        raise StudioError(
            f"no job ran in {run_dir}; resume it as the run it is "
            "(`train --resume RUN` or `pairs generate --resume RUN`)"
        )
    if kind is not None and ran != kind:
        raise StudioError(
            f"{run_dir.name} holds {ran.noun} jobs, not {kind.noun}; "
            f"`python -m studio jobs resume {run_dir.name}` continues it"
        )
    if previous and not previous[0].finished:
        raise StudioError(
            f"{ran.noun} run {run_dir.name} is still {previous[0].state} as job {previous[0].id}; "
            f"wait for it or cancel it (`python -m studio jobs cancel {previous[0].id}`)"
        )
    if not (run_dir / ran.config_file).is_file():
        raise StudioError(
            f"{run_dir} holds no {ran.config_file}, so there is no {ran.noun} to continue; "
            f"start one with `{ran.start_command}`"
        )
    if ran.from_checkpoint and previous and previous[0].state == SUCCEEDED:
        raise FinishedRunError(run_dir)
    point = None
    if ran.from_checkpoint:
        from studio.train.resume import find_resume_point

        point = find_resume_point(run_dir)
    if previous:
        job = resubmit(ws, previous[0].id, ran.resume_argv)
    else:
        argv = [*ran.argv(run_dir), *ran.resume_argv]
        job = submit(ws, ran.name, argv, run_dir, title=f"{ran.noun} (resumed) {run_dir.name}")
    ensure_background_supervisor(ws)
    return job, point
