"""The registry: LLaMA-Factory entries, the sidecar, Examples, and the demo on a fresh workspace."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from studio.data.importers.demo import open_workspace
from studio.data.registry import (
    database_ref,
    get_dataset,
    list_datasets,
    load_examples,
    register_dataset,
    unregister_dataset,
)
from studio.data.validate import validate_registry
from studio.errors import StudioError
from studio.workspace import Workspace

PAIRS = [
    {
        "instruction": "How many singers?",
        "input": "",
        "system": "",
        "chosen": "SELECT COUNT(*) FROM singer",
        "rejected": "SELECT COUNT(*) FROM song",
        "db_id": "concert_singer",
    }
]


def test_demo_is_registered_on_a_fresh_workspace(workspace: Workspace) -> None:
    info = json.loads(workspace.dataset_info_path.read_text())
    assert info["demo_train"] == {
        "file_name": "datasets/demo_train.json",
        "formatting": "alpaca",
        "columns": {
            "prompt": "instruction",
            "query": "input",
            "response": "output",
            "system": "system",
        },
    }
    train, test = get_dataset(workspace, "demo_train"), get_dataset(workspace, "demo_test")
    assert train.rows >= 100 and test.rows >= 30
    questions = json.loads(
        (Path(__file__).resolve().parents[2] / "data/demo/questions.json").read_text()
    )
    assert train.rows + test.rows == len(questions)
    # the databases live inside the workspace and answer the gold SQL
    example = load_examples(workspace, "demo_test")[0]
    ref = database_ref(workspace, "demo_test", example.db_id)
    assert Path(ref).is_relative_to(workspace.root / "databases" / "demo")
    with sqlite3.connect(ref) as connection:
        connection.execute(example.gold_sql).fetchall()
    assert "CREATE TABLE" in example.prompt and example.prompt.endswith(
        f"Question: {example.question}"
    )


def test_demo_is_not_registered_again_after_unregistering(workspace: Workspace) -> None:
    unregister_dataset(workspace, "demo_test")
    reopened = open_workspace(workspace.root)
    assert [d.name for d in list_datasets(reopened)] == ["demo_train"]
    assert not (workspace.datasets_dir / "demo_test.json").exists()


def _open_workspace(path: str) -> None:
    open_workspace(path)


def test_two_processes_opening_a_new_workspace_register_the_demo_once(tmp_path: Path) -> None:
    target = str(tmp_path / "shared-ws")
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_open_workspace, args=(target,)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [p.exitcode for p in processes] == [0, 0]
    ws = open_workspace(target)
    assert [d.name for d in list_datasets(ws)] == ["demo_train", "demo_test"]
    assert validate_registry(ws) == []


def test_register_preference_and_read_examples(workspace: Workspace) -> None:
    dataset = register_dataset(
        workspace,
        "my_pairs",
        PAIRS,
        "preference",
        {"dialect": "sqlite", "databases": {"concert_singer": "/x/concert_singer.sqlite"}},
    )
    assert dataset.entry["ranking"] is True
    assert dataset.entry["columns"] == {
        "prompt": "instruction",
        "query": "input",
        "chosen": "chosen",
        "rejected": "rejected",
        "system": "system",
    }
    (example,) = load_examples(workspace, "my_pairs")
    assert (example.chosen, example.rejected, example.response) == (
        PAIRS[0]["chosen"],
        PAIRS[0]["rejected"],
        None,
    )
    assert example.db_id == "concert_singer" and example.gold_sql is None
    assert database_ref(workspace, "my_pairs", "concert_singer") == "/x/concert_singer.sqlite"
    assert database_ref(workspace, "my_pairs", "other") is None
    sidecar = json.loads((workspace.root / "studio_datasets.json").read_text())
    assert sidecar["my_pairs"]["kind"] == "preference" and sidecar["my_pairs"]["rows"] == 1


def test_register_refuses_bad_rows_and_writes_nothing(workspace: Workspace) -> None:
    rows = [{"instruction": "q", "input": "", "system": "", "output": ""}]
    with pytest.raises(StudioError, match=r"rows\[0\]\.output: row 0 has an empty output"):
        register_dataset(workspace, "bad", rows, "sft")
    assert not (workspace.datasets_dir / "bad.json").exists()
    assert "bad" not in json.loads(workspace.dataset_info_path.read_text())


def test_unknown_dataset_names_the_registered_ones(workspace: Workspace) -> None:
    with pytest.raises(StudioError, match="no dataset 'nope'.*registered: demo_train, demo_test"):
        get_dataset(workspace, "nope")


def test_hand_registered_entry_is_listed_and_read(workspace: Workspace) -> None:
    (workspace.root / "mine.jsonl").write_text(
        '{"q": "How many?", "a": "SELECT 1"}\n{"q": "Two?", "a": "SELECT 2"}\n'
    )
    info = json.loads(workspace.dataset_info_path.read_text())
    info["mine"] = {"file_name": "mine.jsonl", "columns": {"prompt": "q", "response": "a"}}
    workspace.dataset_info_path.write_text(json.dumps(info))
    mine = get_dataset(workspace, "mine")
    assert (mine.kind, mine.rows, mine.meta) == ("sft", None, None)
    assert [(e.prompt, e.response) for e in load_examples(workspace, "mine")] == [
        ("How many?", "SELECT 1"),
        ("Two?", "SELECT 2"),
    ]
