"""Config validation: every error names the key and the fix, before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.config import KNOWN_KEYS, VALIDATORS, config_from_mapping, dump_config, load_config
from studio.errors import StudioError

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_every_known_key_has_a_validator() -> None:
    assert set(VALIDATORS) == set(KNOWN_KEYS)


def test_llama_factory_file_loads_with_overrides_and_round_trips(tmp_path: Path) -> None:
    path = write(tmp_path, """
model_name_or_path: builtin:qwen2.5-coder-0.5b-instruct
stage: sft
do_train: true
finetuning_type: lora
lora_target: q_proj, k_proj
lora_rank: 8
dataset: a, b
template: qwen3_nothink
cutoff_len: 1024
learning_rate: 1.0e-4
num_train_epochs: 1.0
bf16: true
plot_loss: true
""")
    cfg = load_config(path, ["learning_rate=2e-4", "max_steps=5", "adapter_name_or_path=x,y"])
    assert cfg.lora_target == ["q_proj", "k_proj"]
    assert cfg.dataset == ["a", "b"]
    assert cfg.learning_rate == 2e-4 and cfg.max_steps == 5
    assert cfg.adapter_name_or_path == ["x", "y"]
    assert cfg.effective_lora_alpha == 16
    assert cfg.ignored_keys == {"do_train": True, "plot_loss": True}
    again = load_config(write(tmp_path, dump_config(cfg)))
    assert again.to_dict() == cfg.to_dict()


@pytest.mark.parametrize(("data", "expected"), [
    ({"dataset": "a", "learning_rte": 1e-4}, "unknown config key 'learning_rte'; did you mean 'learning_rate'"),
    ({"dataset": "a", "lora_rnak": 8}, "did you mean 'lora_rank'"),
    ({"dataset": "a", "zzz": 1}, "unknown config key 'zzz'; known keys:"),
    ({"dataset": "a", "stage": "ppo"}, "'stage': 'ppo' is not accepted; use one of sft, dpo"),
    ({"dataset": "a", "finetuning_type": "full"}, "use one of lora"),
    ({"dataset": "a", "lora_rank": 0}, "'lora_rank': 0 is out of range; accepted: >= 1"),
    ({"dataset": "a", "lora_rank": 2.5}, "'lora_rank': expected an integer"),
    ({"dataset": "a", "lora_dropout": 1.0}, "'lora_dropout': 1.0 is out of range; accepted: >= 0 and < 1"),
    ({"dataset": "a", "learning_rate": 0}, "'learning_rate': 0.0 is out of range; accepted: > 0"),
    ({"dataset": "a", "learning_rate": "fast"}, "'learning_rate': expected a number"),
    ({"dataset": "a", "cutoff_len": 4}, "'cutoff_len': 4 is out of range"),
    ({"dataset": "a", "val_size": 1.5}, "'val_size': 1.5 is neither a fraction"),
    ({"dataset": "a", "val_size": -0.1}, "'val_size'"),
    ({"dataset": "a", "warmup_ratio": 1}, "'warmup_ratio'"),
    ({"dataset": "a", "lr_scheduler_type": "cosyne"}, "'lr_scheduler_type': 'cosyne' is not accepted; use one of linear, cosine"),
    ({"dataset": "a", "bf16": "maybe"}, "'bf16': expected true or false"),
    ({"dataset": "a", "pref_loss": "orpo"}, "'pref_loss': 'orpo' is not accepted; use one of sigmoid, hinge, ipo"),
    ({"dataset": "a", "pref_beta": 0}, "'pref_beta'"),
    ({"dataset": "a", "dpo_reference": "base"}, "'dpo_reference': 'base' is not accepted; use one of sft_adapter, merged_sft"),
    ({"dataset": "a", "max_nonfinite_steps": 0}, "'max_nonfinite_steps': 0 is out of range"),
    ({"dataset": "a", "distributed_backend": "ddp"}, "use one of fsdp, deepspeed_zero3"),
    ({"dataset": "a", "num_gpus": 0}, "'num_gpus'"),
    ({"dataset": "a", "max_steps": 0}, "'max_steps': 0 trains nothing"),
    ({"dataset": "a", "lora_target": "all,q_proj"}, "'lora_target': 'all' already means every linear layer"),
    ({"dataset": "a", "lora_target": "q proj"}, "'lora_target': 'q proj' is not a module name"),
    ({"dataset": "a", "lora_target": 5}, "'lora_target': expected a comma-separated string or a list"),
    ({"dataset": "a", "model_name_or_path": ""}, "'model_name_or_path': expected a non-empty string"),
    ({"dataset": "a", "precompute_ref_log_probs": True}, "'precompute_ref_log_probs' applies to stage: dpo only"),
    ({"dataset": "a", "pref_ftx": 0.5}, "'pref_ftx' applies to stage: dpo only"),
    ({"dataset": "a", "stage": "dpo", "pref_ftx": -1}, "'pref_ftx'"),
    ({"dataset": "a", "stage": "dpo", "pref_ftx": 1, "pref_loss": "sft"}, "already 'sft'"),
    ({"stage": "sft"}, "config key 'dataset' is required"),
    ({"dataset": "a", "flash_attn": "fa3"}, "'flash_attn': 'fa3' is not accepted; use one of auto, disabled, sdpa, fa2"),
])
def test_bad_configs_name_the_key_and_the_fix(data: dict, expected: str) -> None:
    with pytest.raises(StudioError) as error:
        config_from_mapping(data, source="my.yaml")
    assert expected in str(error.value)
    assert str(error.value).startswith("my.yaml: ")


@pytest.mark.parametrize(("flash_attn", "bf16", "expected"), [
    ("auto", True, "eager"), ("auto", False, "sdpa"), ("sdpa", True, "sdpa"),
    ("disabled", False, "eager"), ("fa2", True, "flash_attention_2"),
])
def test_flash_attn_picks_the_attention_kernel(flash_attn: str, bf16: bool, expected: str) -> None:
    cfg = config_from_mapping({"dataset": "a", "flash_attn": flash_attn, "bf16": bf16})
    assert cfg.attn_implementation == expected


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(StudioError, match="YAML does not parse"):
        load_config(write(tmp_path, "dataset: [a\n"))
    with pytest.raises(StudioError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n"))
    with pytest.raises(StudioError, match="is not key=value"):
        load_config(write(tmp_path, "dataset: a\n"), ["learning_rate"])


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("*.yaml")))
def test_shipped_configs_are_valid(name: str) -> None:
    cfg = load_config(REPO / "configs" / name)
    assert cfg.stage in name
    if cfg.stage == "dpo":
        assert cfg.dpo_reference == "sft_adapter" and cfg.adapter_name_or_path
