"""A merged Hugging Face folder written as a GGUF file for llama.cpp and Ollama.

Families: Qwen2, Qwen3 and Qwen3-MoE. Tensor names come from gguf's TensorNameMap; a MoE
layer's experts are stacked into one tensor per projection (`ffn_gate_exps`, `ffn_up_exps`,
`ffn_down_exps`: experts first), as llama.cpp reads them. Matrices are written in f16 or bf16;
norms, biases and the expert router stay float32, as llama.cpp's own converter keeps them. The
tokenizer (byte-level BPE vocabulary padded to the embedding rows, merges, special tokens, chat
template) goes into the metadata. Tensors are read, converted and written one at a time.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.errors import StudioError
from studio.models.cache import Log, log_to_stderr

GGUF_DTYPES = ("f16", "bf16")
EXPERT = re.compile(
    r"model\.layers\.(\d+)\.mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight"
)
CONTROL_LOOKING = re.compile(r"^<\|.*\|>$")


@dataclass(frozen=True)
class Family:
    """How one model_type maps onto a llama.cpp architecture."""

    arch: str
    moe: bool = False


def families() -> dict[str, Family]:
    import gguf

    return {
        "qwen2": Family(gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN2]),
        "qwen3": Family(gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN3]),
        "qwen3_moe": Family(gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN3MOE], moe=True),
    }


@dataclass(frozen=True)
class PlannedTensor:
    """One GGUF tensor: its name, shape (rows last-to-first as in torch), type, and how to read
    its data from the folder already converted to that type."""

    name: str
    shape: tuple[int, ...]
    qtype: Any
    load: Callable[[], Any]


def family_of(config: Any) -> Family:
    """The family of a transformers config, or a StudioError naming those supported, or what
    in the config llama.cpp would compute differently."""
    found = families().get(config.model_type)
    if found is None:
        raise StudioError(
            f"GGUF export covers the {', '.join(families())} model types; this model is "
            f"{config.model_type}: export the Hugging Face folder alone (drop --gguf)"
        )
    rope = getattr(config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise StudioError(
            f"the model uses {rope['rope_type']} RoPE scaling, which this GGUF export does not "
            "write; export the Hugging Face folder alone (drop --gguf)"
        )
    if getattr(config, "use_sliding_window", False):
        raise StudioError(
            "the model uses sliding-window attention, which this GGUF export does not write; "
            "export the Hugging Face folder alone (drop --gguf)"
        )
    if found.moe and (
        not config.norm_topk_prob or config.mlp_only_layers or config.decoder_sparse_step != 1
    ):
        raise StudioError(
            "llama.cpp runs every Qwen3-MoE layer as sparse with the top-k router weights "
            "normalised; this model sets norm_topk_prob false, mlp_only_layers or "
            "decoder_sparse_step, so its GGUF would answer differently: export the Hugging Face "
            "folder alone (drop --gguf)"
        )
    return found


def _gguf_type(dtype: str) -> tuple[Any, Any]:
    import gguf

    if dtype == "f16":
        return gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16
    if dtype == "bf16":
        return gguf.GGMLQuantizationType.BF16, gguf.LlamaFileType.MOSTLY_BF16
    raise StudioError(f"unknown GGUF type {dtype!r}; use one of {', '.join(GGUF_DTYPES)}")


def _converted(tensor: Any, qtype: Any) -> Any:
    """A torch tensor as the numpy data of a GGUF tensor of `qtype` (F32, F16 or BF16)."""
    import gguf
    import numpy as np
    from gguf import quants

    data = tensor.float().numpy()
    if qtype == gguf.GGMLQuantizationType.F32:
        return data.astype(np.float32)
    if qtype == gguf.GGMLQuantizationType.F16:
        return data.astype(np.float16)
    return quants.quantize(data, qtype)


def plan_tensors(folder: Path, config: Any, dtype: str) -> list[PlannedTensor]:
    """The GGUF tensors of the model in `folder`: each safetensors tensor under its GGUF name,
    a MoE layer's experts stacked per projection."""
    import gguf
    from safetensors import safe_open

    family = family_of(config)
    matrix_type, _ = _gguf_type(dtype)
    arch = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == family.arch)
    names = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    where: dict[str, Path] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for path in sorted(folder.glob("*.safetensors")):
        with safe_open(path, "pt") as handle:
            for name in handle.keys():
                where[name] = path
                shapes[name] = tuple(handle.get_slice(name).get_shape())
    if not where:
        raise StudioError(f"{folder} holds no .safetensors weights to write into a GGUF file")

    def planned(hf_name: str, sources: list[str], stacked: bool) -> PlannedTensor:
        base, _, suffix = hf_name.rpartition(".")
        mapped = names.get_name(base)
        if mapped is None:
            raise StudioError(
                f"{folder}: tensor {hf_name} has no GGUF name in llama.cpp's {family.arch} "
                "layout; the weights do not match the model type config.json names"
            )
        shape = (len(sources), *shapes[sources[0]]) if stacked else shapes[sources[0]]
        # llama.cpp keeps vectors (norms, biases) and the MoE router in float32
        keep_f32 = len(shape) == 1 or mapped.endswith(".ffn_gate_inp")
        qtype = gguf.GGMLQuantizationType.F32 if keep_f32 else matrix_type

        def load() -> Any:
            import torch

            tensors = []
            for source in sources:
                with safe_open(where[source], "pt") as handle:
                    tensors.append(handle.get_tensor(source))
            return _converted(torch.stack(tensors) if stacked else tensors[0], qtype)

        return PlannedTensor(f"{mapped}.{suffix}", shape, qtype, load)

    experts: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
    plan = []
    for name in where:
        if match := EXPERT.fullmatch(name):
            layer, index, projection = match.groups()
            experts[(int(layer), projection)].append((int(index), name))
        else:
            plan.append(planned(name, [name], stacked=False))
    for (layer, projection), members in sorted(experts.items()):
        indices = sorted(index for index, _ in members)
        if indices != list(range(config.num_experts)):
            raise StudioError(
                f"{folder}: layer {layer} holds {projection} of {len(indices)} experts, not of "
                f"all {config.num_experts}; the weights are incomplete"
            )
        stacked_name = f"model.layers.{layer}.mlp.experts.{projection}.weight"
        plan.append(planned(stacked_name, [name for _, name in sorted(members)], stacked=True))
    return plan


