"""What the forms offer to pick: adapters of succeeded runs labelled with their stage, datasets,
loss and EX, then adapters copied into runs/; models the runs trained (real jobs)."""

from __future__ import annotations

import json
from pathlib import Path

from studio.jobs import SUCCEEDED, submit, wait
from studio.jobs.kinds import TRAIN
from studio.models.references import DEFAULT_MODEL
from studio.train.choices import adapter_choices, first_of_stage, model_choices
from studio.train.config import config_from_mapping
from studio.train.worker import write_run_config
from studio.workspace import Workspace


def finished_run(ws: Workspace, stage: str, dataset: str, loss: float, model: str) -> Path:
    """A succeeded training job's folder holding its config, summary and adapter/."""
    run_dir = ws.new_run_dir(stage)
    write_run_config(
        run_dir,
        config_from_mapping({"stage": stage, "dataset": dataset, "model_name_or_path": model}),
    )
    (run_dir / "adapter").mkdir()
    (run_dir / "adapter" / "adapter_config.json").write_text("{}")
    (run_dir / "summary.json").write_text(json.dumps({"final_metrics": {"loss": loss}}))
    job = submit(ws, TRAIN.name, ["true"], run_dir, title=f"{stage} run")
    assert wait(ws, job.id, poll_s=0.05).state == SUCCEEDED
    return run_dir


def test_adapters_are_labelled_by_their_runs_newest_first(workspace: Workspace) -> None:
    sft = finished_run(workspace, "sft", "demo_train", 0.51234, "/models/a")
    dpo = finished_run(workspace, "dpo", "demo_pairs", 0.25, "/models/b")
    evaluation = workspace.new_run_dir("eval")
    (evaluation / "summary.json").write_text(
        json.dumps({"ex": 45.0, "dataset": "demo_test", "adapters": [str(sft / "adapter")]})
    )
    copied = workspace.runs_dir / "copied" / "adapter"
    copied.mkdir(parents=True)
    (copied / "adapter_config.json").write_text("{}")

    choices = adapter_choices(workspace)
    assert [choice.path for choice in choices] == [
        str(dpo / "adapter"),
        str(sft / "adapter"),
        str(copied),
    ]
    assert [choice.label for choice in choices] == [
        f"{dpo.name} · dpo · demo_pairs · loss 0.25",
        f"{sft.name} · sft · demo_train · loss 0.5123 · EX 45% on demo_test",
        "copied",
    ]
    assert first_of_stage(choices, "sft") == str(sft / "adapter")
    assert first_of_stage(choices, "dpo") == str(dpo / "adapter")
    assert model_choices(workspace) == [DEFAULT_MODEL, "/models/b", "/models/a"]


def test_a_workspace_without_runs_offers_the_builtin_model_and_no_adapter(
    workspace: Workspace,
) -> None:
    assert adapter_choices(workspace) == []
    assert first_of_stage([], "sft") is None
    assert model_choices(workspace) == [DEFAULT_MODEL]
