"""Answer likelihoods from a tiny random model, checked against a token-by-token computation."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from studio.inference.likelihood import Likelihood, completion_likelihoods
from studio.models.loading import load_model


def by_hand(loaded, prompt: str, completion: str) -> float:
    """The summed log-probability of `completion` after `prompt`: one unpadded forward pass,
    then each completion token's log-softmax at the position before it."""
    import torch

    encode = loaded.tokenizer
    prompt_ids = encode(prompt, add_special_tokens=False)["input_ids"]
    completion_ids = encode(completion, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        logits = loaded.model(torch.tensor([prompt_ids + completion_ids])).logits[0]
    total = 0.0
    for offset, token in enumerate(completion_ids):
        row = logits[len(prompt_ids) - 1 + offset]
        total += float(row[token] - torch.logsumexp(row, dim=-1))
    return total


def test_likelihoods_match_a_token_by_token_computation(tiny_qwen2_dir: Path) -> None:
    loaded = load_model(str(tiny_qwen2_dir), device="cpu")
    prompts = ["How many singers are there?", "List every stadium name, sorted by capacity"]
    completions = [
        ["SELECT count(*) FROM singer", "SELECT 1", "SELECT count(*) FROM singer", ""],
        ["SELECT name FROM stadium ORDER BY capacity DESC, name ASC LIMIT 10"],
    ]
    scored = completion_likelihoods(loaded, prompts, completions, batch_size=3)
    assert [len(row) for row in scored] == [4, 1]
    for prompt, texts, row in zip(prompts, completions, scored, strict=True):
        for text, likelihood in zip(texts, row, strict=True):
            if not text:
                assert likelihood == Likelihood(0.0, 0.0, 0)
                continue
            expected = by_hand(loaded, prompt, text)
            assert likelihood.sum == pytest.approx(expected, abs=1e-4)
            assert likelihood.mean == pytest.approx(expected / likelihood.tokens, abs=1e-5)
            assert likelihood.sum < 0 and likelihood.tokens > 1
    assert scored[0][0] == scored[0][2]  # a repeated answer scores the same
    assert not math.isclose(scored[0][0].sum, scored[0][1].sum)


def test_one_list_of_completions_per_prompt(tiny_qwen2_dir: Path) -> None:
    loaded = load_model(str(tiny_qwen2_dir), device="cpu")
    with pytest.raises(ValueError, match="one list of completions per prompt"):
        completion_likelihoods(loaded, ["a", "b"], [["x"]])
