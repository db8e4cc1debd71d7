"""RunDir: the files of a run folder, read and written through one class."""

from __future__ import annotations

import json
from pathlib import Path

from studio.jobs.rundir import RunDir, adapter_label
from studio.workspace import Workspace


def adapter_at(folder: Path) -> Path:
    """A folder that passes for a LoRA adapter (an adapter_config.json in it)."""
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    return folder


def test_a_run_folder_names_its_files(workspace: Workspace) -> None:
    run = RunDir(workspace.new_run_dir("sft"))
    assert run.name == run.path.name and run.name.startswith("sft-")
    named = {
        run.train_config: "config.yaml",
        run.settings_config: "config.json",
        run.log: "log",
        run.status: "status.json",
        run.metrics: "metrics.jsonl",
        run.summary: "summary.json",
        run.predictions: "predictions.jsonl",
        run.verdicts: "verdicts.jsonl",
        run.adapter_dir: "adapter",
        run.checkpoint(12): "checkpoint-12",
    }
    assert {path.relative_to(run.path).as_posix(): name for path, name in named.items()} == {
        name: name for name in named.values()
    }
    assert RunDir(str(run.path)) == run  # a str path is taken as a Path


def test_the_config_is_whichever_file_the_run_holds(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    assert run.config is None and run.read_config() is None
    run.settings_config.write_text(json.dumps({"model": "m", "dataset": "d"}))
    assert run.config == run.settings_config
    assert run.read_config() == {"model": "m", "dataset": "d"}
    run.train_config.write_text("stage: dpo\ndataset:\n- pairs\nmax_steps: 5\n")
    assert run.config == run.train_config
    assert run.read_config() == {"stage": "dpo", "dataset": ["pairs"], "max_steps": 5}
    run.train_config.write_text("stage: [unclosed\n")
    assert run.read_config() is None
    run.train_config.unlink()
    run.settings_config.write_text("[1, 2]")
    assert run.read_config() is None


def test_the_summary_is_none_until_a_whole_object_is_written(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    assert run.read_summary() is None
    run.summary.write_text('{"status": "succ')
    assert run.read_summary() is None
    run.write_summary({"status": "succeeded", "ex": 50.0})
    assert run.read_summary() == {"status": "succeeded", "ex": 50.0}
    assert [path.name for path in run.path.iterdir()] == ["summary.json"]  # no temporary left


def test_checkpoints_come_highest_step_first(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    for name in ("checkpoint-9", "checkpoint-10", "checkpoint-2", "checkpoint-x", "adapter"):
        (run.path / name).mkdir(parents=True)
    (run.path / "checkpoint-30").write_text("a file, not a checkpoint")
    assert [path.name for path in run.checkpoints()] == [
        "checkpoint-10",
        "checkpoint-9",
        "checkpoint-2",
    ]


def test_the_saved_adapter_is_the_one_the_summary_names_else_adapter(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    assert run.saved_adapter() is None
    run.adapter_dir.mkdir()
    assert run.saved_adapter() is None  # a folder without adapter_config.json is no adapter
    (run.adapter_dir / "adapter_config.json").write_text("{}")
    assert run.saved_adapter() == run.adapter_dir
    elsewhere = adapter_at(tmp_path / "output_dir")
    run.write_summary({"status": "succeeded", "adapter": str(elsewhere)})
    assert run.saved_adapter() == elsewhere
    run.write_summary({"status": "succeeded", "adapter": str(tmp_path / "deleted")})
    assert run.saved_adapter() == run.adapter_dir


def test_a_run_knows_its_workspace(workspace: Workspace, tmp_path: Path) -> None:
    run = RunDir(workspace.new_run_dir("pairs"))
    assert run.workspace().root == workspace.root
    outside = RunDir(tmp_path / "elsewhere" / "my-eval")
    outside.path.mkdir(parents=True)
    outside.settings_config.write_text(
        json.dumps({"mode": "generate", "workspace": str(workspace.root)})
    )
    assert outside.workspace().root == workspace.root


def test_adapters_are_labelled_by_their_run() -> None:
    assert (
        adapter_label("/ws/runs/sft-20250101-000000-abc123/adapter") == "sft-20250101-000000-abc123"
    )
    assert adapter_label(Path("/loras/my-lora")) == "my-lora"


def test_run_names_read_as_stage_dataset_and_time(workspace: Workspace) -> None:
    import re

    named = workspace.new_run_dir("dpo", "spider pairs/v2+demo_train").name
    assert re.fullmatch(r"dpo-spider_pairs_v2_demo_train-\d{8}-\d{6}-[0-9a-f]{6}", named), named
    assert re.fullmatch(r"eval-\d{8}-\d{6}-[0-9a-f]{6}", workspace.new_run_dir("eval", "/").name)
    long = workspace.new_run_dir("sft", "x" * 100).name
    assert long.startswith("sft-" + "x" * 40 + "-")
