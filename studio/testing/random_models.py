"""Randomly initialised models of real architectures, for fast tests and GPU benchmarks.

`tiny-qwen2`, `tiny-qwen3` and `tiny-qwen3-moe` have the built-in model's vocabulary so they
share its tokenizer, or a cut of it (`vocab_tokens`: a smaller output layer); `qwen3-coder-30b-a3b`
is the published Qwen3-Coder-30B-A3B-Instruct architecture (random weights: only for memory and
speed benchmarks).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from studio.models.references import load_tokenizer

VOCAB_SIZE = 151_936
ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")

ARCHITECTURES: dict[str, dict[str, Any]] = {
    "tiny-qwen2": {
        "model_type": "qwen2",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": VOCAB_SIZE,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": True,
    },
    "tiny-qwen3": {
        "model_type": "qwen3",
        "hidden_size": 64,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "vocab_size": VOCAB_SIZE,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": True,
    },
    "tiny-qwen3-moe": {
        "model_type": "qwen3_moe",
        "hidden_size": 64,
        "intermediate_size": 128,
        "moe_intermediate_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 16,
        "num_experts": 8,
        "num_experts_per_tok": 2,
        "vocab_size": VOCAB_SIZE,
        "max_position_embeddings": 4096,
        "tie_word_embeddings": False,
    },
    "qwen3-coder-30b-a3b": {
        "model_type": "qwen3_moe",
        "hidden_size": 2048,
        "intermediate_size": 6144,
        "moe_intermediate_size": 768,
        "num_hidden_layers": 48,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "head_dim": 128,
        "num_experts": 128,
        "num_experts_per_tok": 8,
        "norm_topk_prob": True,
        "vocab_size": VOCAB_SIZE,
        "max_position_embeddings": 262_144,
        "rope_theta": 10_000_000.0,
        "rms_norm_eps": 1e-6,
        "tie_word_embeddings": False,
    },
}


def random_config(architecture: str) -> Any:
    """A transformers config for one of ARCHITECTURES."""
    from transformers import AutoConfig

    settings = dict(ARCHITECTURES[architecture])
    return AutoConfig.for_model(settings.pop("model_type"), **settings)


def save_small_tokenizer(tokenizer_dir: Path, out_dir: Path, vocab_tokens: int) -> Path:
    """Write the tokenizer in `tokenizer_dir` cut to its first `vocab_tokens` byte-level BPE
    tokens (every byte among them, so any text still encodes) and the merges among those, its
    added tokens (ChatML's included) renumbered to follow, and its chat template."""
    import json

    source = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    ranked = sorted(source["model"]["vocab"].items(), key=lambda item: item[1])[:vocab_tokens]
    kept = {token for token, _ in ranked}
    source["model"]["vocab"] = dict(ranked)
    source["model"]["merges"] = [
        [left, right]
        for left, right in (
            merge.split(" ", 1) if isinstance(merge, str) else merge
            for merge in source["model"]["merges"]
        )
        if left in kept and right in kept and left + right in kept
    ]
    renumbered = {}
    for offset, added in enumerate(source["added_tokens"]):
        renumbered[added["id"]] = added["id"] = vocab_tokens + offset
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "tokenizer.json").write_text(json.dumps(source, ensure_ascii=False))
    config = json.loads((tokenizer_dir / "tokenizer_config.json").read_text())
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        if config.get(key) is not None:
            config[key] = renumbered[config[key]]
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    shutil.copy(tokenizer_dir / "chat_template.jinja", out_dir / "chat_template.jinja")
    return out_dir


def save_random_model(
    architecture: str,
    out_dir: Path,
    tokenizer_ref: str,
    seed: int = 0,
    vocab_tokens: int | None = None,
) -> Path:
    """Build a seeded random model of `architecture` and save it with `tokenizer_ref`'s tokenizer;
    with `vocab_tokens`, the tokenizer is cut to that many tokens (`save_small_tokenizer`, given a
    tokenizer folder) and the model's vocabulary to the cut tokenizer's."""
    import torch
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = random_config(architecture)
    if vocab_tokens is not None:
        small = save_small_tokenizer(Path(tokenizer_ref), out_dir / "small-tokenizer", vocab_tokens)
        tokenizer = load_tokenizer(str(small))
        shutil.rmtree(small)
        config.vocab_size = len(tokenizer)
    else:
        tokenizer = load_tokenizer(tokenizer_ref)
    config.pad_token_id = tokenizer.pad_token_id
    config.eos_token_id = tokenizer.eos_token_id
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def save_random_adapter(
    model_dir: Path, target: Path, targets: tuple[str, ...] = ATTENTION_PROJECTIONS, seed: int = 1
) -> Path:
    """A rank-4 LoRA on `targets` of the model in `model_dir`, initialised at random (not as a
    no-op), recording `model_dir` as its base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    model.name_or_path = str(model_dir)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=list(targets), init_lora_weights=False)
    get_peft_model(model, lora).save_pretrained(target)
    return target


def save_tiny_gguf(
    out_path: Path, tokenizer_dir: Path, vocab_tokens: int = 1000, seed: int = 0
) -> Path:
    """Write a tiny random Qwen2 model as a float32 GGUF file.

    Its vocabulary is the first `vocab_tokens` byte-level BPE tokens of the tokenizer in
    `tokenizer_dir` (plus the ChatML special tokens) and its chat template is that
    tokenizer's, so transformers' GGUF loader converts it in about a second.
    """
    import json

    import gguf
    import numpy as np

    source = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    ranked = sorted(source["model"]["vocab"].items(), key=lambda item: item[1])[:vocab_tokens]
    tokens = [token for token, _ in ranked]
    kept = set(tokens)
    merges = [
        f"{left} {right}"
        for left, right in source["model"]["merges"]
        if left in kept and right in kept and left + right in kept
    ]
    tokens += ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    hidden, layers, heads, kv_heads, inter = 64, 2, 4, 2, 128
    head_dim = hidden // heads
    writer = gguf.GGUFWriter(str(out_path), "qwen2")
    writer.add_name("tiny-qwen2")
    writer.add_block_count(layers)
    writer.add_context_length(4096)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(inter)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(1e6)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types([1] * vocab_tokens + [3] * 3)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab_tokens)
    writer.add_pad_token_id(vocab_tokens)
    writer.add_eos_token_id(vocab_tokens + 2)
    writer.add_add_bos_token(False)
    writer.add_chat_template((tokenizer_dir / "chat_template.jinja").read_text())
    rng = np.random.default_rng(seed)

    def random_tensor(name: str, *shape: int) -> None:
        writer.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    random_tensor("token_embd.weight", len(tokens), hidden)
    for i in range(layers):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(hidden, np.float32))
        for name, rows in (
            ("attn_q", heads * head_dim),
            ("attn_k", kv_heads * head_dim),
            ("attn_v", kv_heads * head_dim),
        ):
            random_tensor(f"blk.{i}.{name}.weight", rows, hidden)
            random_tensor(f"blk.{i}.{name}.bias", rows)
        random_tensor(f"blk.{i}.attn_output.weight", hidden, heads * head_dim)
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(hidden, np.float32))
        random_tensor(f"blk.{i}.ffn_gate.weight", inter, hidden)
        random_tensor(f"blk.{i}.ffn_up.weight", inter, hidden)
        random_tensor(f"blk.{i}.ffn_down.weight", hidden, inter)
    writer.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    random_tensor("output.weight", len(tokens), hidden)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_path
