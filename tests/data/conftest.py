"""Fixtures for the data layer: the built-in model's tokenizer, a tiny Spider layout, CLI runs."""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


# Qwen3's generation-prompt logic: with thinking off, an empty think block follows.
QWEN3_LIKE_TEMPLATE = (
    r"{%- for m in messages %}"
    r"{{- '<|im_start|>' + m.role + '\n' + m.content + '<|im_end|>\n' }}"
    r"{%- endfor %}"
    r"{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}"
    r"{%- if enable_thinking is defined and enable_thinking is false %}"
    r"{{- '<think>\n\n</think>\n\n' }}{%- endif %}"
    r"{%- endif %}"
)


@pytest.fixture(scope="session")
def tokenizer():
    """The built-in model's tokenizer (Qwen2.5-Coder chat template); its weights are not
    converted."""
    from studio.models.references import DEFAULT_MODEL, load_tokenizer

    return load_tokenizer(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def qwen3_like_tokenizer(tokenizer):
    """A copy of the built-in tokenizer carrying a template that reads `enable_thinking`."""
    clone = copy.deepcopy(tokenizer)
    clone.chat_template = QWEN3_LIKE_TEMPLATE
    return clone


def spider_tables_entry(db_path: Path, db_id: str) -> dict:
    """A Spider tables.json entry written from a SQLite file with plain PRAGMAs (test input, not
    studio code)."""
    connection = sqlite3.connect(db_path)
    names = [
        r[0]
        for r in connection.execute(
            "SELECT name FROM sqlite_master "
            "WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
        )
    ]
    columns, types, primary, foreign = [[-1, "*"]], ["text"], [], []
    index_of = {}
    for t, name in enumerate(names):
        for _, column, declared, _, _, pk in connection.execute(f'PRAGMA table_info("{name}")'):
            index_of[(name.lower(), column.lower())] = len(columns)
            if pk:
                primary.append(len(columns))
            columns.append([t, column])
            types.append((declared or "text").lower())
    for name in names:
        for row in connection.execute(f'PRAGMA foreign_key_list("{name}")'):
            foreign.append(
                [
                    index_of[(name.lower(), row[3].lower())],
                    index_of[(row[2].lower(), row[4].lower())],
                ]
            )
    connection.close()
    return {
        "db_id": db_id,
        "table_names_original": names,
        "table_names": names,
        "column_names_original": columns,
        "column_names": columns,
        "column_types": types,
        "primary_keys": primary,
        "foreign_keys": foreign,
    }


@pytest.fixture(scope="session")
def spider_layout(
    spiderman_sqlite_dir: Path, spiderman_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A tiny Spider folder from SpiderMan: train_spider.json + dev.json, tables.json,
    database/<db>/<db>.sqlite."""
    import csv
    import shutil

    root = tmp_path_factory.mktemp("spider")
    with open(spiderman_dir / "train_queries.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    splits = {"train_spider.json": ["activity_1", "aircraft"], "dev.json": ["allergy_1"]}
    entries = []
    for file_name, db_ids in splits.items():
        picked = [r for r in rows if r["database"] in db_ids]
        questions = [
            {"db_id": r["database"], "question": r["question"], "query": r["sql"]} for r in picked
        ]
        (root / file_name).write_text(json.dumps(questions), encoding="utf-8")
        for db_id in db_ids:
            target = root / "database" / db_id / f"{db_id}.sqlite"
            target.parent.mkdir(parents=True)
            shutil.copyfile(spiderman_sqlite_dir / f"{db_id}.sqlite", target)
            entries.append(spider_tables_entry(target, db_id))
    (root / "tables.json").write_text(json.dumps(entries), encoding="utf-8")
    return root


@pytest.fixture
def run_cli(tmp_path: Path):
    """Run `python -m studio ...` in a subprocess; returns the CompletedProcess (text)."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        done = subprocess.run(
            [sys.executable, "-m", "studio", *args],
            check=False,
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"studio {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done

    return run


@pytest.fixture
def scratch_mysql_db(mysql_server_url: str) -> Iterator[str]:
    """A unique database name on the MariaDB server, dropped after the test."""
    name = f"studio_t_data_{uuid.uuid4().hex[:8]}"
    yield name
    connection = pymysql.connect(
        host="127.0.0.1", port=3306, user="root", password="", autocommit=True
    )
    try:
        connection.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        connection.close()
