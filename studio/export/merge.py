"""A base model plus a LoRA adapter stack, merged into one full Hugging Face model folder.

Each adapter is folded into the base weights in order (PEFT `merge_and_unload`); the result is
saved in the chosen dtype as safetensors shards with the base's tokenizer, chat template and a
generation config whose end-of-sequence ids include the chat template's end-of-turn token.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import StudioError
from studio.models.cache import Log, log_to_stderr

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

DTYPES = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}
MAX_SHARD_SIZE = "2GB"
END_OF_TURN = "<|im_end|>"


def torch_dtype(dtype: str) -> str:
    """The torch dtype name of an export dtype (bf16, f16, f32), or a StudioError."""
    try:
        return DTYPES[dtype]
    except KeyError:
        raise StudioError(
            f"unknown export dtype {dtype!r}; use one of {', '.join(DTYPES)}"
        ) from None


def merged_model(
    ref: str, adapters: Sequence[str | Path], dtype: str, log: Log = log_to_stderr
) -> PreTrainedModel:
    """`ref` with `adapters` merged in order, on the CPU in `dtype` (PEFT computes each delta in
    float32 there and adds it once to the weight)."""
    from studio.models.loading import load_model

    log(f"loading {ref} with {len(adapters)} adapter(s) in {dtype} to merge them")
    loaded = load_model(
        ref, adapters=list(adapters), merge=True, dtype=torch_dtype(dtype), device="cpu", log=log
    )
    return loaded.model


def end_of_sequence_ids(tokenizer: PreTrainedTokenizerBase, configured: object) -> list[int]:
    """The generation config's eos ids: those configured, the tokenizer's, and the ChatML
    end-of-turn token when the vocabulary has it."""
    ids: list[int] = []
    if isinstance(configured, int):
        ids.append(configured)
    elif isinstance(configured, list):
        ids.extend(int(i) for i in configured)
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    end_of_turn = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    if isinstance(end_of_turn, int) and end_of_turn != tokenizer.unk_token_id:
        ids.append(end_of_turn)
    return list(dict.fromkeys(ids))


def save_merged(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, folder: Path, log: Log
) -> Path:
    """Write `model` (safetensors shards), `tokenizer` (with its chat template) and a generation
    config into `folder`."""
    from transformers import GenerationConfig

    if not tokenizer.chat_template:
        raise StudioError(
            "the tokenizer of the model has no chat template, so the exported model could not "
            "be prompted as the studio prompts it; use an instruct model whose "
            "tokenizer_config.json or chat_template.jinja holds one"
        )
    generation = model.generation_config or GenerationConfig()
    generation.eos_token_id = end_of_sequence_ids(tokenizer, generation.eos_token_id)
    generation.pad_token_id = tokenizer.pad_token_id
    generation.bos_token_id = tokenizer.bos_token_id
    generation.do_sample = False
    for sampling in ("temperature", "top_p", "top_k"):
        setattr(generation, sampling, None)
    model.generation_config = generation
    model.config.pad_token_id = tokenizer.pad_token_id
    log(f"writing the merged model to {folder}")
    model.save_pretrained(folder, max_shard_size=MAX_SHARD_SIZE)
    tokenizer.save_pretrained(folder)
    return folder
