"""Config validation: every error names the key and the fix, before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.train.config import (
    KNOWN_KEYS,
    VALIDATORS,
    TrainConfig,
    config_from_mapping,
    dump_config,
    load_config,
    misspelt_key,
)
from studio.train.doc_tables import stale_docs
from studio.train.key_report import key_fates, report_lines
from studio.train.llamafactory_keys import FATES
from studio.train.strict_yaml import load_yaml

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_every_known_key_has_a_validator() -> None:
    assert set(VALIDATORS) == set(KNOWN_KEYS)


def test_llama_factory_file_loads_with_overrides_and_round_trips(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
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
""",
    )
    cfg = load_config(path, ["learning_rate=2e-4", "max_steps=5", "adapter_name_or_path=x,y"])
    assert cfg.lora_target == ["q_proj", "k_proj"]
    assert cfg.dataset == ["a", "b"]
    assert cfg.learning_rate == 2e-4 and cfg.max_steps == 5
    assert cfg.adapter_name_or_path == ["x", "y"]
    assert cfg.effective_lora_alpha == 16
    assert cfg.llamafactory_keys == {"do_train": True, "plot_loss": True}
    # a LLaMA-Factory file: unset keys take LLaMA-Factory's defaults
    assert cfg.defaults == "llamafactory"
    assert cfg.gradient_checkpointing and cfg.lr_scheduler_type == "linear"
    assert cfg.lf_defaults["per_device_train_batch_size"] == 8 == cfg.per_device_train_batch_size
    again = load_config(write(tmp_path, dump_config(cfg)))
    assert again.to_dict() == cfg.to_dict()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"dataset": "a", "learning_rte": 1e-4},
            "unknown config key 'learning_rte'; did you mean 'learning_rate'",
        ),
        ({"dataset": "a", "lora_rnak": 8}, "did you mean 'lora_rank'"),
        ({"dataset": "a", "zzz": 1}, "unknown config key 'zzz'; known keys:"),
        ({"dataset": "a", "stage": "ppo"}, "'stage': 'ppo' is not accepted; use one of sft, dpo"),
        ({"dataset": "a", "finetuning_type": "full"}, "use one of lora"),
        ({"dataset": "a", "lora_rank": 0}, "'lora_rank': 0 is out of range; accepted: >= 1"),
        ({"dataset": "a", "lora_rank": 2.5}, "'lora_rank': expected an integer"),
        (
            {"dataset": "a", "lora_dropout": 1.0},
            "'lora_dropout': 1.0 is out of range; accepted: >= 0 and < 1",
        ),
        (
            {"dataset": "a", "learning_rate": 0},
            "'learning_rate': 0.0 is out of range; accepted: > 0",
        ),
        ({"dataset": "a", "learning_rate": "fast"}, "'learning_rate': expected a number"),
        ({"dataset": "a", "cutoff_len": 4}, "'cutoff_len': 4 is out of range"),
        ({"dataset": "a", "val_size": 1.5}, "'val_size': 1.5 is neither a fraction"),
        ({"dataset": "a", "val_size": -0.1}, "'val_size'"),
        ({"dataset": "a", "warmup_ratio": 1}, "'warmup_ratio'"),
        (
            {"dataset": "a", "lr_scheduler_type": "cosyne"},
            "'lr_scheduler_type': 'cosyne' is not accepted; use one of linear, cosine",
        ),
        ({"dataset": "a", "bf16": "maybe"}, "'bf16': expected true or false"),
        (
            {"dataset": "a", "pref_loss": "orpo"},
            "'pref_loss': 'orpo' is not accepted; use one of sigmoid, hinge, ipo",
        ),
        ({"dataset": "a", "pref_beta": 0}, "'pref_beta'"),
        (
            {"dataset": "a", "dpo_reference": "base"},
            "'dpo_reference': 'base' is not accepted; use one of sft_adapter, merged_sft",
        ),
        ({"dataset": "a", "max_nonfinite_steps": 0}, "'max_nonfinite_steps': 0 is out of range"),
        ({"dataset": "a", "distributed_backend": "ddp"}, "use one of fsdp, deepspeed_zero3"),
        ({"dataset": "a", "num_gpus": 0}, "'num_gpus'"),
        ({"dataset": "a", "max_steps": 0}, "'max_steps': 0 trains nothing"),
        (
            {"dataset": "a", "lora_target": "all,q_proj"},
            "'lora_target': 'all' already means every linear layer",
        ),
        ({"dataset": "a", "lora_target": "q proj"}, "'lora_target': 'q proj' is not a module name"),
        (
            {"dataset": "a", "lora_target": 5},
            "'lora_target': expected a comma-separated string or a list",
        ),
        (
            {"dataset": "a", "model_name_or_path": ""},
            "'model_name_or_path': expected a non-empty string",
        ),
        (
            {"dataset": "a", "precompute_ref_log_probs": True},
            "'precompute_ref_log_probs' applies to stage: dpo only",
        ),
        ({"dataset": "a", "pref_ftx": 0.5}, "'pref_ftx' applies to stage: dpo only"),
        ({"dataset": "a", "stage": "dpo", "pref_ftx": -1}, "'pref_ftx'"),
        ({"dataset": "a", "stage": "dpo", "pref_ftx": 1, "pref_loss": "sft"}, "already 'sft'"),
        ({"stage": "sft"}, "config key 'dataset' is required"),
        (
            {"dataset": "a", "flash_attn": "fa3"},
            "'flash_attn': 'fa3' is not accepted; use one of auto, disabled, sdpa, fa2",
        ),
    ],
)
def test_bad_configs_name_the_key_and_the_fix(data: dict, expected: str) -> None:
    with pytest.raises(StudioError) as error:
        config_from_mapping(data, source="my.yaml")
    assert expected in str(error.value)
    assert str(error.value).startswith("my.yaml: ")


