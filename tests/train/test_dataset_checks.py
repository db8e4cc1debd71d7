"""`train --check` runs the checks `data validate` runs on the config's datasets, names the
right fix when a dataset's kind does not fit the stage, and accepts LLaMA-Factory's formats."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from studio.cli import main
from studio.data.registry import get_dataset
from studio.data.validate import validate_dataset
from studio.train.config import TrainConfig
from studio.train.dataset import training_records
from studio.workspace import Workspace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llamafactory_data"
Configs = Callable[..., TrainConfig]


def check(ws: Workspace, tmp_path: Path, cfg: TrainConfig, capsys) -> tuple[int, str]:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg.to_dict()))
    code = main(["train", "--check", str(path), "--workspace", str(ws.root)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_check_reports_the_problems_data_validate_reports(
    toy_workspace: Workspace, tiny_config: Configs, tmp_path: Path, capsys
) -> None:
    path = get_dataset(toy_workspace, "toy_sft").path
    rows = json.loads(path.read_text())
    rows[3]["output"] = ""
    path.write_text(json.dumps(rows))
    (problem,) = validate_dataset(toy_workspace, "toy_sft")
    assert problem.field == "rows[3].output"
    code, out = check(toy_workspace, tmp_path, tiny_config(), capsys)
    assert code == 2
    assert "config key 'dataset': 'toy_sft' cannot be trained on" in out
    assert str(problem) in out and "valid (" not in out


@pytest.mark.parametrize(
    ("stage", "dataset", "fix"),
    [
        ("sft", "toy_pairs", "give an SFT dataset (instruction/output) or set stage: dpo"),
        (
            "dpo",
            "toy_sft",
            "give a preference dataset (instruction/chosen/rejected) or set stage: sft",
        ),
    ],
)
def test_a_dataset_of_the_other_kind_names_the_fix_that_fits(
    toy_workspace: Workspace,
    tiny_config: Configs,
    tmp_path: Path,
    capsys,
    stage: str,
    dataset: str,
    fix: str,
) -> None:
    cfg = tiny_config(stage=stage, dataset=dataset)
    code, out = check(toy_workspace, tmp_path, cfg, capsys)
    assert code == 2 and fix in out


def test_llamafactory_sharegpt_and_openai_entries_pass_the_check_and_become_records(
    toy_workspace: Workspace, tiny_config: Configs, tmp_path: Path, capsys
) -> None:
    for name in ("sharegpt_sft.json", "openai_pairs.jsonl"):
        shutil.copy(FIXTURES / name, toy_workspace.root / name)
    entries = json.loads((FIXTURES / "dataset_info.json").read_text())
    info = json.loads(toy_workspace.dataset_info_path.read_text())
    info.update({name: entries[name] for name in ("lf_sharegpt", "lf_openai_pairs")})
    toy_workspace.dataset_info_path.write_text(json.dumps(info))

    sft = tiny_config(dataset="lf_sharegpt")
    assert check(toy_workspace, tmp_path, sft, capsys)[0] == 0
    multi = training_records(toy_workspace, sft)[1]
    assert [m["role"] for m in multi["prompt"]] == ["system", "user", "assistant", "user"]
    assert multi["completion"][0]["content"].endswith("WHERE country = 'France'")

    dpo = tiny_config(stage="dpo", dataset="lf_openai_pairs")
    assert check(toy_workspace, tmp_path, dpo, capsys)[0] == 0
    (pair,) = training_records(toy_workspace, dpo)
    assert pair["prompt"][0] == {"role": "system", "content": "You write MySQL queries."}
    assert pair["rejected"] == [{"role": "assistant", "content": "SELECT count(*) FROM pets"}]
