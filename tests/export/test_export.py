"""Export of tiny random Qwen2, Qwen3 and Qwen3-MoE models with a LoRA adapter, through the CLI:
the merged folder gives the unmerged stack's logits, the GGUF reads back as written and, converted
back by the studio's own GGUF converter, gives the merged folder's logits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.cli import main
from studio.errors import StudioError
from studio.export.checks import check_prompts, compare_logits, prompt_logits
from studio.export.pipeline import ExportRequest, export_model
from studio.models.loading import load_model
from studio.models.references import resolve_model_dir
from studio.workspace import Workspace

ARCHITECTURES = {"tiny-qwen2": "qwen2", "tiny-qwen3": "qwen3", "tiny-qwen3-moe": "qwen3moe"}


def logits_of(ref: str, adapters: list[str], prompts: list[str]) -> list:
    loaded = load_model(ref, adapters=adapters, dtype="float32", device="cpu")
    return prompt_logits(loaded.model, loaded.tokenizer, prompts)


@pytest.mark.parametrize(
    ("architecture", "dtype"),
    [("tiny-qwen2", "f16"), ("tiny-qwen3", "bf16"), ("tiny-qwen3-moe", "bf16")],
)
def test_export_merges_writes_gguf_and_reads_back(
    architecture: str,
    dtype: str,
    tiny_model,
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import gguf

    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    model_dir, adapter = tiny_model(architecture)
    out = tmp_path / "exported"
    argv = ["model", "export", str(model_dir), "--adapter", str(adapter), "--out", str(out)]
    argv += ["--dtype", dtype, "--gguf", dtype, "--workspace", str(workspace.root)]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    gguf_file = out / f"exported.{dtype}.gguf"
    assert {
        "config.json",
        "generation_config.json",
        "chat_template.jinja",
        "tokenizer.json",
        "studio-export.json",
        gguf_file.name,
    } <= set(printed["files"])
    assert list(out.glob("*.safetensors"))

    # the merged folder answers as the unmerged stack (within the dtype's rounding)
    merged = load_model(str(out), dtype="float32", device="cpu")
    prompts = check_prompts(merged.tokenizer)
    stack = logits_of(str(model_dir), [str(adapter)], prompts)
    base = logits_of(str(model_dir), [], prompts)
    to_stack = compare_logits(stack, prompt_logits(merged.model, merged.tokenizer, prompts), 0)
    to_base = compare_logits(base, stack, 0)
    assert to_stack.relative_diff < 0.06 and to_base.relative_diff > 10 * to_stack.relative_diff

    # the GGUF as llama.cpp reads it: architecture, one tensor per weight, experts stacked
    reader = gguf.GGUFReader(gguf_file)
    arch = ARCHITECTURES[architecture]
    assert reader.fields["general.architecture"].contents() == arch
    names = {tensor.name: [int(n) for n in reversed(tensor.shape)] for tensor in reader.tensors}
    assert names["blk.0.attn_q.weight"] == [64, 64]
    if arch == "qwen3moe":
        assert names["blk.1.ffn_gate_exps.weight"] == [8, 32, 64]
        assert names["blk.1.ffn_down_exps.weight"] == [8, 64, 32]
        assert names["blk.1.ffn_gate_inp.weight"] == [8, 64]
    assert printed["gguf"]["check"]["tensors"] == len(reader.tensors)
    assert reader.fields["tokenizer.chat_template"].contents() == merged.tokenizer.chat_template

    # converted back by the studio (the path a .gguf model reference takes): the same logits
    converted = resolve_model_dir(str(gguf_file))
    back = load_model(str(converted), dtype="float32", device="cpu")
    assert [back.tokenizer(p).input_ids for p in prompts] == [
        merged.tokenizer(p).input_ids for p in prompts
    ]
    found = prompt_logits(back.model, back.tokenizer, prompts)
    merged_logits = prompt_logits(merged.model, merged.tokenizer, prompts)
    assert compare_logits(merged_logits, found, 0).relative_diff < 1e-5


def test_export_refuses_before_writing(tiny_model, tmp_path: Path) -> None:
    model_dir, adapter = tiny_model("tiny-qwen3-moe", norm_topk_prob=False)
    out = tmp_path / "out"
    with pytest.raises(StudioError, match="norm_topk_prob"):
        export_model(ExportRequest(str(model_dir), (str(adapter),), out, "f32", "f16"))
    assert not out.exists() and list(tmp_path.iterdir()) == []

    with pytest.raises(StudioError, match="add --gguf"):
        export_model(ExportRequest(str(model_dir), (), out, "f32", None, modelfile=True))
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(StudioError, match="never replace"):
        export_model(ExportRequest(str(model_dir), (), out, "f32"))
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
