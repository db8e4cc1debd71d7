"""Importers on real layouts: Spider, BIRD (with and without databases), SpiderMan CSV, Alpaca,
pairs."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from studio.data.importers import import_dataset
from studio.data.importers.common import ImportOptions
from studio.data.registry import database_ref, load_examples
from studio.errors import StudioError
from studio.workspace import Workspace


def spiderman_rows(spiderman_dir: Path, databases: set[str]) -> list[dict[str, str]]:
    with open(spiderman_dir / "train_queries.csv", newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["database"] in databases]


def test_spider_layout(workspace: Workspace, spider_layout: Path, spiderman_dir: Path) -> None:
    datasets = import_dataset(workspace, "spider", spider_layout, ImportOptions(name="spider"))
    assert [d.name for d in datasets] == ["spider_train", "spider_dev"]
    assert datasets[0].rows == len(spiderman_rows(spiderman_dir, {"activity_1", "aircraft"}))
    assert datasets[1].databases == {
        "allergy_1": str(spider_layout / "database/allergy_1/allergy_1.sqlite")
    }
    example = load_examples(workspace, "spider_dev")[0]
    assert "CREATE TABLE Allergy_Type" in example.prompt
    assert example.gold_sql == spiderman_rows(spiderman_dir, {"allergy_1"})[0]["sql"]


def test_spider_database_missing_falls_back_to_tables_json(
    workspace: Workspace, spider_layout: Path, tmp_path: Path
) -> None:
    copy = shutil.copytree(spider_layout, tmp_path / "spider")
    shutil.rmtree(copy / "database" / "allergy_1")
    (dev,) = [
        d
        for d in import_dataset(workspace, "spider", copy, ImportOptions(name="s"))
        if d.name == "s_dev"
    ]
    assert dev.databases == {"allergy_1": None}
    assert "CREATE TABLE Has_Allergy" in load_examples(workspace, "s_dev")[0].prompt


def test_spider_question_files_of_any_name_import(
    workspace: Workspace, spider_layout: Path, tmp_path: Path
) -> None:
    copy = shutil.copytree(spider_layout, tmp_path / "spider")
    dev = json.loads((copy / "dev.json").read_text())
    (copy / "spider_realistic.json").write_text(json.dumps(dev[:3]))
    opts = ImportOptions(name="sp", cutoff_len=None)
    datasets = import_dataset(workspace, "spider", copy, opts)
    assert [d.name for d in datasets] == ["sp_train", "sp_dev", "sp_spider_realistic"]
    (one,) = import_dataset(workspace, "spider", copy / "spider_realistic.json", ImportOptions())
    assert (one.name, one.rows) == ("spider_realistic", 3)
    assert one.databases == {"allergy_1": str(copy / "database/allergy_1/allergy_1.sqlite")}
    example = load_examples(workspace, "spider_realistic")[2]
    assert example.question == dev[2]["question"] and example.gold_sql == dev[2]["query"]


def test_bird_layout_with_databases_and_descriptions(
    workspace: Workspace, spiderman_sqlite_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "bird"
    folder = root / "dev_databases" / "activity_1"
    (folder / "database_description").mkdir(parents=True)
    shutil.copyfile(spiderman_sqlite_dir / "activity_1.sqlite", folder / "activity_1.sqlite")
    (folder / "database_description" / "Activity.csv").write_bytes(
        b"\xef\xbb\xbforiginal_column_name,column_name,column_description,data_format,value_description\r\n"
        b"activity_name,activity name,name of the activity,text,sports and games\r\n"
    )
    questions = [
        {
            "question_id": 5,
            "db_id": "activity_1",
            "question": "How many activities?",
            "evidence": "activities are rows of Activity",
            "SQL": "SELECT COUNT(*) FROM Activity",
            "difficulty": "simple",
        }
    ]
    (root / "dev.json").write_text(json.dumps(questions))
    (dataset,) = import_dataset(
        workspace,
        "bird",
        root / "dev.json",
        ImportOptions(name="bird_dev", schema_style="enriched"),
    )
    assert dataset.dialect == "sqlite"
    assert dataset.databases == {"activity_1": str(folder / "activity_1.sqlite")}
    (example,) = load_examples(workspace, "bird_dev")
    assert (
        "activity_name VARCHAR(25) -- name of the activity; values: sports and games; "
        "e.g. 'Mountain Climbing'"
    ) in example.prompt
    assert "External knowledge: activities are rows of Activity" in example.prompt
    assert (example.question_id, example.difficulty) == (5, "simple")


def test_bird_minidev_without_databases_uses_tables_json(
    workspace: Workspace, bird_minidev: Path
) -> None:
    (dataset,) = import_dataset(
        workspace,
        "bird",
        bird_minidev / "mini_dev_mysql.json",
        ImportOptions(name="minidev", schema_style="compact"),
    )
    assert (dataset.rows, dataset.dialect) == (140, "mysql")
    assert set(dataset.databases.values()) == {None} and len(dataset.databases) == 4
    example = load_examples(workspace, "minidev")[0]
    assert example.prompt.startswith("Write one MySQL query")
    assert "customers(CustomerID, Segment, Currency)" in example.prompt


def test_csv_of_spiderman(
    workspace: Workspace, spiderman_dir: Path, spiderman_sqlite_dir: Path
) -> None:
    (dataset,) = import_dataset(
        workspace,
        "csv",
        spiderman_dir / "test_queries.csv",
        ImportOptions(name="sm_test", db_dir=spiderman_sqlite_dir),
    )
    assert dataset.rows == 103 and len(dataset.databases) == 3
    example = load_examples(workspace, "sm_test")[0]
    assert database_ref(workspace, "sm_test", example.db_id) == str(
        spiderman_sqlite_dir / f"{example.db_id}.sqlite"
    )
    assert (
        "`" in example.gold_sql
    )  # SpiderMan's MySQL-style backticks are kept; SQLite accepts them


def test_csv_with_missing_database_names_it_and_the_fix(
    workspace: Workspace, tmp_path: Path
) -> None:
    (tmp_path / "q.csv").write_text("database,question,sql\nnowhere_db,How many?,SELECT 1\n")
    with pytest.raises(StudioError, match="no SQLite database for nowhere_db.*pass --db-dir"):
        import_dataset(workspace, "csv", tmp_path / "q.csv", ImportOptions(db_dir=tmp_path))


def test_csv_without_required_columns(workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "q.csv").write_text("db,question,query\nx,y,z\n")
    with pytest.raises(StudioError, match="header lacks database, sql"):
        import_dataset(workspace, "csv", tmp_path / "q.csv", ImportOptions(db_dir=tmp_path))


def test_alpaca_jsonl_is_registered_as_is(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "sft.jsonl"
    path.write_text(
        '{"instruction": "How many singers?", "output": "SELECT COUNT(*) FROM singer", '
        '"db_id": "x"}\n'
        '{"instruction": "Names?", "input": "table singer", "output": "SELECT name FROM singer"}\n'
    )
    (dataset,) = import_dataset(workspace, "alpaca", path, ImportOptions())
    assert (dataset.name, dataset.kind, dataset.rows) == ("sft", "sft", 2)
    rows = json.loads(dataset.path.read_text())
    assert rows[0] == {
        "instruction": "How many singers?",
        "output": "SELECT COUNT(*) FROM singer",
        "db_id": "x",
        "input": "",
        "system": "",
    }
    assert load_examples(workspace, "sft")[1].prompt == "Names?\ntable singer"


def test_alpaca_with_empty_output_names_the_source_row(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps([{"instruction": "a", "output": "SELECT 1"}, {"instruction": "b", "output": ""}])
    )
    with pytest.raises(
        StudioError, match=rf"{path} was not imported:\n- {path} \[bad\] rows\[1\]\.output"
    ):
        import_dataset(workspace, "alpaca", path, ImportOptions())


def test_pairs_jsonl_is_registered_with_ranking(workspace: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        '{"instruction": "q", "input": "", "chosen": "SELECT 1", "rejected": "SELECT 2"}\n'
    )
    (dataset,) = import_dataset(workspace, "pairs", path, ImportOptions(name="prefs"))
    assert dataset.entry["ranking"] is True and dataset.kind == "preference"
    assert load_examples(workspace, "prefs")[0].rejected == "SELECT 2"
