"""How likely the model finds each of its answers: the log-probability of a completion given
its prompt, from one forward pass over prompt + completion.

The completion's text is tokenized again (without special tokens), exactly as a prompt is
for generation; the end-of-turn token is not counted, since an answer stopped once its SQL
was settled never wrote one. Sequences are left-padded in length-sorted batches with
position ids that skip the padding, and only the completion's logits are kept, so memory
grows with the longest answer, not the prompt. Repeated answers to one prompt are scored once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from studio.inference.generate import length_sorted_batches
from studio.models.loading import LoadedModel

DEFAULT_LIKELIHOOD_BATCH = 16


@dataclass(frozen=True)
class Likelihood:
    """A completion's summed token log-probability, its mean per token, and its token count
    (an empty completion scores 0)."""

    sum: float
    mean: float
    tokens: int


def completion_likelihoods(
    loaded: LoadedModel,
    prompts: Sequence[str],
    completions: Sequence[Sequence[str]],
    batch_size: int = DEFAULT_LIKELIHOOD_BATCH,
) -> list[list[Likelihood]]:
    """The likelihood of each of `completions[i]` after chat-rendered `prompts[i]`, in order."""
    if len(prompts) != len(completions):
        raise ValueError("give one list of completions per prompt")
    encode = loaded.tokenizer
    prompt_ids = [encode(p, add_special_tokens=False)["input_ids"] for p in prompts]
    unique: dict[tuple[int, str], int] = {}
    pairs: list[tuple[list[int], list[int]]] = []
    for i, texts in enumerate(completions):
        for text in texts:
            if (i, text) not in unique:
                unique[(i, text)] = len(pairs)
                pairs.append((prompt_ids[i], encode(text, add_special_tokens=False)["input_ids"]))
    scored: list[Likelihood] = [Likelihood(0.0, 0.0, 0)] * len(pairs)
    for indices in length_sorted_batches([len(p) + len(c) for p, c in pairs], batch_size):
        scores = _score_batch(loaded, [pairs[i] for i in indices])
        for index, result in zip(indices, scores, strict=True):
            scored[index] = result
    return [[scored[unique[(i, text)]] for text in texts] for i, texts in enumerate(completions)]


def _score_batch(
    loaded: LoadedModel, pairs: Sequence[tuple[list[int], list[int]]]
) -> list[Likelihood]:
    import torch

    model = loaded.model
    width = max(len(p) + len(c) for p, c in pairs)
    keep = max(len(c) for _, c in pairs) + 1  # the logits that predict the longest completion
    pad = loaded.tokenizer.pad_token_id or 0
    ids = torch.full((len(pairs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    for row, (prompt, completion) in enumerate(pairs):
        sequence = prompt + completion
        ids[row, width - len(sequence) :] = torch.tensor(sequence)
        mask[row, width - len(sequence) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    device = model.device
    with torch.inference_mode():
        logits = model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            logits_to_keep=keep,
        ).logits
        logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        targets = ids[:, width - keep + 1 :].to(device)
        per_token = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).cpu()
    results = []
    for row, (_, completion) in enumerate(pairs):
        count = len(completion)
        total = float(per_token[row, keep - 1 - count :].sum()) if count else 0.0
        results.append(Likelihood(total, total / count if count else 0.0, count))
    return results