@pytest.mark.parametrize(
    ("flash_attn", "bf16", "expected"),
    [
        ("auto", True, "eager"),
        ("auto", False, "sdpa"),
        ("sdpa", True, "sdpa"),
        ("disabled", False, "eager"),
        ("fa2", True, "flash_attention_2"),
    ],
)
def test_flash_attn_picks_the_attention_kernel(flash_attn: str, bf16: bool, expected: str) -> None:
    cfg = config_from_mapping({"dataset": "a", "flash_attn": flash_attn, "bf16": bf16})
    assert cfg.attn_implementation == expected


FIELD_TYPES = {key: TrainConfig.__dataclass_fields__[key].type for key in KNOWN_KEYS}
FLOAT_KEYS = sorted(key for key, kind in FIELD_TYPES.items() if kind in ("float", "float | None"))
INT_KEYS = sorted(key for key, kind in FIELD_TYPES.items() if kind in ("int", "int | None"))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        *(
            (key, value)
            for key in FLOAT_KEYS
            for value in (".nan", ".inf", "-.inf", "nan", "'inf'")
        ),
        *(
            (key, value) for key in INT_KEYS for value in (".nan", ".inf")
        ),  # YAML floats, not integers
    ],
)
def test_numbers_must_be_finite(tmp_path: Path, key: str, value: str) -> None:
    expected = f"config key '{key}': -?(nan|inf) is not a finite number; give (a number|an integer)"
    with pytest.raises(StudioError, match=expected):
        load_config(write(tmp_path, f"dataset: a\nstage: dpo\n{key}: {value}\n"))


def test_float_keys_are_the_numbers_a_run_uses() -> None:
    assert {
        "learning_rate",
        "pref_beta",
        "max_grad_norm",
        "warmup_ratio",
        "lora_dropout",
        "num_train_epochs",
        "pref_ftx",
        "val_size",
    } <= set(FLOAT_KEYS)


def test_an_override_must_be_finite_too(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="'learning_rate': nan is not a finite number"):
        load_config(write(tmp_path, "dataset: a\n"), ["learning_rate=nan"])


def test_a_key_given_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    text = "dataset: a\nlearning_rate: 1.0e-4\nlora_rank: 8\nlearning_rate: 2.0e-4\n"
    with pytest.raises(StudioError) as error:
        load_config(write(tmp_path, text))
    assert str(error.value) == (
        f"{tmp_path / 'cfg.yaml'}: key 'learning_rate' is given twice "
        "(lines 2 and 4); keep one of them"
    )
    with pytest.raises(StudioError, match="key 'a' is given twice \\(lines 3 and 4\\)"):
        load_config(write(tmp_path, "dataset: a\nextra:\n  a: 1\n  a: 2\n"))
    with pytest.raises(StudioError, match="key 'x' is given twice \\(lines 1 and 1\\)"):
        load_config(write(tmp_path, "dataset: a\n"), ["lora_target={x: 1, x: 2}"])


def test_yaml_merge_keys_may_still_be_overridden() -> None:
    text = "base: &base\n  lr: 1\n  rank: 8\nrun:\n  <<: *base\n  lr: 2\n"
    assert load_yaml(text, "x.yaml")["run"] == {"lr": 2, "rank": 8}


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(StudioError, match=r"YAML does not parse at line 2, column 8: mapping"):
        load_config(write(tmp_path, "dataset: a\n  stage: sft\n"))
    with pytest.raises(StudioError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n"))
    with pytest.raises(StudioError, match="is not key=value"):
        load_config(write(tmp_path, "dataset: a\n"), ["learning_rate"])


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "configs").glob("*.yaml")))
def test_shipped_configs_are_valid(name: str) -> None:
    cfg = load_config(REPO / "configs" / name)
    assert cfg.stage in name
    if cfg.stage == "dpo":
        assert cfg.dpo_reference == "sft_adapter"
        # an SFT adapter is named, or the file says how to give one
        text = (REPO / "configs" / name).read_text()
        assert cfg.adapter_name_or_path or "--set adapter_name_or_path=" in text


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("learning_rte", "learning_rate"),
        ("lora_rnak", "lora_rank"),
        ("warmup_step", "warmup_steps"),
    ],
)
def test_a_misspelt_key_gets_the_key_of_the_same_words(typo: str, meant: str) -> None:
    assert misspelt_key(typo) == meant


