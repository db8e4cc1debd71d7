"""One lookup for what a user types as a run or an adapter, one adapter listing, and the CLI
that uses them (`jobs resume`, `jobs show`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.jobs import FAILED, SUCCEEDED, Job, submit, wait
from studio.jobs.rundir import RunDir
from studio.jobs.runs import (
    CHOICES_SHOWN,
    adapter_folder,
    find_run,
    find_run_dir,
    list_adapters,
    train_runs,
)
from studio.workspace import Workspace

from .conftest import SAMPLE_WORKER


def finished_run(ws: Workspace, kind: str, prefix: str, mode: str = "succeed") -> Job:
    """A finished sample job of `kind` in a fresh `runs/<prefix>-*` folder."""
    run_dir = ws.new_run_dir(prefix)
    argv = [sys.executable, str(SAMPLE_WORKER), mode, str(run_dir)]
    return wait(ws, submit(ws, kind, argv, run_dir, title=f"sample {kind}").id)


def save_adapter(run_dir: Path, mtime: float | None = None) -> Path:
    """Give the run an adapter/ (an adapter_config.json is all the lookup reads)."""
    folder = RunDir(run_dir).adapter_dir
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    if mtime is not None:
        os.utime(folder, (mtime, mtime))
    return folder


def test_a_run_is_found_by_name_folder_or_its_adapter(workspace: Workspace) -> None:
    job = finished_run(workspace, "train", "sft")
    RunDir(job.run_dir).train_config.write_text("stage: sft\n")
    adapter = save_adapter(job.run_dir)
    assert find_run_dir(workspace, job.run_dir.name) == job.run_dir
    assert find_run_dir(workspace, str(job.run_dir)) == job.run_dir
    assert find_run_dir(workspace, str(adapter)) == job.run_dir
    assert find_run_dir(workspace, f"{job.run_dir}/../{job.run_dir.name}") == job.run_dir
    assert find_run(workspace, "train", job.run_dir.name).job.id == job.id


def test_an_unknown_run_is_an_error_naming_the_runs_of_its_kind(workspace: Workspace) -> None:
    with pytest.raises(StudioError, match="run 'nope' not found.*there are no train runs yet"):
        find_run_dir(workspace, "nope", "train")
    trained = [finished_run(workspace, "train", "sft") for _ in range(CHOICES_SHOWN + 1)]
    evaluated = finished_run(workspace, "eval", "eval")
    with pytest.raises(StudioError) as caught:
        find_run_dir(workspace, "sft-typo", "train")
    message = str(caught.value)
    assert f"neither a folder nor a run's name under {workspace.runs_dir}" in message
    assert trained[-1].run_dir.name in message and trained[0].run_dir.name not in message
    assert message.endswith(" and 1 more") and evaluated.run_dir.name not in message
    with pytest.raises(StudioError, match=f"runs: {evaluated.run_dir.name}, "):
        find_run_dir(workspace, "typo")
    with pytest.raises(StudioError, match=f"no eval job ran in .*{trained[0].run_dir.name}"):
        find_run(workspace, "eval", trained[0].run_dir.name)


def test_every_form_offers_the_same_adapters(workspace: Workspace, tmp_path: Path) -> None:
    now = time.time()
    older = finished_run(workspace, "train", "sft")
    older_adapter = save_adapter(older.run_dir)
    failed = finished_run(workspace, "train", "sft", mode="crash")
    assert failed.state == FAILED
    save_adapter(failed.run_dir)  # e.g. saved, then found non-finite: never offered
    newer = finished_run(workspace, "train", "dpo")
    elsewhere = tmp_path / "output_dir"
    elsewhere.mkdir()
    (elsewhere / "adapter_config.json").write_text("{}")
    RunDir(newer.run_dir).write_summary({"status": "succeeded", "adapter": str(elsewhere)})
    copied_old = save_adapter(workspace.new_run_dir("sft"), mtime=now - 100)
    copied_new = save_adapter(workspace.new_run_dir("sft"), mtime=now - 10)
    workspace.new_run_dir("sft")  # a folder with no adapter
    assert older.state == newer.state == SUCCEEDED
    assert list_adapters(workspace) == [
        str(elsewhere),
        str(older_adapter),
        str(copied_new),
        str(copied_old),
    ]


def test_an_adapter_is_named_by_folder_or_by_its_run(workspace: Workspace, tmp_path: Path) -> None:
    job = finished_run(workspace, "train", "sft")
    adapter = save_adapter(job.run_dir)
    assert adapter_folder(workspace, str(adapter)) == str(adapter)
    assert adapter_folder(workspace, job.run_dir.name) == str(adapter)
    assert adapter_folder(workspace, str(job.run_dir)) == str(adapter)
    plain = tmp_path / "not-an-adapter"
    plain.mkdir()
    assert adapter_folder(workspace, str(plain)) == str(plain)  # its checks say what it lacks
    with pytest.raises(
        StudioError, match=f"adapter 'sft-typo' not found.*adapters: {job.run_dir.name}$"
    ):
        adapter_folder(workspace, "sft-typo")


def test_a_run_shows_the_config_its_folder_holds(
    workspace: Workspace, jobs_cli: Callable[..., subprocess.CompletedProcess]
) -> None:
    job = finished_run(workspace, "train", "dpo")
    RunDir(job.run_dir).train_config.write_text("stage: dpo\ndataset:\n- pairs\n")
    assert job.config is None
    assert train_runs(workspace)[0].config == {"stage": "dpo", "dataset": ["pairs"]}
    shown = jobs_cli("show", str(job.id))
    assert (
        shown.returncode == 0
        and json.loads(shown.stdout)["config"] == train_runs(workspace)[0].config
    )


def test_jobs_resume_continues_any_kind_by_its_run_name(
    workspace: Workspace, jobs_cli: Callable[..., subprocess.CompletedProcess]
) -> None:
    job = finished_run(workspace, "pairs", "pairs")
    RunDir(job.run_dir).settings_config.write_text("{}")
    resumed = jobs_cli("resume", job.run_dir.name)
    assert resumed.returncode == 0, resumed.stderr
    assert f"queued: {job.run_dir}" in resumed.stdout and "hello from the worker" in resumed.stdout
    unknown = jobs_cli("resume", "pairs-typo")
    assert unknown.returncode == 2 and f"runs: {job.run_dir.name}" in unknown.stderr
