"""Imports never replace a dataset unasked and change nothing when they fail: names used as
given or made from file names without clashes, `--replace`, and a byte-identical workspace
after failed imports (a broken dataset_info.json, a bad split, a CSV whose databases were
already unpacked)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from studio.data.importers import import_dataset
from studio.data.importers.common import ImportOptions
from studio.data.importers.demo import open_workspace
from studio.data.names import name_from, name_problem
from studio.data.registry import get_dataset, list_datasets, load_examples
from studio.errors import StudioError
from studio.workspace import Workspace

Checksums = Callable[[Path], dict[str, str]]
RunCli = Callable[..., subprocess.CompletedProcess]
FIRST = [{"instruction": "How many singers?", "output": "SELECT count(*) FROM singer"}]
SECOND = [
    {"instruction": "Name every singer.", "output": "SELECT name FROM singer"},
    {"instruction": "How many songs?", "output": "SELECT count(*) FROM song"},
]
REPLACE_HINT = 'replace it with --replace (in the studio: tick "Replace an existing dataset")'
DEMO = ["demo_train", "demo_test"]


def write_rows(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def import_alpaca(
    run_cli: RunCli, ws: Path, path: Path, *extra: str
) -> subprocess.CompletedProcess:
    """`python -m studio data import --format alpaca --path PATH ...` (its exit code unchecked)."""
    return run_cli(
        "data",
        "import",
        "--format",
        "alpaca",
        "--path",
        str(path),
        "--workspace",
        str(ws),
        *extra,
        check=False,
    )


def test_names_made_from_file_names_drop_accents_and_given_names_are_never_rewritten() -> None:
    assert name_from("données") == "donnees"
    assert name_from("Café au lait.v2") == "Cafe_au_lait.v2"
    assert name_from("数据") == "dataset"
    assert name_problem("spider_dev") is None
    assert name_problem("données") == (
        "dataset name 'données' is not allowed: use 1-100 ASCII letters, digits, '_', '.' or '-', "
        "starting with a letter or digit (e.g. 'donnees')"
    )


def test_two_file_names_made_into_one_name_do_not_replace_each_other(
    run_cli: RunCli, tmp_path: Path, checksums: Checksums
) -> None:
    ws = tmp_path / "ws"
    first = write_rows(tmp_path / "données.json", FIRST)
    done = import_alpaca(run_cli, ws, first)
    assert done.returncode == 0 and "registered donnees: 1 rows (sft)" in done.stdout
    before = checksums(ws)

    second = write_rows(tmp_path / "other" / "donnèes.json", SECOND)
    done = import_alpaca(run_cli, ws, second)
    assert done.returncode == 2
    assert (
        f"dataset 'donnees' (the name made from 'donnèes') already exists (sft, 1 rows, "
        f"imported from {first}); {REPLACE_HINT}, or choose another name"
    ) in done.stderr
    done = import_alpaca(run_cli, ws, second, "--name", "donnèes")  # a given name is kept as given
    assert done.returncode == 2 and "dataset name 'donnèes' is not allowed" in done.stderr
    assert checksums(ws) == before
    assert import_alpaca(run_cli, ws, second, "--name", "donnees_2").returncode == 0
    first_rows = load_examples(open_workspace(ws), "donnees")
    assert [example.prompt for example in first_rows] == ["How many singers?"]


def test_one_import_whose_file_names_become_one_name_registers_nothing(
    workspace: Workspace, tmp_path: Path, checksums: Checksums
) -> None:
    questions = [
        {
            "question_id": 1,
            "db_id": "concert_singer",
            "question": "How many singers?",
            "SQL": "SELECT count(*) FROM singer",
        }
    ]
    folder = tmp_path / "bird"
    for name in ("dev set.json", "dev_set.json"):
        write_rows(folder / name, questions)
    before = checksums(workspace.root)
    clash = r"'b_dev set' and 'b_dev_set' both become the dataset name 'b_dev_set'"
    with pytest.raises(StudioError, match=clash):
        import_dataset(workspace, "bird", folder, ImportOptions(name="b"))
    assert checksums(workspace.root) == before


def test_a_name_differing_only_in_letter_case_is_refused_even_with_replace(
    workspace: Workspace, tmp_path: Path
) -> None:
    path = write_rows(tmp_path / "rows.json", FIRST)
    clash = (
        "dataset name 'Demo_train' and the registered dataset 'demo_train' differ only in "
        "letter case"
    )
    with pytest.raises(StudioError, match=clash):
        import_dataset(workspace, "alpaca", path, ImportOptions(name="Demo_train", replace=True))
    assert [d.name for d in list_datasets(workspace)] == DEMO


def test_an_existing_dataset_is_replaced_only_with_replace(
    run_cli: RunCli, tmp_path: Path, checksums: Checksums
) -> None:
    ws = tmp_path / "ws"
    older = write_rows(tmp_path / "a.json", FIRST)
    assert import_alpaca(run_cli, ws, older, "--name", "mine").returncode == 0
    before = checksums(ws)
    newer = write_rows(tmp_path / "b.json", SECOND)
    done = import_alpaca(run_cli, ws, newer, "--name", "mine")
    assert done.returncode == 2
    assert (
        f"dataset 'mine' already exists (sft, 1 rows, imported from {older}); {REPLACE_HINT}"
    ) in done.stderr
    # not even by rows of another kind, over a dataset the studio registered itself
    pairs = write_rows(
        tmp_path / "p.json", [{"instruction": "q", "chosen": "SELECT 1", "rejected": "SELECT 2"}]
    )
    done = run_cli(
        "data",
        "import",
        "--format",
        "pairs",
        "--path",
        str(pairs),
        "--name",
        "demo_train",
        "--workspace",
        str(ws),
        check=False,
    )
    assert done.returncode == 2 and "dataset 'demo_train' already exists (sft, " in done.stderr
    assert checksums(ws) == before

    done = import_alpaca(run_cli, ws, newer, "--name", "mine", "--replace")
    assert done.returncode == 0 and "registered mine: 2 rows (sft)" in done.stdout
    replaced = get_dataset(open_workspace(ws), "mine")
    assert replaced.rows == 2 and replaced.meta.source_path == str(newer)
    prompts = [example.prompt for example in load_examples(open_workspace(ws), "mine")]
    assert prompts == [row["instruction"] for row in SECOND]


def test_a_broken_registry_fails_the_import_before_any_file_is_written(
    run_cli: RunCli, tmp_path: Path, checksums: Checksums
) -> None:
    ws = tmp_path / "ws"
    older = write_rows(tmp_path / "a.json", FIRST)
    assert import_alpaca(run_cli, ws, older, "--name", "mine").returncode == 0
    info = ws / "dataset_info.json"
    info.write_text(info.read_text().replace('"mine": {', '"mine": {,', 1))
    before = checksums(ws)
    newer = write_rows(tmp_path / "b.json", SECOND)
    done = import_alpaca(run_cli, ws, newer, "--name", "mine", "--replace")
    assert done.returncode == 2 and f"{info}: JSON does not parse at line" in done.stderr
    assert checksums(ws) == before  # datasets/mine.json included: it was overwritten before


def test_a_spider_import_whose_second_split_fails_registers_neither(
    workspace: Workspace, spider_layout: Path, tmp_path: Path, checksums: Checksums
) -> None:
    copy = shutil.copytree(spider_layout, tmp_path / "spider")
    dev = json.loads((copy / "dev.json").read_text())
    del dev[1]["query"]
    (copy / "dev.json").write_text(json.dumps(dev))
    before = checksums(workspace.root)
    with pytest.raises(StudioError, match=r"dev.json: row 1 lacks db_id, question or query"):
        import_dataset(workspace, "spider", copy, ImportOptions(name="s"))
    assert checksums(workspace.root) == before
    assert [d.name for d in list_datasets(workspace)] == DEMO


def csv_layout(folder: Path, database: Path, test_db: str) -> Path:
    """SpiderMan's form: train and test CSVs beside a sqlite.tar.xz holding `database`."""
    folder.mkdir(parents=True)
    with tarfile.open(folder / "sqlite.tar.xz", "w:xz") as archive:
        archive.add(database, arcname=f"sqlite/{database.name}")
    header = "database,question,sql\n"
    (folder / "train_queries.csv").write_text(f"{header}{database.stem},How many?,SELECT 1\n")
    (folder / "test_queries.csv").write_text(f"{header}{test_db},How many?,SELECT 2\n")
    return folder


