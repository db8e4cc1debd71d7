"""`train --check` and a starting job check what they can without loading weights: the model
folder and its config, the adapters against it, finite numbers, lora_target against the model's
modules, cutoff_len against the datasets, and keys given twice."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file, save_file

from studio.cli import main
from studio.errors import StudioError
from studio.models.adapters import NonFiniteWeightsError
from studio.testing.random_models import save_random_model
from studio.train.config import TrainConfig
from studio.train.policy import dpo_policy, sft_policy
from studio.train.worker import train
from studio.workspace import Workspace

from .conftest import new_run

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")
BUILTIN = "builtin:qwen2.5-coder-0.5b-instruct"
Configs = Callable[..., TrainConfig]
Capture = pytest.CaptureFixture[str]


def write_yaml(tmp_path: Path, cfg: TrainConfig, **keys: object) -> Path:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({**cfg.to_dict(), **keys}))
    return path


def check(ws: Workspace, path: Path, capsys: Capture) -> tuple[int, str]:
    """`train --check PATH`: the exit code and stdout + stderr."""
    code = main(["train", "--check", str(path), "--workspace", str(ws.root)])
    out = capsys.readouterr()
    return code, out.out + out.err


def check_config(
    ws: Workspace, tmp_path: Path, cfg: TrainConfig, capsys: Capture, **keys: object
) -> tuple[int, str]:
    """`train --check` of `cfg` (with `keys` written over it)."""
    return check(ws, write_yaml(tmp_path, cfg, **keys), capsys)


def copy_model(source: Path, target: Path, weights: bool = True) -> Path:
    """A copy of a model folder: its config and tokenizer, and its weights when `weights`."""
    target.mkdir()
    for name in ("config.json", *TOKENIZER_FILES, *(["model.safetensors"] if weights else [])):
        shutil.copy(source / name, target / name)
    return target


@pytest.fixture(scope="module")
def nan_adapter(sft_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the trained SFT adapter with a NaN in one LoRA tensor."""
    adapter = shutil.copytree(sft_run / "adapter", tmp_path_factory.mktemp("nan") / "adapter")
    tensors = load_file(adapter / "adapter_model.safetensors")
    tensors[min(tensors)][0, 0] = math.nan
    save_file(tensors, adapter / "adapter_model.safetensors")
    return adapter


