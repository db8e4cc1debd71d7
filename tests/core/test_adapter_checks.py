"""Adapters are checked against the base before they load: finite tensors, the recorded base,
and tensor shapes, on every path that applies one (inference, playground, evaluation, mining).
Training on top of an adapter is covered in tests/train/test_preflight_checks.py."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from studio.data.importers.demo import open_workspace
from studio.data.registry import database_ref
from studio.errors import StudioError
from studio.evaluate import evaluate
from studio.inference.playground import ModelPool, Variant, answer
from studio.jobs.runtime import read_jsonl
from studio.models.adapters import NonFiniteWeightsError, check_adapters
from studio.models.loading import load_model
from studio.models.references import (
    DEFAULT_MODEL,
    load_model_config,
    model_identity,
    resolve_model_dir,
)
from studio.pairs.config import MiningConfig, write_config
from studio.pairs.mine import mine
from studio.testing.random_models import save_random_model, save_tiny_gguf

REPO_ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = "adapter_model.safetensors"


def save_adapter(
    base_dir: Path, out: Path, targets: tuple[str, ...] = ("q_proj", "v_proj")
) -> Path:
    """A real PEFT LoRA folder on `base_dir` with random (non-zero) weights."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=list(targets), init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(out)
    return out


def poisoned_copy(adapter: Path, out: Path, names: int = 1) -> tuple[Path, list[str]]:
    """A copy of `adapter` with a NaN in the first `names` tensors; returns it and those names."""
    shutil.copytree(adapter, out)
    tensors = load_file(out / WEIGHTS)
    bad = sorted(tensors)[:names]
    for name in bad:
        tensors[name][0, 0] = math.nan
    save_file(tensors, out / WEIGHTS)
    return out, bad


def with_recorded_base(adapter: Path, out: Path, base: str | None) -> Path:
    """A copy of `adapter` whose adapter_config.json records `base` (None: no base)."""
    shutil.copytree(adapter, out)
    path = out / "adapter_config.json"
    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = base
    path.write_text(json.dumps(config))
    return out


