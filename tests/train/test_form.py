"""The Train form's mapping to and from configs (no browser): stage-only keys round-trip and are
dropped for the other stage, stage switches, the steps note and a run's config in the form."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from studio.errors import StudioError
from studio.train.config import load_config
from studio.train.form import (
    DEFAULT_BASE,
    FORM_KEYS,
    INDEX,
    DatasetChoices,
    base_of,
    config_from_form,
    form_values,
    form_yaml,
    key_notes,
    label,
    restage,
    run_config,
    steps_note,
)
from studio.train.keys import BY_NAME
from studio.train.worker import write_run_config

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_packing_survives_form_round_trip_and_is_dropped_for_dpo() -> None:
    data = load_config(REPO_ROOT / "configs" / "spiderman_sft.yaml").to_dict()
    values = form_values(data)
    assert values[FORM_KEYS.index("packing")] is True
    cfg = config_from_form(data, values)
    assert cfg.packing and cfg.attn_implementation == "sdpa_packed"
    values[FORM_KEYS.index("stage")] = "dpo"
    values[FORM_KEYS.index("dataset")] = ["pairs"]
    as_dpo = config_from_form(data, values)
    assert as_dpo.stage == "dpo" and not as_dpo.packing


def test_dpo_only_keys_round_trip_for_dpo_and_are_dropped_for_sft() -> None:
    data = load_config(REPO_ROOT / "configs" / "spiderman_dpo.yaml").to_dict()
    data["pref_ftx"] = 0.5
    values = form_values(data)
    assert values[FORM_KEYS.index("pref_ftx")] == 0.5
    assert config_from_form(data, values).pref_ftx == 0.5
    values[FORM_KEYS.index("stage")] = "sft"
    values[FORM_KEYS.index("dataset")] = ["spiderman_train"]
    as_sft = config_from_form(data, values)
    assert as_sft.pref_ftx == 0.0 and not as_sft.precompute_ref_log_probs


def test_a_llamafactory_yaml_keeps_its_keys_and_shows_their_fates() -> None:
    cfg = load_config(REPO_ROOT / "tests" / "fixtures" / "llamafactory" / "qwen3_lora_dpo.yaml")
    notes = key_notes(cfg)
    assert "- trust_remote_code: not needed (the studio loads only local models" in notes
    assert "- LLaMA-Factory's defaults for unset keys" in notes
    # the form keeps them: a config rebuilt from the form reports the same keys
    base = {**cfg.to_dict(), **cfg.llamafactory_keys}
    again = config_from_form(base, form_values(base))
    assert again.llamafactory_keys == cfg.llamafactory_keys
    assert key_notes(load_config(REPO_ROOT / "configs" / "demo_sft.yaml")) == ""


def test_form_labels_come_from_the_key_table() -> None:
    assert label("lora_rank") == BY_NAME["lora_rank"].label == "LoRA rank"
    assert all(BY_NAME[key].label for key in FORM_KEYS)


def test_an_incomplete_form_shows_why_in_the_yaml_pane_instead_of_raising() -> None:
    values = form_values(DEFAULT_BASE)
    assert yaml.safe_load(form_yaml(DEFAULT_BASE, values))["dataset"] == ["demo_train"]
    values[INDEX["dataset"]] = []
    assert form_yaml(DEFAULT_BASE, values).startswith(
        "# not a valid config yet: the form: config key 'dataset' is required"
    )


def test_the_steps_note_says_whether_epochs_or_max_steps_ends_the_run() -> None:
    assert steps_note(3.0, 8).startswith("**Max steps applies:** the run stops after 8 steps")
    assert steps_note(3.0, -1) == "**Epochs applies:** the run trains 3 epochs (Max steps is -1)."


def test_a_stage_switch_keeps_datasets_of_the_right_kind_and_brings_the_sft_adapter() -> None:
    pairs = DatasetChoices(["old_pairs", "new_pairs"], "preference datasets", "new_pairs")
    values = form_values(DEFAULT_BASE)
    values[INDEX["stage"]] = "dpo"
    as_dpo = restage(DEFAULT_BASE, values, pairs, "/runs/sft-1/adapter")
    assert as_dpo[INDEX["dataset"]] == ["new_pairs"]
    assert as_dpo[INDEX["adapter_name_or_path"]] == ["/runs/sft-1/adapter"]
    cfg = config_from_form(DEFAULT_BASE, as_dpo)
    assert (cfg.stage, cfg.dataset, cfg.adapter_name_or_path) == (
        "dpo",
        ["new_pairs"],
        ["/runs/sft-1/adapter"],
    )
    # a chosen dataset of the right kind and a chosen adapter stay
    as_dpo[INDEX["dataset"]] = ["old_pairs"]
    as_dpo[INDEX["adapter_name_or_path"]] = ["/elsewhere"]
    again = restage(DEFAULT_BASE, as_dpo, pairs, "/runs/sft-1/adapter")
    assert again[INDEX["dataset"]] == ["old_pairs"]
    assert again[INDEX["adapter_name_or_path"]] == ["/elsewhere"]
    # back to SFT: the pairs leave; the datasets the loaded config names come back when chosen
    again[INDEX["stage"]] = "sft"
    sft = DatasetChoices(["demo_train"], "sft datasets", "demo_train")
    assert restage(DEFAULT_BASE, again, sft, None)[INDEX["dataset"]] == []
    loaded = {**DEFAULT_BASE, "dataset": ["not_registered_yet"]}
    values = form_values(loaded)
    assert restage(loaded, values, sft, None)[INDEX["dataset"]] == ["not_registered_yet"]


def test_a_switch_to_grpo_brings_the_sft_adapter_and_a_batch_of_whole_groups() -> None:
    sft = DatasetChoices(["demo_train"], "sft datasets", "demo_train")
    values = form_values(DEFAULT_BASE)
    values[INDEX["stage"]] = "grpo"
    with pytest.raises(StudioError, match="must be a multiple of 'num_generations' \\(8\\)"):
        config_from_form(DEFAULT_BASE, values)  # the SFT form's batch of 1: no whole group
    as_grpo = restage(DEFAULT_BASE, values, sft, "/runs/sft-1/adapter")
    cfg = config_from_form(DEFAULT_BASE, as_grpo)
    assert (cfg.stage, cfg.dataset, cfg.adapter_name_or_path) == (
        "grpo",
        ["demo_train"],
        ["/runs/sft-1/adapter"],
    )
    assert cfg.per_device_train_batch_size == cfg.num_generations == 8
    # a batch that holds whole groups stays, as does the number of answers the YAML set
    fours = {**DEFAULT_BASE, "num_generations": 4}
    values[INDEX["per_device_train_batch_size"]] = 12
    assert restage(fours, values, sft, None)[INDEX["per_device_train_batch_size"]] == 12
    values[INDEX["per_device_train_batch_size"]] = 6
    assert restage(fours, values, sft, None)[INDEX["per_device_train_batch_size"]] == 4


def test_a_run_shows_its_config_in_the_form(tmp_path: Path) -> None:
    cfg = load_config(REPO_ROOT / "configs" / "demo_dpo.yaml")
    write_run_config(tmp_path, cfg)
    shown = run_config(tmp_path)
    assert shown is not None and config_from_form(base_of(shown), form_values(shown.to_dict())) == (
        cfg
    )
    (tmp_path / "config.yaml").write_text("stage: dpo\n")  # no dataset: not a config
    assert run_config(tmp_path) is None
    assert run_config(tmp_path / "missing") is None
