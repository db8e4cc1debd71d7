"""The demo SFT config on the real built-in model, through the CLI: a few CPU steps."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from studio.cli import main
from studio.models.adapters import check_adapters
from studio.models.loading import load_model
from studio.models.references import DEFAULT_MODEL, load_model_config
from studio.workspace import Workspace

from .conftest import read_metrics, read_summary

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.builtin
def test_demo_sft_trains_the_builtin_model(
    toy_workspace: Workspace, builtin_model_dir: Path, tmp_path: Path
) -> None:
    code = main(
        [
            "train",
            str(REPO / "configs" / "demo_sft.yaml"),
            "--set",
            "dataset=toy_sft",
            "--set",
            "max_steps=2",
            "--set",
            "cutoff_len=256",
            "--set",
            "save_steps=100",
            "--set",
            "per_device_train_batch_size=1",
            "--workspace",
            str(toy_workspace.root),
        ]
    )
    assert code == 0
    run_dir = next(toy_workspace.runs_dir.iterdir())
    assert "Could not find a config file" not in (run_dir / "log").read_text()  # PEFT's noise
    metrics = read_metrics(run_dir)
    assert [m["step"] for m in metrics] == [1, 2] and all(m["loss"] > 0 for m in metrics)
    summary = read_summary(run_dir)
    assert summary["base_model"] == DEFAULT_MODEL and summary["template"]["warning"] is None
    loaded = load_model(DEFAULT_MODEL, adapters=summary["inference_adapters"], device="cpu")
    ids = loaded.tokenizer("SELECT count(*) FROM", return_tensors="pt").input_ids
    assert (
        loaded.model.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == ids.shape[1] + 3
    )

    # the adapter records the portable reference; one recording the cache folder is the same base
    adapter = Path(summary["adapter"])
    recorded = json.loads((adapter / "adapter_config.json").read_text())
    assert recorded["base_model_name_or_path"] == DEFAULT_MODEL
    cached = shutil.copytree(adapter, tmp_path / "cached")
    config_path = cached / "adapter_config.json"
    config_path.write_text(
        json.dumps(
            {
                **json.loads(config_path.read_text()),
                "base_model_name_or_path": str(builtin_model_dir),
            }
        )
    )
    config = load_model_config(builtin_model_dir)
    assert check_adapters([cached], DEFAULT_MODEL, config) == [cached]
    assert check_adapters([adapter], str(builtin_model_dir), config) == [adapter]
