"""Generation for evaluation and pair mining: greedy or sampled, n answers per prompt.

Three engines: `prefix` (the default, `studio.inference.prefix_engine`: prompts that share a
schema share one prefill, finished answers leave the batch, settled answers stop), `batched`
(Hugging Face `generate` on length-sorted, left-padded batches) and `continuous` (transformers'
continuous batching: a paged KV cache where finished answers leave the batch at once and
waiting prompts take their place). All return the same answers for greedy decoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from studio.inference.settings import GenerationSettings
from studio.models.loading import LoadedModel

CPU_BLOCK = 64  # paged-cache block size (tokens) of the continuous engine off the GPU
DEFAULT_SETTINGS = GenerationSettings()  # greedy, one answer per prompt, the default engine


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first (padding waste stays small)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def generate(
    loaded: LoadedModel,
    prompts: Sequence[str],
    settings: GenerationSettings = DEFAULT_SETTINGS,
    on_batch: Callable[[list[int], list[list[str]]], None] | None = None,
    settled: Callable[[str], bool] | None = None,
    on_answered: Callable[[int], None] | None = None,
) -> list[list[str]]:
    """Complete each chat-rendered prompt `settings.n` times; results in input order.

    `on_batch(indices, completions)` is called after every batch of `settings.batch_size`
    prompts (progress, incremental saves). `settled(text)` lets the `prefix` engine stop an
    answer early once nothing more it writes can matter. `on_answered(count)` gets the number
    of prompts whose answers are all finished so far: as they finish with the `prefix` engine,
    after each batch with the others.
    """
    import torch

    encoded = [loaded.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    torch.manual_seed(settings.seed)
    if settings.engine == "prefix":
        from studio.inference.prefix_engine import generate_with_prefixes

        return generate_with_prefixes(loaded, encoded, settings, on_batch, settled, on_answered)
    run = _generate_continuous if settings.engine == "continuous" else _generate_batched
    if on_answered is None:
        return run(loaded, encoded, settings, on_batch)
    answered = 0

    def counted(indices: list[int], completions: list[list[str]]) -> None:
        nonlocal answered
        if on_batch is not None:
            on_batch(indices, completions)
        answered += len(indices)
        on_answered(answered)

    return run(loaded, encoded, settings, counted)


def _generate_batched(
    loaded: LoadedModel,
    encoded: list[list[int]],
    settings: GenerationSettings,
    on_batch: Callable[[list[int], list[list[str]]], None] | None,
) -> list[list[str]]:
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    tokenizer.padding_side = "left"
    results: list[list[str]] = [[] for _ in encoded]
    sampling = settings.temperature > 0
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
        texts = tokenizer.batch_decode(
            output[:, batch["input_ids"].shape[1] :], skip_special_tokens=True
        )
        completions = [texts[k * settings.n : (k + 1) * settings.n] for k in range(len(indices))]
        for index, answers in zip(indices, completions, strict=False):
            results[index] = answers
        if on_batch is not None:
            on_batch(indices, completions)
    return results


def _generate_continuous(
    loaded: LoadedModel,
    encoded: list[list[int]],
    settings: GenerationSettings,
    on_batch: Callable[[list[int], list[list[str]]], None] | None,
) -> list[list[str]]:
    """transformers' `generate_batch` over chunks of `batch_size` prompts, each repeated n times."""
    import copy

    from transformers import ContinuousBatchingConfig

    tokenizer, model = loaded.tokenizer, loaded.model
    sampling = settings.temperature > 0
    config = copy.deepcopy(model.generation_config)
    config.update(
        max_new_tokens=settings.max_new_tokens,
        do_sample=sampling,
        num_return_sequences=1,
        temperature=settings.temperature if sampling else None,
        top_p=settings.top_p if sampling else None,
        top_k=None,
        pad_token_id=tokenizer.pad_token_id,
    )
    on_gpu = model.device.type == "cuda"
    results: list[list[str]] = [[] for _ in encoded]
    try:
        for start in range(0, len(encoded), settings.batch_size):
            indices = list(range(start, min(start + settings.batch_size, len(encoded))))
            requests = [encoded[i] for i in indices for _ in range(settings.n)]
            # a GPU sizes the paged cache from free memory and keeps its CUDA graphs across
            # chunks; elsewhere the cache is sized to the chunk (the memory-based default takes
            # a share of RAM)
            sizing = (
                ContinuousBatchingConfig()
                if on_gpu
                else ContinuousBatchingConfig(
                    num_blocks=sum(
                        -(-(len(r) + settings.max_new_tokens) // CPU_BLOCK) for r in requests
                    ),
                    block_size=CPU_BLOCK,
                )
            )
            outputs = list(
                model.generate_batch(
                    requests,
                    generation_config=config,
                    continuous_batching_config=sizing,
                    persistent_manager=on_gpu,
                    warmup=on_gpu,
                ).values()
            )
            failed = [o.error for o in outputs if o.error is not None]
            if len(outputs) != len(requests) or failed:
                raise RuntimeError(
                    f"continuous batching lost {len(requests) - len(outputs) + len(failed)} of "
                    f"{len(requests)} answers: {failed[:1]}; use the batched engine"
                )
            texts = [
                tokenizer.decode(o.generated_tokens, skip_special_tokens=True) for o in outputs
            ]
            completions = [
                texts[k * settings.n : (k + 1) * settings.n] for k in range(len(indices))
            ]
            for index, answers in zip(indices, completions, strict=False):
                results[index] = answers
            if on_batch is not None:
                on_batch(indices, completions)
    finally:
        model.destroy_cached_continuous_batching_manager()
    return results