def test_a_failed_csv_import_removes_the_databases_it_unpacked(
    workspace: Workspace, tmp_path: Path, spiderman_sqlite_dir: Path, checksums: Checksums
) -> None:
    folder = csv_layout(tmp_path / "sm", spiderman_sqlite_dir / "pets_1.sqlite", "nowhere_db")
    before = checksums(workspace.root)
    with pytest.raises(StudioError, match="test_queries.csv: no SQLite database for nowhere_db"):
        import_dataset(workspace, "csv", folder, ImportOptions(name="sm"))
    assert checksums(workspace.root) == before
    assert not (workspace.root / "databases" / "sm").exists()

    (folder / "test_queries.csv").write_text("database,question,sql\npets_1,How many?,SELECT 3\n")
    imported = import_dataset(workspace, "csv", folder, ImportOptions(name="sm"))
    assert [dataset.name for dataset in imported] == ["sm_test", "sm_train"]
    unpacked = workspace.root / "databases" / "sm"
    source = json.loads((unpacked / ".unpacked_from.json").read_text())
    assert source["archive"] == str(folder / "sqlite.tar.xz")
    # another archive is never mixed into that folder, even when replacing the datasets
    other = csv_layout(tmp_path / "other", spiderman_sqlite_dir / "activity_1.sqlite", "activity_1")
    before = checksums(workspace.root)
    mixed = (
        f"{unpacked} holds the databases of {folder / 'sqlite.tar.xz'}, not of "
        f"{other / 'sqlite.tar.xz'}; import with another --name"
    )
    with pytest.raises(StudioError, match=mixed):
        import_dataset(workspace, "csv", other, ImportOptions(name="sm", replace=True))
    assert checksums(workspace.root) == before