def tensor_bytes(tensor: PlannedTensor) -> int:
    """The size of a planned tensor's data (4 bytes a value in F32, 2 in F16 and BF16)."""
    import math

    import gguf

    width = 4 if tensor.qtype == gguf.GGMLQuantizationType.F32 else 2
    return math.prod(tensor.shape) * width


def tokenizer_vocab(tokenizer: Any, vocab_size: int) -> tuple[list[str], list[int]]:
    """The GGUF token list and token types: the byte-level BPE vocabulary by id, added tokens
    as control (special, or `<|...|>`) or user-defined, ids beyond the tokenizer `[PAD<id>]`."""
    import gguf

    vocab = tokenizer.get_vocab()
    if max(vocab.values()) >= vocab_size:
        raise StudioError(
            f"the tokenizer has ids up to {max(vocab.values())} but the model embeds "
            f"{vocab_size}; the tokenizer does not belong to the model"
        )
    by_id = {index: token for token, index in vocab.items()}
    added = tokenizer.get_added_vocab()
    decoder = tokenizer.added_tokens_decoder
    tokens, types = [], []
    for index in range(vocab_size):
        token = by_id.get(index)
        if token is None:
            tokens.append(f"[PAD{index}]")
            types.append(gguf.TokenType.UNUSED)
        elif token in added:
            tokens.append(token)
            special = decoder[index].special or CONTROL_LOOKING.match(token)
            types.append(gguf.TokenType.CONTROL if special else gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(token)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def _check_bpe(folder: Path) -> None:
    path = folder / "tokenizer.json"
    model = json.loads(path.read_text(encoding="utf-8")).get("model", {}) if path.is_file() else {}
    if model.get("type") != "BPE":
        raise StudioError(
            f"{folder} has no byte-level BPE tokenizer.json, which the GGUF tokenizer of the "
            "Qwen families needs; copy the base model's tokenizer.json into it"
        )


def write_gguf(
    folder: Path, out_path: Path, dtype: str, name: str, log: Log = log_to_stderr
) -> tuple[list[PlannedTensor], dict[str, Any]]:
    """Write the model in `folder` to `out_path` in `dtype` (f16 or bf16). Returns the tensors
    written and the metadata to read back."""
    import gguf
    import numpy as np
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(folder)
    family = family_of(config)
    _check_bpe(folder)
    plan = plan_tensors(folder, config, dtype)
    _, file_type = _gguf_type(dtype)
    writer = gguf.GGUFWriter(str(out_path), family.arch)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope_theta = (getattr(config, "rope_parameters", None) or {}).get("rope_theta") or getattr(
        config, "rope_theta", 10_000.0
    )
    writer.add_name(name)
    writer.add_file_type(int(file_type))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(float(rope_theta))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    if family.arch != "qwen2":
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    if family.moe:
        writer.add_expert_count(config.num_experts)
        writer.add_expert_used_count(config.num_experts_per_tok)
        writer.add_expert_feed_forward_length(config.moe_intermediate_size)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokens, types = tokenizer_vocab(tokenizer, config.vocab_size)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(folder, load_merges=True, n_vocab=len(tokens))
    special.chat_template = tokenizer.chat_template
    special.add_special_token["bos"] = False
    special.add_to_gguf(writer, quiet=True)
    for planned in plan:
        writer.add_tensor_info(
            planned.name, planned.shape, np.dtype(np.float32), tensor_bytes(planned), planned.qtype
        )
    log(f"writing {len(plan)} tensors to {out_path} ({dtype})")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for planned in plan:
        writer.write_tensor_data(planned.load())
    writer.close()
    metadata = {
        "general.architecture": family.arch,
        "general.file_type": int(file_type),
        f"{family.arch}.block_count": config.num_hidden_layers,
        f"{family.arch}.embedding_length": config.hidden_size,
        f"{family.arch}.attention.head_count": config.num_attention_heads,
        "tokenizer.ggml.tokens": len(tokens),
        "tokenizer.ggml.eos_token_id": tokenizer.eos_token_id,
        "tokenizer.chat_template": tokenizer.chat_template,
    }
    return plan, metadata
