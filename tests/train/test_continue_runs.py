"""A finished training run is never trained further in place: `train --resume` refuses it,
`train --continue` starts a new run from its adapter, and no training writes into a folder
that already holds an adapter (the tiny Qwen2 model, real jobs)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from studio.cli import main
from studio.errors import StudioError
from studio.jobs import FAILED, submit, wait
from studio.jobs.daemon import ensure_background_supervisor
from studio.jobs.kinds import TRAIN, FinishedRunError, resume_run
from studio.jobs.rundir import RunDir
from studio.train.config import TrainConfig
from studio.train.continuation import continuation_config
from studio.train.preflight import preflight
from studio.train.worker import train, write_run_config
from studio.workspace import Workspace

from .conftest import read_summary


def digest(folder: Path) -> dict[str, str]:
    """Each file of `folder` -> its SHA-256."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def train_from_cli(ws: Workspace, tmp_path: Path, *args: str) -> Path:
    """Run `python -m studio train ARGS` in the foreground; the run folder of its job."""
    assert main(["train", *args, "--workspace", str(ws.root)]) == 0
    return max(ws.runs_dir.iterdir(), key=lambda folder: folder.stat().st_mtime)


def test_a_finished_run_is_continued_as_a_new_run_and_its_adapter_stays(
    toy_workspace: Workspace,
    tiny_config: Callable[..., TrainConfig],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = tmp_path / "sft.yaml"
    config.write_text(yaml.safe_dump(tiny_config(max_steps=2).to_dict()))
    first = train_from_cli(toy_workspace, tmp_path, str(config))
    adapter = RunDir(first).saved_adapter()
    assert adapter is not None and read_summary(first)["status"] == "succeeded"
    before = digest(adapter)
    capsys.readouterr()

    code = main(["train", "--resume", first.name, "--workspace", str(toy_workspace.root)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"training run {first.name} finished (succeeded)" in err
    assert f"python -m studio train --continue {first.name}" in err
    with pytest.raises(FinishedRunError):
        resume_run(toy_workspace, first.name, TRAIN)
    assert main(["jobs", "resume", first.name, "--workspace", str(toy_workspace.root)]) == 2

    second = train_from_cli(
        toy_workspace, tmp_path, "--continue", first.name, "--set", "max_steps=1"
    )
    assert second != first and read_summary(second)["status"] == "succeeded"
    continued = yaml.safe_load(RunDir(second).train_config.read_text())
    assert continued["adapter_name_or_path"] == [str(adapter)]
    assert continued["max_steps"] == 1 and continued["dataset"] == ["toy_sft"]
    assert read_summary(second)["adapter"] == str(RunDir(second).adapter_dir.resolve())
    assert digest(adapter) == before
    assert (
        digest(RunDir(second).adapter_dir)["adapter_model.safetensors"]
        != (before["adapter_model.safetensors"])
    )
    assert len([f for f in toy_workspace.runs_dir.iterdir() if f.is_dir()]) == 2


def test_only_a_succeeded_run_is_continued(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig]
) -> None:
    with pytest.raises(StudioError, match="run 'no-such-run' not found"):
        continuation_config(toy_workspace, "no-such-run")
    run_dir = toy_workspace.new_run_dir("sft")
    write_run_config(run_dir, tiny_config())
    job = submit(toy_workspace, TRAIN.name, ["false"], run_dir, title="fails at once")
    ensure_background_supervisor(toy_workspace)
    assert wait(toy_workspace, job.id).state == FAILED
    with pytest.raises(StudioError, match=r"is failed and saved no adapter.*resume it"):
        continuation_config(toy_workspace, run_dir.name)


def test_training_never_writes_into_a_folder_holding_an_adapter(
    toy_workspace: Workspace, tiny_config: Callable[..., TrainConfig], tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "adapter_config.json").write_text("{}")
    (taken / "adapter_model.safetensors").write_bytes(b"the weights of another run")
    before = digest(taken)
    with pytest.raises(StudioError, match=r"'output_dir': .*taken already holds an adapter"):
        preflight(toy_workspace, tiny_config(output_dir=str(taken)))

    run_dir = toy_workspace.new_run_dir("sft")
    write_run_config(run_dir, tiny_config())
    RunDir(run_dir).adapter_dir.mkdir()
    (RunDir(run_dir).adapter_dir / "adapter_config.json").write_text("{}")
    with pytest.raises(StudioError, match="already holds an adapter, which training never"):
        train(run_dir)
    assert digest(taken) == before
    assert not (run_dir / "metrics.jsonl").exists()