@pytest.mark.parametrize(
    "key", ["disable_gradient_checkpointing", "temperature", "local_rank", "warmup_steps"]
)
def test_llamafactory_keys_get_their_fate_not_a_hint(key: str) -> None:
    assert key in KNOWN_KEYS or key in FATES
    cfg = config_from_mapping({"dataset": "a", key: LF_VALUES.get(key, 0)})
    assert getattr(cfg, key, None) is not None or key in cfg.llamafactory_keys


LF_VALUES = {"disable_gradient_checkpointing": True, "temperature": 0.95, "local_rank": -1}


def test_keys_of_other_words_are_not_suggested() -> None:
    assert misspelt_key("lokal_rank") == "local_rank"
    assert misspelt_key("gradient_checkpoint") is None  # fewer words: no guess
    with pytest.raises(StudioError, match="unknown config key 'warmup_ration'; did you mean"):
        config_from_mapping({"dataset": "a", "warmup_ration": 0.1})


def test_not_supported_keys_are_refused_only_when_they_change_training() -> None:
    cfg = config_from_mapping({"dataset": "a", "use_dora": False, "quantization_bit": None})
    assert key_fates(cfg)["use_dora"]["fate"] == "not supported"
    with pytest.raises(StudioError) as error:
        config_from_mapping({"dataset": "a", "use_dora": True})
    assert "config key 'use_dora': True asks for LLaMA-Factory's LoRA variants" in str(error.value)
    assert "remove the key or set it to False" in str(error.value)
    with pytest.raises(StudioError, match="full-parameter fine-tuning is not supported"):
        config_from_mapping({"dataset": "a", "finetuning_type": "full"})
    with pytest.raises(StudioError, match="ORPO is a reference-free loss"):
        config_from_mapping({"dataset": "a", "stage": "dpo", "pref_loss": "orpo"})
    # not needed: any value
    cfg = config_from_mapping({"dataset": "a", "preprocessing_num_workers": 16})
    assert report_lines(cfg)[0].startswith("preprocessing_num_workers: not needed (datasets are")


def test_whose_defaults_unset_keys_take() -> None:
    studio = config_from_mapping({"dataset": "a", "stage": "sft", "finetuning_type": "lora"})
    assert studio.defaults == "studio" and not studio.lf_defaults
    assert not studio.gradient_checkpointing and studio.lr_scheduler_type == "cosine"
    lf = config_from_mapping({"dataset": "a", "do_train": True, "logging_steps": 5})
    assert lf.defaults == "llamafactory"
    assert lf.lf_defaults == {
        "per_device_train_batch_size": 8,
        "per_device_eval_batch_size": 8,
        "lr_scheduler_type": "linear",
        "gradient_checkpointing": True,
        "eval_strategy": "no",
        "eval_steps": 5,  # logging_steps, as transformers
    }
    assert lf.gradient_checkpointing and lf.per_device_train_batch_size == 8
    assert report_lines(lf)[-1].startswith("LLaMA-Factory's defaults for unset keys")
    off = config_from_mapping({"dataset": "a", "do_train": True, "defaults": "studio"})
    assert not off.lf_defaults and not off.gradient_checkpointing
    forced = config_from_mapping({"dataset": "a", "defaults": "llamafactory"})
    assert forced.lr_scheduler_type == "linear"
    disabled = config_from_mapping(
        {"dataset": "a", "do_train": True, "disable_gradient_checkpointing": True}
    )
    assert not disabled.gradient_checkpointing
    with pytest.raises(StudioError, match="contradict each other"):
        config_from_mapping(
            {"dataset": "a", "gradient_checkpointing": True, "disable_gradient_checkpointing": True}
        )


def test_a_dumped_llamafactory_config_reloads_the_same(tmp_path: Path) -> None:
    cfg = config_from_mapping({"dataset": "a", "do_train": True, "report_to": "none"})
    again = load_config(write(tmp_path, dump_config(cfg)))
    assert again.to_dict() == cfg.to_dict()
    assert again.llamafactory_keys == {"do_train": True}


def test_the_docs_key_tables_are_current() -> None:
    assert stale_docs() == [], "run python -m studio.train.doc_tables"


@pytest.mark.parametrize("where", ["file", "override"])
def test_a_choice_yaml_reads_as_a_boolean_keeps_its_word(tmp_path: Path, where: str) -> None:
    line = "eval_strategy: no\n" if where == "file" else ""
    path = write(tmp_path, f"dataset: a\nval_size: 8\n{line}")
    overrides = ["eval_strategy=no"] if where == "override" else []
    assert load_config(path, overrides).eval_strategy == "no"
    with pytest.raises(StudioError, match="'stage': True is not accepted; use one of sft"):
        load_config(path, ["stage=yes"])