@pytest.fixture(scope="module")
def twin_dir(builtin_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny random Qwen2 model: the shapes of tiny_qwen2_dir, other weights."""
    folder = tmp_path_factory.mktemp("twin")
    return save_random_model("tiny-qwen2", folder, str(builtin_tokenizer_dir), seed=1)


def test_a_sound_config_is_valid(
    toy_workspace: Workspace, tiny_config: Configs, sft_run: Path, tmp_path: Path, capsys: Capture
) -> None:
    path = write_yaml(tmp_path, tiny_config(lora_target=["q_proj", "v_proj"]))
    valid = f"{path}: valid (sft, {tiny_config().model_name_or_path}, datasets toy_sft)\n"
    assert check(toy_workspace, path, capsys) == (0, valid)
    dpo = tiny_config(
        stage="dpo", dataset="toy_pairs", adapter_name_or_path=str(sft_run / "adapter")
    )
    assert check_config(toy_workspace, tmp_path, dpo, capsys)[0] == 0


def test_the_model_folder_and_its_config_are_checked(
    toy_workspace: Workspace,
    tiny_config: Configs,
    tiny_qwen2_dir: Path,
    tmp_path: Path,
    capsys: Capture,
) -> None:
    def check_model(folder: Path) -> tuple[int, str]:
        return check_config(
            toy_workspace, tmp_path, tiny_config(), capsys, model_name_or_path=str(folder)
        )

    missing = tmp_path / "no-such-model"
    code, out = check_model(missing)
    assert code == 2 and f"config key 'model_name_or_path': model '{missing}' not found" in out

    weightless = copy_model(tiny_qwen2_dir, tmp_path / "weightless", weights=False)
    code, out = check_model(weightless)
    assert code == 2 and f"{weightless} has a config.json but no weights" in out

    unknown = copy_model(tiny_qwen2_dir, tmp_path / "unknown")
    config = json.loads((unknown / "config.json").read_text())
    config["model_type"] = "no-such-architecture"
    (unknown / "config.json").write_text(json.dumps(config))
    code, out = check_model(unknown)
    assert code == 2
    assert f"{unknown / 'config.json'} is not a config transformers can build a model from" in out


def test_numbers_must_be_finite(
    toy_workspace: Workspace, tiny_config: Configs, tmp_path: Path, capsys: Capture
) -> None:
    path = write_yaml(tmp_path, tiny_config())
    path.write_text(path.read_text().replace("learning_rate: 0.005", "learning_rate: .nan"))
    code, out = check(toy_workspace, path, capsys)
    assert code == 2
    assert (
        "config key 'learning_rate': nan is not a finite number; give a number > 0 and <= 1"
    ) in out
    code = main(
        [
            "train",
            "--check",
            str(write_yaml(tmp_path, tiny_config())),
            "--set",
            "max_grad_norm=inf",
            "--workspace",
            str(toy_workspace.root),
        ]
    )
    assert code == 2 and "'max_grad_norm': inf is not a finite number" in capsys.readouterr().err


def test_a_key_given_twice_is_refused(
    toy_workspace: Workspace, tiny_config: Configs, tmp_path: Path, capsys: Capture
) -> None:
    path = write_yaml(tmp_path, tiny_config())
    path.write_text(path.read_text() + "learning_rate: 1.0\n")
    lines = path.read_text().splitlines()
    first = lines.index("learning_rate: 0.005") + 1
    code, out = check(toy_workspace, path, capsys)
    assert code == 2
    assert f"key 'learning_rate' is given twice (lines {first} and {len(lines)}); keep one" in out


def test_lora_target_must_name_modules_of_the_model(
    toy_workspace: Workspace, tiny_config: Configs, tmp_path: Path, capsys: Capture
) -> None:
    def check_targets(*targets: str) -> tuple[int, str]:
        return check_config(toy_workspace, tmp_path, tiny_config(lora_target=list(targets)), capsys)

    code, out = check_targets("q_proj", "qv_proj")
    assert code == 2 and "config key 'lora_target': 'qv_proj' matches no module of" in out
    assert (
        "(qwen2); its linear layers are down_proj, gate_proj, k_proj, o_proj, q_proj, "
        "up_proj, v_proj; name some of them, or 'all'"
    ) in out
    code, out = check_targets("q_proj", "self_attn.q_proj")
    assert code == 2 and "'q_proj' only repeats modules the other names already cover" in out
    code, out = check_targets("input_layernorm")
    assert code == 2
    assert "config key 'lora_target': PEFT cannot put a LoRA on input_layernorm" in out


def test_lora_target_on_a_moe_model_follows_peft_s_expert_names(
    toy_workspace: Workspace,
    tiny_config: Configs,
    tiny_qwen3_moe_dir: Path,
    tmp_path: Path,
    capsys: Capture,
) -> None:
    def check_targets(*targets: str) -> tuple[int, str]:
        cfg = tiny_config(model_name_or_path=str(tiny_qwen3_moe_dir), lora_target=list(targets))
        return check_config(toy_workspace, tmp_path, cfg, capsys)

    assert check_targets("all")[0] == 0
    # PEFT maps the experts' gate_proj and up_proj onto their fused gate_up_proj, together only
    assert check_targets("q_proj", "gate_proj", "up_proj")[0] == 0
    code, out = check_targets("gate_proj")
    assert code == 2 and "PEFT cannot put a LoRA on gate_proj of" in out
    assert "without also targeting up_proj" in out
    code, out = check_targets("q_proj", "qv_proj")
    assert code == 2 and "'qv_proj' matches no module of" in out
    assert "(qwen3_moe); its linear layers are k_proj, o_proj, q_proj, v_proj" in out


@pytest.mark.parametrize(("stage", "dataset"), [("sft", "toy_sft"), ("dpo", "toy_pairs")])
def test_cutoff_len_must_leave_an_example_to_train_on(
    toy_workspace: Workspace,
    tiny_config: Configs,
    tiny_qwen2_dir: Path,
    tmp_path: Path,
    capsys: Capture,
    stage: str,
    dataset: str,
) -> None:
    from studio.models.references import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_qwen2_dir))
    messages = [
        {"role": "system", "content": "You write SQLite queries."},
        {"role": "user", "content": "How many singers are older than 20?"},
    ]
    prompt = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, enable_thinking=False, tokenize=False
    )
    # every toy prompt has this length
    shortest = len(tokenizer(prompt, add_special_tokens=False).input_ids)
    too_short = tiny_config(stage=stage, dataset=dataset, cutoff_len=shortest)
    code, out = check_config(toy_workspace, tmp_path, too_short, capsys)
    assert code == 2
    assert (
        f"config key 'cutoff_len': {shortest} tokens leave no training example: the shortest "
        f"of the 12 prompts of {dataset} is {shortest} tokens"
    ) in out
    assert f"raise cutoff_len above {shortest}" in out
    enough = tiny_config(stage=stage, dataset=dataset, cutoff_len=shortest + 1)
    assert check_config(toy_workspace, tmp_path, enough, capsys)[0] == 0


def test_adapters_are_checked_against_the_model(
    toy_workspace: Workspace,
    tiny_config: Configs,
    sft_run: Path,
    nan_adapter: Path,
    twin_dir: Path,
    tiny_qwen2_dir: Path,
    tmp_path: Path,
    capsys: Capture,
) -> None:
    def check_adapter(adapter: Path, **keys: object) -> tuple[int, str]:
        cfg = tiny_config(adapter_name_or_path=str(adapter), **keys)
        return check_config(toy_workspace, tmp_path, cfg, capsys)

    code, out = check_adapter(nan_adapter)
    assert code == 2
    assert f"adapter {nan_adapter} holds NaN or infinite weights in 1 tensor(s)" in out
    adapter = sft_run / "adapter"
    code, out = check_adapter(adapter, model_name_or_path=str(twin_dir))
    assert code == 2
    assert f"adapter {adapter} was trained on {tiny_qwen2_dir}, not on {twin_dir}" in out
    code, out = check_adapter(tmp_path)
    assert code == 2
    assert f"config key 'adapter_name_or_path': {tmp_path} is not a LoRA adapter folder" in out


@pytest.mark.builtin
def test_a_shape_mismatch_is_one_line_from_the_real_cli(
    toy_workspace: Workspace,
    tiny_config: Configs,
    sft_run: Path,
    builtin_model_dir: Path,
    tmp_path: Path,
) -> None:
    adapter = sft_run / "adapter"
    cfg = tiny_config(model_name_or_path=BUILTIN, adapter_name_or_path=str(adapter))
    path = write_yaml(tmp_path, cfg)
    for extra in (["--check"], []):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "studio",
                "train",
                str(path),
                *extra,
                "--workspace",
                str(toy_workspace.root),
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.startswith(f"error: adapter {adapter} does not fit {BUILTIN}:")
        assert len(result.stderr.splitlines()) == 1
        assert "[8, 896] for this model" in result.stderr
    assert not any(toy_workspace.runs_dir.iterdir()), "a refused config queues no run"


def test_a_starting_job_runs_the_checks_before_any_weight_loads(
    toy_workspace: Workspace, tiny_config: Configs, tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    unreadable = copy_model(tiny_qwen2_dir, tmp_path / "unreadable", weights=False)
    (unreadable / "model.safetensors").write_bytes(b"not a safetensors file")
    cfg = tiny_config(model_name_or_path=str(unreadable), lora_target=["qv_proj"])
    run_dir = new_run(toy_workspace, cfg)
    expected = "config key 'lora_target': PEFT cannot put a LoRA on qv_proj .*not found"
    with pytest.raises(StudioError, match=expected):
        train(run_dir)
    assert not (run_dir / "metrics.jsonl").exists()


def test_every_training_load_path_refuses_a_nan_adapter(
    toy_workspace: Workspace, tiny_config: Configs, nan_adapter: Path
) -> None:
    sft = tiny_config(adapter_name_or_path=str(nan_adapter))
    with pytest.raises(NonFiniteWeightsError, match=f"adapter {nan_adapter} holds NaN"):
        train(new_run(toy_workspace, sft))
    with pytest.raises(NonFiniteWeightsError):
        sft_policy(sft)
    for reference in ("sft_adapter", "merged_sft"):
        dpo = tiny_config(
            stage="dpo",
            dataset="toy_pairs",
            adapter_name_or_path=str(nan_adapter),
            dpo_reference=reference,
        )
        with pytest.raises(NonFiniteWeightsError):
            dpo_policy(dpo)
