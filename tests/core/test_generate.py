"""Both generation engines: same greedy answers, n samples per prompt, results in input order."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.data.prompts import render_chat
from studio.inference.generate import generate, length_sorted_batches
from studio.inference.settings import GenerationSettings
from studio.models.loading import load_model
from studio.models.references import DEFAULT_MODEL


def test_length_sorted_batches_put_similar_lengths_together_longest_first() -> None:
    assert length_sorted_batches([3, 9, 1, 7, 5], 2) == [[1, 3], [4, 0], [2]]


@pytest.mark.builtin
def test_continuous_engine_gives_the_batched_engines_greedy_answers() -> None:
    loaded = load_model(DEFAULT_MODEL, device="cpu")
    questions = [
        "How many singers are there?",
        "List the names of all albums released after 2001, newest first.",
    ]
    prompts = [
        render_chat(
            loaded.tokenizer,
            [
                {"role": "system", "content": "Answer with one SQLite query."},
                {"role": "user", "content": q},
            ],
        )
        for q in questions
    ]
    seen: list[list[int]] = []
    batched = generate(loaded, prompts, GenerationSettings(max_new_tokens=16, batch_size=2))
    continuous = generate(
        loaded,
        prompts,
        GenerationSettings(max_new_tokens=16, batch_size=1, engine="continuous"),
        on_batch=lambda indices, _: seen.append(indices),
    )
    assert continuous == batched
    assert seen == [[0], [1]]
    assert len({answers[0] for answers in batched}) == 2 and all(
        "SELECT" in a[0].upper() for a in batched
    )


def test_continuous_engine_samples_n_answers_per_prompt(tiny_qwen2_dir: Path) -> None:
    loaded = load_model(str(tiny_qwen2_dir), device="cpu")
    settings = GenerationSettings(
        max_new_tokens=5, temperature=1.0, n=3, batch_size=4, engine="continuous"
    )
    answers = generate(loaded, ["SELECT", "WHERE"], settings)
    assert [len(a) for a in answers] == [3, 3]
    assert len(set(answers[0])) > 1  # sampled, not three copies of one greedy answer


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown generation engine 'vllm'"):
        GenerationSettings(engine="vllm")
