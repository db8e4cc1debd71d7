"""Training as a job: the CLI (check, follow, detach), cancel with a checkpoint, resume,
a crashing worker, and resume_from_checkpoint pointed at an SFT output."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from studio.cli import main
from studio.data.importers.demo import open_workspace
from studio.errors import StudioError
from studio.jobs import cancel, get_job, wait
from studio.train.config import TrainConfig
from studio.train.preflight import preflight
from studio.workspace import Workspace

from .conftest import SFT_RUN_STEPS, read_metrics, read_summary


def write_config(tmp_path: Path, cfg: TrainConfig, **keys: object) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({**cfg.to_dict(), **keys}))
    return path


def test_check_validates_without_training(
    toy_workspace: Workspace,
    tiny_config: Callable[..., TrainConfig],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_config(tmp_path, tiny_config())
    assert main(["train", "--check", str(path), "--workspace", str(toy_workspace.root)]) == 0
    assert "valid (sft" in capsys.readouterr().out
    code = main(
        [
            "train",
            "--check",
            str(path),
            "--set",
            "dataset=toy_pairs",
            "--workspace",
            str(toy_workspace.root),
        ]
    )
    assert code == 2
    assert "'toy_pairs' is a preference dataset" in capsys.readouterr().err
    assert not any(toy_workspace.runs_dir.iterdir())


def test_cancel_saves_a_checkpoint_and_resume_continues(
    toy_workspace: Workspace,
    tiny_config: Callable[..., TrainConfig],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_config(tmp_path, tiny_config(max_steps=16, save_steps=1000, learning_rate=1e-3))
    assert main(["train", str(path), "--detach", "--workspace", str(toy_workspace.root)]) == 0
    job_id = int(capsys.readouterr().out.split()[1])
    run_dir = get_job(toy_workspace, job_id).run_dir
    deadline = time.monotonic() + 120
    while not read_metrics(run_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert read_metrics(run_dir), "the training job wrote no metrics within 120 s"
    cancel(toy_workspace, job_id)
    job = wait(toy_workspace, job_id)
    assert job.state == "cancelled", job.error
    summary = read_summary(run_dir)
    stopped = int(Path(summary["checkpoint"]).name.split("-")[1])
    assert summary["status"] == "cancelled" and 1 <= stopped < 16
    assert (run_dir / f"checkpoint-{stopped}" / "adapter_model.safetensors").is_file()
    assert read_metrics(run_dir)[-1]["step"] == stopped
    assert not (run_dir / "adapter").exists()

    assert main(["train", "--resume", run_dir.name, "--workspace", str(toy_workspace.root)]) == 0
    steps = [m["step"] for m in read_metrics(run_dir)]
    assert steps == list(range(1, 17))  # the step counter continued from the checkpoint
    summary = read_summary(run_dir)
    assert summary["status"] == "succeeded" and summary["resumed_from"] == str(
        run_dir / f"checkpoint-{stopped}"
    )
    assert "job" in capsys.readouterr().err


def test_a_crashing_worker_is_reported_failed_with_its_message(
    toy_workspace: Workspace,
    tiny_config: Callable[..., TrainConfig],
    tiny_qwen2_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text((tiny_qwen2_dir / "config.json").read_text())
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja"):
        (broken / name).write_text((tiny_qwen2_dir / name).read_text())
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    path = write_config(tmp_path, tiny_config(), model_name_or_path=str(broken))
    assert main(["train", str(path), "--workspace", str(toy_workspace.root)]) == 1
    err = capsys.readouterr().err
    assert "failed: " in err
    run_dir = next(toy_workspace.runs_dir.iterdir())
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "failed" and "Error" in status["error"]
    assert status["error"] in err


def test_resume_from_checkpoint_at_an_sft_output_is_explained(
    sft_run: Path, tiny_config: Callable[..., TrainConfig]
) -> None:
    ws = open_workspace(sft_run.parents[1])
    adapter = sft_run / "adapter"
    dpo = {"stage": "dpo", "dataset": "toy_pairs"}
    with pytest.raises(
        StudioError, match=f"is an SFT adapter.*set adapter_name_or_path: {adapter}"
    ):
        preflight(
            ws,
            tiny_config(
                **dpo, adapter_name_or_path=str(adapter), resume_from_checkpoint=str(adapter)
            ),
        )
    checkpoint = sft_run / f"checkpoint-{SFT_RUN_STEPS}"
    with pytest.raises(StudioError, match=f"set adapter_name_or_path: {checkpoint}"):
        preflight(
            ws,
            tiny_config(
                **dpo, adapter_name_or_path=str(adapter), resume_from_checkpoint=str(checkpoint)
            ),
        )
    with pytest.raises(
        StudioError,
        match="has no trainer_state.json.*to continue training it set adapter_name_or_path",
    ):
        preflight(ws, tiny_config(resume_from_checkpoint=str(adapter)))
    with pytest.raises(StudioError, match="is not a folder"):
        preflight(ws, tiny_config(resume_from_checkpoint=str(sft_run / "nope")))
    with pytest.raises(StudioError, match="merged_sft needs the SFT adapter"):
        preflight(ws, tiny_config(**dpo, dpo_reference="merged_sft"))
    with pytest.raises(StudioError, match="is not a LoRA adapter folder"):
        preflight(ws, tiny_config(**dpo, adapter_name_or_path=str(sft_run)))
    preflight(ws, tiny_config(resume_from_checkpoint=str(checkpoint)))
    torn = sft_run / "checkpoint-torn"
    shutil.copytree(checkpoint, torn)
    (torn / "adapter_model.safetensors").write_bytes(b"")
    (torn / "checkpoint_complete.json").unlink(missing_ok=True)
    with pytest.raises(StudioError, match="is incomplete.*train --resume RUN"):
        preflight(ws, tiny_config(resume_from_checkpoint=str(torn)))
