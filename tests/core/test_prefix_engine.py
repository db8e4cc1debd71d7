"""The `prefix` engine: shared prefixes computed once, finished rows leave, settled answers stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.data.prompts import build_instruction, build_messages, render_chat
from studio.inference.generate import generate
from studio.inference.prefix_engine import SETTLED_CHECK_EVERY
from studio.inference.settings import GenerationSettings
from studio.models.loading import load_model
from studio.models.references import DEFAULT_MODEL
from studio.sql.extract import extract_sql, sql_settled

SINGER_SCHEMA = "CREATE TABLE singer (singer_id INT PRIMARY KEY, name TEXT, country TEXT, age INT)"
ALBUM_SCHEMA = "CREATE TABLE album (album_id INT PRIMARY KEY, title TEXT, year INT, singer_id INT)"


def _prompts(tokenizer, pairs: list[tuple[str, str]]) -> list[str]:
    return [
        render_chat(
            tokenizer, build_messages({"instruction": build_instruction(q, schema, "sqlite")})
        )
        for schema, q in pairs
    ]


@pytest.mark.builtin
def test_prefix_engine_gives_the_batched_engines_greedy_answers_on_real_prompts() -> None:
    loaded = load_model(DEFAULT_MODEL, device="cpu")
    prompts = _prompts(
        loaded.tokenizer,
        [
            (SINGER_SCHEMA, "How many singers are there?"),
            (ALBUM_SCHEMA, "List the titles of albums released after 2001."),
            (SINGER_SCHEMA, "What is the average age of singers from France?"),
            (ALBUM_SCHEMA, "How many albums are there?"),
            (SINGER_SCHEMA, "Show the names of singers older than 30, oldest first."),
        ],
    )
    batched = generate(loaded, prompts, GenerationSettings(max_new_tokens=24, batch_size=5))
    # batches of 3 mix the two schemas' prefixes in one batch
    prefix = generate(
        loaded, prompts, GenerationSettings(max_new_tokens=24, batch_size=3, engine="prefix")
    )
    assert prefix == batched
    assert all("SELECT" in answers[0].upper() for answers in prefix), prefix


def test_prefix_engine_matches_batched_greedy_on_a_tiny_model(tiny_qwen2_dir: Path) -> None:
    loaded = load_model(str(tiny_qwen2_dir), device="cpu")
    prompts = _prompts(
        loaded.tokenizer,
        [
            (SINGER_SCHEMA, "How many singers?"),
            (ALBUM_SCHEMA, "Titles?"),
            (SINGER_SCHEMA, "Oldest singer?"),
            (SINGER_SCHEMA, "How many singers?"),
            (ALBUM_SCHEMA, "Albums after 2001, newest first, with years?"),
        ],
    ) + ["a prompt that shares nothing"]
    batched = generate(loaded, prompts, GenerationSettings(max_new_tokens=12, batch_size=6))
    seen: list[list[int]] = []
    prefix = generate(
        loaded,
        prompts,
        GenerationSettings(max_new_tokens=12, batch_size=4, engine="prefix"),
        on_batch=lambda indices, _: seen.append(indices),
    )
    assert prefix == batched
    assert sorted(i for batch in seen for i in batch) == list(range(len(prompts)))


def test_prefix_engine_samples_n_answers_reproducibly(tiny_qwen2_dir: Path) -> None:
    loaded = load_model(str(tiny_qwen2_dir), device="cpu")
    prompts = _prompts(
        loaded.tokenizer, [(SINGER_SCHEMA, "How many singers?"), (SINGER_SCHEMA, "Oldest?")]
    )
    settings = GenerationSettings(
        max_new_tokens=6, temperature=1.0, top_p=0.95, n=3, batch_size=2, engine="prefix", seed=7
    )
    first, again = generate(loaded, prompts, settings), generate(loaded, prompts, settings)
    assert [len(a) for a in first] == [3, 3]
    assert len(set(first[0])) > 1  # sampled, not three copies of one answer
    assert first == again  # the seed fixes the samples


def test_a_tiny_top_p_keeps_only_the_likeliest_token(tiny_qwen2_dir: Path) -> None:
    loaded = load_model(str(tiny_qwen2_dir), device="cpu")
    prompts = _prompts(
        loaded.tokenizer, [(SINGER_SCHEMA, "How many singers?"), (ALBUM_SCHEMA, "Titles?")]
    )
    greedy = generate(loaded, prompts, GenerationSettings(max_new_tokens=8, engine="prefix"))
    nucleus = generate(
        loaded,
        prompts,
        GenerationSettings(max_new_tokens=8, temperature=1.5, top_p=1e-6, n=2, engine="prefix"),
    )
    assert nucleus == [[g[0], g[0]] for g in greedy]


@pytest.mark.builtin
def test_an_answer_stops_once_its_sql_block_closes() -> None:
    loaded = load_model(DEFAULT_MODEL, device="cpu")
    prompt = render_chat(
        loaded.tokenizer,
        [
            {
                "role": "user",
                "content": f"{SINGER_SCHEMA}\n\nWrite a SQLite query in a ```sql block that "
                "counts singers from France, then explain it in three sentences.",
            }
        ],
    )
    settings = GenerationSettings(max_new_tokens=120, engine="prefix")
    [[whole]] = generate(loaded, [prompt], settings)
    [[short]] = generate(loaded, [prompt], settings, settled=sql_settled)
    assert sql_settled(short) and whole.startswith(short) and len(short) < len(whole)
    assert extract_sql(short) == extract_sql(whole) and "FROM singer" in extract_sql(short)
    # the check runs every few steps: at most that many tokens follow the closing fence
    tail = short[short.rindex("```") + 3 :]
    assert len(loaded.tokenizer(tail, add_special_tokens=False)["input_ids"]) <= SETTLED_CHECK_EVERY


def test_prefix_engine_runs_the_users_moe_architecture(tiny_qwen3_moe_dir: Path) -> None:
    loaded = load_model(str(tiny_qwen3_moe_dir), device="cpu")
    prompts = _prompts(
        loaded.tokenizer,
        [
            (SINGER_SCHEMA, "How many singers?"),
            (SINGER_SCHEMA, "Oldest?"),
            (ALBUM_SCHEMA, "Titles?"),
        ],
    )
    batched = generate(
        loaded, prompts, GenerationSettings(max_new_tokens=8, batch_size=3, engine="batched")
    )
    assert (
        generate(
            loaded, prompts, GenerationSettings(max_new_tokens=8, batch_size=2, engine="prefix")
        )
        == batched
    )
