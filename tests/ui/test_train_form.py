"""The Train form's mapping to and from configs (no browser): stage-only keys round-trip and are
dropped for the other stage."""

from __future__ import annotations

from pathlib import Path

from studio.train.config import load_config
from studio.train.keys import BY_NAME
from studio.ui.train_tab import FORM_KEYS, config_from_form, form_values, key_notes, label

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
