"""Batched generation: length-sorted batches, left padding, greedy or sampled, n per prompt."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from studio.models import LoadedModel


@dataclass(frozen=True)
class GenerationSettings:
    """How to sample. temperature 0 means greedy (then n must be 1)."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    batch_size: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        if self.temperature == 0.0 and self.n != 1:
            raise ValueError("greedy decoding (temperature 0) gives one answer per prompt; set n=1")
        if self.n < 1 or self.batch_size < 1 or self.max_new_tokens < 1:
            raise ValueError("n, batch_size and max_new_tokens must be at least 1")


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (padding waste stays small)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def generate(
    loaded: LoadedModel,
    prompts: Sequence[str],
    settings: GenerationSettings = GenerationSettings(),
    on_batch: Callable[[list[int], list[list[str]]], None] | None = None,
) -> list[list[str]]:
    """Complete each chat-rendered prompt `settings.n` times; results in input order.

    `on_batch(indices, completions)` is called after every batch (progress, incremental saves).
    """
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    tokenizer.padding_side = "left"
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    results: list[list[str]] = [[] for _ in prompts]
    sampling = settings.temperature > 0
    torch.manual_seed(settings.seed)
    for indices in length_sorted_batches([len(e) for e in encoded], settings.batch_size):
        batch = tokenizer.pad({"input_ids": [encoded[i] for i in indices]}, return_tensors="pt")
        batch = {key: value.to(model.device) for key, value in batch.items()}
        with torch.inference_mode():
            output = model.generate(
                **batch,
                max_new_tokens=settings.max_new_tokens,
                do_sample=sampling,
                temperature=settings.temperature if sampling else None,
                top_p=settings.top_p if sampling else None,
                top_k=None,
                num_return_sequences=settings.n,
                pad_token_id=tokenizer.pad_token_id,
            )
        texts = tokenizer.batch_decode(output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
        completions = [texts[k * settings.n : (k + 1) * settings.n] for k in range(len(indices))]
        for index, answers in zip(indices, completions):
            results[index] = answers
        if on_batch is not None:
            on_batch(indices, completions)
    return results
