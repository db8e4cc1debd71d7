"""`python -m studio jobs`: list, inspect, cancel and follow jobs; run the supervisor daemon."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import TYPE_CHECKING

from studio.data.importers.demo import open_workspace

if TYPE_CHECKING:
    from studio.workspace import Workspace

HELP = "list, show, cancel, resume and follow background jobs (training, pairs, evaluation)"


def register(parser: argparse.ArgumentParser) -> None:
    verbs = parser.add_subparsers(dest="jobs_verb", metavar="ACTION", required=True)

    listing = verbs.add_parser("list", help="the newest jobs, newest first")
    listing.add_argument("--kind", help="only jobs of this kind (train, pairs or eval)")
    listing.add_argument(
        "--limit", type=int, default=100, help="at most this many jobs (default 100)"
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.set_defaults(func=run_list)

    show = verbs.add_parser("show", help="one job as JSON, with its last metrics record")
    show.add_argument("id", type=int)
    show.set_defaults(func=run_show)

    cancel = verbs.add_parser(
        "cancel", help="cancel a queued or running job (a trainer saves a checkpoint)"
    )
    cancel.add_argument("id", type=int)
    cancel.set_defaults(func=run_cancel)

    resume = verbs.add_parser(
        "resume",
        help="queue a stopped run again: training from its newest complete checkpoint, "
        "mining and evaluation with the questions not done yet",
    )
    resume.add_argument("run", metavar="RUN", help="run folder or name under runs/")
    resume.add_argument("--detach", action="store_true", help="print the job id and return at once")
    resume.set_defaults(func=run_resume)

    logs = verbs.add_parser("logs", help="a job's output (stdout and stderr)")
    logs.add_argument("id", type=int)
    logs.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new lines until the job ends"
    )
    logs.set_defaults(func=run_logs)

    supervise = verbs.add_parser(
        "supervise", help="run the job supervisor in the foreground until no job is left"
    )
    supervise.add_argument(
        "--poll", type=float, default=0.5, metavar="S", help="seconds between checks (default 0.5)"
    )
    supervise.add_argument(
        "--max-jobs",
        type=int,
        metavar="N",
        help="jobs running at once (default $STUDIO_MAX_JOBS or 1)",
    )
    supervise.add_argument(
        "--grace",
        type=float,
        default=120.0,
        metavar="S",
        help="seconds a cancelled job gets after SIGTERM before SIGKILL (default 120)",
    )
    supervise.add_argument(
        "--forever", action="store_true", help="keep running when no job is left"
    )
    supervise.set_defaults(func=run_supervise)


def _workspace(args: argparse.Namespace) -> Workspace:

    return open_workspace(args.workspace)


def _when(timestamp: float | None) -> str:
    return (
        datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")
        if timestamp
        else "-"
    )


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def run_list(args: argparse.Namespace) -> int:
    from studio.jobs import list_jobs, reconcile

    ws = _workspace(args)
    reconcile(ws)
    jobs = list_jobs(ws, kind=args.kind, limit=args.limit)
    if args.json:
        print(json.dumps([job.to_dict() for job in jobs], indent=2, ensure_ascii=False))
        return 0
    if not jobs:
        print(f"no jobs{f' of kind {args.kind!r}' if args.kind else ''} in {ws.root}")
        return 0
    rows = [("ID", "KIND", "STATE", "CREATED", "DURATION", "TITLE", "RUN")]
    rows += [
        (
            str(job.id),
            job.kind,
            job.state,
            _when(job.created_at),
            _duration(job.duration_s),
            job.title or "-",
            job.run_dir.name,
        )
        for job in jobs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + "  "
            + row[-1]
        )
    return 0


def run_show(args: argparse.Namespace) -> int:
    from studio.jobs import get_job, reconcile
    from studio.jobs.rundir import RunDir
    from studio.jobs.runtime import last_jsonl_record, read_status

    ws = _workspace(args)
    reconcile(ws)
    job = get_job(ws, args.id)
    data = job.to_dict()
    if job.config is None:
        data["config"] = RunDir(job.run_dir).read_config()
    data["status_file"] = read_status(job.run_dir)
    data["last_metrics"] = last_jsonl_record(job.metrics_path)
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    from studio.jobs import RUNNING, cancel, ensure_background_supervisor, get_job, supervisor_alive

    ws = _workspace(args)
    before = get_job(ws, args.id)
    job = cancel(ws, args.id)
    if before.finished:
        print(f"job {job.id} already {job.state}; nothing to cancel")
    elif job.state == RUNNING:
        if not supervisor_alive(ws):
            ensure_background_supervisor(ws)  # someone must deliver SIGTERM and record the end
        print(
            f"job {job.id}: cancel requested; it stops at its next safe point "
            f"(`python -m studio jobs show {job.id}` shows when)"
        )
    else:
        print(f"job {job.id} cancelled before it started")
    return 0


def run_resume(args: argparse.Namespace) -> int:
    from studio.jobs import exit_code, follow_in_terminal
    from studio.jobs.kinds import resume_run

    ws = _workspace(args)
    job, point = resume_run(ws, args.run)
    if point is not None:
        print("\n".join(point.report()), flush=True)
    print(f"job {job.id} queued: {job.run_dir}", flush=True)
    if args.detach:
        return 0
    return exit_code(follow_in_terminal(ws, job.id))


def run_logs(args: argparse.Namespace) -> int:
    from studio.jobs import LogFollower, get_job, log_lines, wait

    ws = _workspace(args)
    job = get_job(ws, args.id)
    if not args.follow:
        for line in log_lines(job, tail=args.tail):
            print(line)
        return 0
    follower = LogFollower(job)
    backlog = follower.new_lines(job)
    for line in backlog[-args.tail :] if args.tail is not None else backlog:
        print(line, flush=True)
    job = wait(ws, args.id, on_log=lambda line: print(line, flush=True), log_follower=follower)
    print(
        f"[studio] job {job.id} {job.state}" + (f": {job.error}" if job.error else ""),
        file=sys.stderr,
    )
    return 0


def run_supervise(args: argparse.Namespace) -> int:
    from studio.jobs import run_daemon

    return run_daemon(
        _workspace(args),
        poll_s=args.poll,
        max_concurrent=args.max_jobs,
        cancel_grace_s=args.grace,
        forever=args.forever,
    )
