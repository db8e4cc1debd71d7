"""The Ollama Modelfile: the system prompt the adapter's training run used (read from its datasets),
and a TEMPLATE that renders a turn as the model's own chat template does."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from studio.data.prompts import render_chat
from studio.data.registry import register_dataset
from studio.export.pipeline import ExportRequest, export_model
from studio.models.references import load_tokenizer
from studio.workspace import Workspace

SYSTEM = "You write SQLite queries for the shop database only."
MODELFILE_STRING = re.compile(r'^(\w+) (?:"""(.*?)"""|([^\n]*))$', re.S | re.M)


def go_render(template: str, values: dict[str, str]) -> str:
    """Ollama's rendering of the template forms the Modelfile uses: {{ if .X }}...{{ end }} and
    {{ .X }}."""
    shown = re.sub(
        r"\{\{ if \.(\w+) \}\}(.*?)\{\{ end \}\}",
        lambda m: m.group(2) if values.get(m.group(1)) else "",
        template,
        flags=re.S,
    )
    return re.sub(r"\{\{ \.(\w+) \}\}", lambda m: values.get(m.group(1), ""), shown)


def test_modelfile_carries_the_trained_system_prompt(
    tiny_model, workspace: Workspace, tmp_path: Path
) -> None:
    model_dir, adapter = tiny_model("tiny-qwen2")
    rows = [
        {"instruction": f"Question {i}", "input": "", "output": "SELECT 1", "system": SYSTEM}
        for i in range(3)
    ]
    register_dataset(workspace, "shop_sft", rows, "sft")
    run_dir = workspace.runs_dir / "train-shop"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(
        f"model_name_or_path: {model_dir}\nstage: sft\nfinetuning_type: lora\ndataset: shop_sft\n"
    )
    run_adapter = shutil.copytree(adapter, run_dir / "adapter")

    out = tmp_path / "shop"
    request = ExportRequest(str(model_dir), (str(run_adapter),), out, "f16", "f16", True)
    result = export_model(request)
    assert result.record["modelfile"]["system_prompt"] == SYSTEM
    entries = {}
    for key, quoted, plain in MODELFILE_STRING.findall((out / "Modelfile").read_text()):
        entries.setdefault(key, []).append(quoted or plain)
    assert entries["FROM"] == ["./shop.f16.gguf"] and (out / "shop.f16.gguf").is_file()
    assert entries["SYSTEM"] == [SYSTEM]
    assert entries["PARAMETER"] == ['stop "<|im_end|>"', 'stop "<|endoftext|>"', "temperature 0"]

    tokenizer = load_tokenizer(str(model_dir))
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "How many?"}]
    prompt = go_render(entries["TEMPLATE"][0], {"System": SYSTEM, "Prompt": "How many?"})
    assert prompt.startswith(render_chat(tokenizer, messages))
    assert prompt == render_chat(tokenizer, messages) + "<|im_end|>\n"
