"""LLaMA-Factory's own example YAMLs (tests/fixtures/llamafactory/, a local model path) pass
`train --check` unchanged, each key that is not honoured reported with its fate; those asking for
a feature the studio lacks are refused naming it."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.cli import main
from studio.data.registry import register_dataset
from studio.train.config import load_config
from studio.workspace import Workspace

from .conftest import QUESTIONS, SYSTEM

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llamafactory"
MODEL = "models/Qwen3-4B-Instruct-2507"


@pytest.fixture
def lf_checkout(toy_workspace: Workspace, tiny_qwen2_dir: Path, tmp_path: Path) -> Iterator[Path]:
    """A working folder where the fixtures' model path is the tiny model, and a workspace with
    LLaMA-Factory's demo dataset names (four toy rows each: one optimizer step an epoch at the
    examples' batch 1 x 8 accumulation)."""
    rows = [
        {"instruction": q, "input": "", "system": SYSTEM, "output": s} for q, s in QUESTIONS[:4]
    ]
    for name in ("identity", "alpaca_en_demo"):
        register_dataset(toy_workspace, name, rows, "sft")
    pairs = [
        {"instruction": q, "input": "", "system": SYSTEM, "chosen": s, "rejected": "SELECT 1"}
        for q, s in QUESTIONS[:4]
    ]
    register_dataset(toy_workspace, "dpo_en_demo", pairs, "preference")
    (tmp_path / "models").mkdir()
    (tmp_path / MODEL).symlink_to(tiny_qwen2_dir)
    before = Path.cwd()
    os.chdir(tmp_path)
    yield toy_workspace.root
    os.chdir(before)


def check(workspace: Path, name: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["train", "--check", str(FIXTURES / name), "--workspace", str(workspace)])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize(
    "name", ["qwen3_lora_sft.yaml", "qwen3_lora_dpo.yaml", "qwen3_lora_sft_eval.yaml"]
)
def test_llamafactory_examples_pass_check_with_every_fate_reported(
    lf_checkout: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(lf_checkout, name, capsys)
    assert code == 0, out
    assert f"{name}: valid" in out
    cfg = load_config(FIXTURES / name)
    assert cfg.llamafactory_keys, "LLaMA-Factory's examples set keys the studio does not honour"
    for key in cfg.llamafactory_keys:
        assert out.count(f"\n{key}: not needed (") + out.startswith(f"{key}: not needed (") == 1
    assert "LLaMA-Factory's defaults for unset keys" in out
    assert cfg.save_only_model is False and cfg.report_to == [] and cfg.template == "qwen3_nothink"
    assert cfg.lora_target == ["all"] and cfg.gradient_checkpointing


def test_the_deepspeed_example_runs_under_accelerate_or_names_the_package(
    lf_checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.chdir(FIXTURES)  # the file names its DeepSpeed JSON relative to here
    code, out = check(lf_checkout, "qwen3_lora_sft_ds3.yaml", capsys)
    if importlib.util.find_spec("deepspeed") is None:
        assert (
            code == 2 and "the deepspeed package is not installed; `pip install deepspeed`" in out
        )
    else:
        assert code == 0, out


@pytest.mark.parametrize(
    ("name", "feature"),
    [
        ("lora_plus_sft.yaml", "'loraplus_lr_ratio': 16.0 asks for LLaMA-Factory's LoRA variants"),
        ("qwen3_qlora_sft.yaml", "'quantization_bit': 4 asks for LLaMA-Factory's quantized"),
    ],
)
def test_examples_of_unsupported_features_are_refused_naming_them(
    lf_checkout: Path, name: str, feature: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = check(lf_checkout, name, capsys)
    assert code == 2 and feature in out and "which the studio does not support" in out


@pytest.mark.parametrize(
    ("name", "stage"), [("qwen3_lora_sft.yaml", "sft"), ("qwen3_lora_dpo.yaml", "dpo")]
)
def test_llamafactory_examples_train_unchanged(
    lf_checkout: Path, name: str, stage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", str(FIXTURES / name), "--workspace", str(lf_checkout)])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    cfg = load_config(FIXTURES / name)
    adapter = Path(cfg.output_dir)
    assert (adapter / "adapter_model.safetensors").is_file(), out.out
    run_dir = Path(out.out.split(" queued: ")[1].split()[0])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "succeeded" and summary["stage"] == stage
    assert summary["global_step"] == 3  # num_train_epochs: 3.0, one step an epoch
    fates = summary["llamafactory_keys"]
    assert set(fates) == set(cfg.llamafactory_keys)
    assert {fate["fate"] for fate in fates.values()} == {"not needed"}