@pytest.fixture(scope="module")
def tiny_adapter(tiny_qwen2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_adapter(tiny_qwen2_dir, tmp_path_factory.mktemp("adapter") / "adapter")


@pytest.fixture(scope="module")
def nan_adapter(
    tiny_adapter: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[str]]:
    return poisoned_copy(tiny_adapter, tmp_path_factory.mktemp("nan") / "adapter", names=2)


@pytest.fixture(scope="module")
def twin_dir(builtin_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny random Qwen2 model: the same shapes as tiny_qwen2_dir, other weights."""
    folder = tmp_path_factory.mktemp("twin")
    return save_random_model("tiny-qwen2", folder, str(builtin_tokenizer_dir), seed=1)


def test_a_sound_adapter_passes_and_loads(tiny_qwen2_dir: Path, tiny_adapter: Path) -> None:
    config = load_model_config(tiny_qwen2_dir)
    checked = check_adapters([str(tiny_adapter)], str(tiny_qwen2_dir), config)
    assert checked == [tiny_adapter.resolve()]
    for merge in (True, False):
        loaded = load_model(str(tiny_qwen2_dir), adapters=[tiny_adapter], merge=merge, device="cpu")
        assert loaded.adapters == (str(tiny_adapter),)


@pytest.mark.parametrize("merge", [True, False])
def test_a_nan_adapter_is_refused_by_load_model_naming_its_tensors(
    tiny_qwen2_dir: Path, nan_adapter: tuple[Path, list[str]], merge: bool
) -> None:
    adapter, bad = nan_adapter
    with pytest.raises(NonFiniteWeightsError) as error:
        load_model(str(tiny_qwen2_dir), adapters=[adapter], merge=merge, device="cpu")
    message = str(error.value)
    assert (
        f"adapter {adapter} holds NaN or infinite weights in 2 tensor(s) "
        f"(first: {bad[0]}, {bad[1]})"
    ) in message
    assert "retrain it, or use an earlier checkpoint" in message


def test_a_nan_adapter_is_refused_in_the_playground(
    tiny_qwen2_dir: Path, nan_adapter: tuple[Path, list[str]], tmp_path: Path
) -> None:
    ws = open_workspace(tmp_path / "ws")
    pool = ModelPool()
    base = Variant(str(tiny_qwen2_dir))
    poisoned = Variant(str(tiny_qwen2_dir), (str(nan_adapter[0]),))
    database = database_ref(ws, "demo_train", "concert_singer")
    replies = answer(
        "How many singers are there?", database, [base, poisoned], pool=pool, max_new_tokens=4
    )
    assert replies[0].error is None and replies[0].completion
    assert replies[1].error is not None and "holds NaN or infinite weights" in replies[1].error
    assert replies[1].completion == ""
    assert pool.loaded() == [base]


def test_a_nan_adapter_is_refused_by_evaluation(
    tiny_qwen2_dir: Path, nan_adapter: tuple[Path, list[str]], tmp_path: Path
) -> None:
    ws = open_workspace(tmp_path / "ws")
    out = tmp_path / "eval-run"
    with pytest.raises(NonFiniteWeightsError, match="holds NaN or infinite weights"):
        evaluate(
            ws,
            "demo_test",
            model=str(tiny_qwen2_dir),
            adapters=[nan_adapter[0]],
            limit=2,
            out_dir=out,
            max_new_tokens=4,
            workers=1,
            bars=False,
        )
    assert read_jsonl(out / "predictions.jsonl") == []


def test_a_nan_adapter_is_refused_by_pair_mining(
    tiny_qwen2_dir: Path, nan_adapter: tuple[Path, list[str]], tmp_path: Path
) -> None:
    ws = open_workspace(tmp_path / "ws")
    run_dir = ws.new_run_dir("pairs")
    config = MiningConfig(
        model=str(tiny_qwen2_dir),
        dataset="demo_train",
        adapters=[str(nan_adapter[0])],
        n=2,
        limit=2,
        batch_size=2,
        max_new_tokens=4,
    )
    write_config(run_dir, config)
    with pytest.raises(NonFiniteWeightsError, match="holds NaN or infinite weights"):
        mine(ws, run_dir, config)


def test_an_adapter_of_another_base_with_the_same_shapes_is_refused_naming_both(
    tiny_qwen2_dir: Path, twin_dir: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    with pytest.raises(StudioError) as error:
        load_model(str(twin_dir), adapters=[tiny_adapter], device="cpu")
    message = str(error.value)
    assert (
        f"adapter {tiny_adapter.resolve()} was trained on {tiny_qwen2_dir}, not on {twin_dir}"
    ) in message
    assert f"use it with {tiny_qwen2_dir}, or train an adapter on {twin_dir}" in message
    # the fix the message names: record the base it is meant for
    renamed = with_recorded_base(tiny_adapter, tmp_path / "renamed", str(twin_dir))
    checked = check_adapters([renamed], str(twin_dir), load_model_config(twin_dir))
    assert checked == [renamed.resolve()]


def test_without_a_recorded_base_the_run_folder_config_names_it(
    tiny_qwen2_dir: Path, twin_dir: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "runs" / "sft-1"
    run_dir.mkdir(parents=True)
    adapter = with_recorded_base(tiny_adapter, run_dir / "adapter", None)
    config = load_model_config(twin_dir)
    # nothing recorded: nothing to compare
    assert check_adapters([adapter], str(twin_dir), config) == [adapter.resolve()]
    run_config = f"model_name_or_path: {tiny_qwen2_dir}\ndataset: demo_train\n"
    (run_dir / "config.yaml").write_text(run_config)
    with pytest.raises(StudioError, match=f"was trained on {tiny_qwen2_dir}, not on {twin_dir}"):
        check_adapters([adapter], str(twin_dir), config)


@pytest.mark.builtin
def test_an_adapter_of_other_shapes_is_refused_before_any_weight_loads(
    tiny_adapter: Path, builtin_model_dir: Path, tiny_qwen2_dir: Path
) -> None:
    with pytest.raises(StudioError) as error:
        load_model(DEFAULT_MODEL, adapters=[tiny_adapter], device="cpu")
    message = str(error.value)
    assert f"adapter {tiny_adapter.resolve()} does not fit {DEFAULT_MODEL}:" in message
    assert "is [4, 64] in the adapter but [4, 896] for this model" in message
    assert (
        f"it was trained on {tiny_qwen2_dir}: use it with that model, or train an adapter "
        f"on {DEFAULT_MODEL}"
    ) in message


def test_an_adapter_of_other_modules_is_refused(
    tiny_qwen2_dir: Path, tiny_qwen3_moe_dir: Path, tmp_path: Path
) -> None:
    moe_adapter = save_adapter(tiny_qwen3_moe_dir, tmp_path / "router", targets=("q_proj", "gate"))
    with pytest.raises(StudioError) as error:
        check_adapters([moe_adapter], str(tiny_qwen2_dir), load_model_config(tiny_qwen2_dir))
    assert (
        f"does not fit {tiny_qwen2_dir}: it holds model.layers.0.mlp.gate.lora_A.weight, "
        "which this model has no module for (4 tensor(s) differ); it was trained on "
        f"{tiny_qwen3_moe_dir}"
    ) in str(error.value)
    mlp_adapter = save_adapter(tiny_qwen2_dir, tmp_path / "mlp", targets=("gate_proj",))
    moe_config = load_model_config(tiny_qwen3_moe_dir)
    expected = (
        f"does not fit {tiny_qwen3_moe_dir}: PEFT cannot apply it .*; it was trained on "
        f"{tiny_qwen2_dir}: use it with that model"
    )
    with pytest.raises(StudioError, match=expected):
        check_adapters([mlp_adapter], str(tiny_qwen3_moe_dir), moe_config)


@pytest.mark.builtin
def test_a_shape_mismatch_through_the_cli_is_one_line_without_a_traceback(
    tiny_adapter: Path, builtin_model_dir: Path, tmp_path: Path
) -> None:
    ws = open_workspace(tmp_path / "ws")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio",
            "eval",
            "--dataset",
            "demo_test",
            "--model",
            DEFAULT_MODEL,
            "--adapter",
            str(tiny_adapter),
            "--limit",
            "1",
            "--workers",
            "1",
            "--workspace",
            str(ws.root),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert f"does not fit {DEFAULT_MODEL}" in errors[0] and "[4, 896]" in errors[0]


def test_broken_adapter_files_are_explained(
    tiny_qwen2_dir: Path, tiny_adapter: Path, tmp_path: Path
) -> None:
    config = load_model_config(tiny_qwen2_dir)
    truncated = tmp_path / "truncated"
    shutil.copytree(tiny_adapter, truncated)
    (truncated / WEIGHTS).write_bytes((truncated / WEIGHTS).read_bytes()[:100])
    with pytest.raises(StudioError, match="is not a readable safetensors file"):
        check_adapters([truncated], str(tiny_qwen2_dir), config)
    pickled = tmp_path / "pickled"
    shutil.copytree(tiny_adapter, pickled)
    (pickled / WEIGHTS).rename(pickled / "adapter_model.bin")
    with pytest.raises(StudioError, match="holds no adapter_model.safetensors"):
        check_adapters([pickled], str(tiny_qwen2_dir), config)
    other = with_recorded_base(tiny_adapter, tmp_path / "ia3", str(tiny_qwen2_dir))
    config_path = other / "adapter_config.json"
    config_path.write_text(json.dumps({**json.loads(config_path.read_text()), "peft_type": "IA3"}))
    with pytest.raises(StudioError, match="peft_type 'IA3'.*LoRA adapters only"):
        check_adapters([other], str(tiny_qwen2_dir), config)
    with pytest.raises(StudioError, match="is not a LoRA adapter folder"):
        check_adapters([tmp_path], str(tiny_qwen2_dir), config)


@pytest.mark.builtin
def test_the_builtin_model_and_its_cache_folder_are_one_model(
    builtin_model_dir: Path, tmp_path: Path
) -> None:
    assert model_identity(str(builtin_model_dir)) == DEFAULT_MODEL
    assert model_identity(DEFAULT_MODEL) == DEFAULT_MODEL
    # the cache folder recorded on another machine
    elsewhere = "/home/someone/.cache/text2sql-studio/models/qwen2.5-coder-0.5b-instruct"
    assert model_identity(elsewhere) == DEFAULT_MODEL
    copy = tmp_path / "qwen2.5-coder-0.5b-instruct"
    copy.mkdir()
    assert model_identity(str(copy)) == str(copy), "an existing folder elsewhere is its own model"
    assert model_identity("Qwen/Qwen2.5-Coder-0.5B-Instruct") == "Qwen/Qwen2.5-Coder-0.5B-Instruct"


def test_a_gguf_file_and_its_cache_folder_are_one_model(
    builtin_tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    gguf_file = save_tiny_gguf(tmp_path / "tiny.gguf", builtin_tokenizer_dir)
    folder = resolve_model_dir(str(gguf_file))
    assert model_identity(str(gguf_file)) == model_identity(str(folder)) == str(folder)
