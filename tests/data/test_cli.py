"""`python -m studio data ...` end to end, in subprocesses, on a temporary workspace."""

from __future__ import annotations

import json
import re
from pathlib import Path

from studio.commands.data import STYLES
from studio.data.schema_text import SCHEMA_STYLES


def test_import_spiderman_csv_and_show_enriched_prompts(
    run_cli, tmp_path: Path, spiderman_dir: Path, spiderman_sqlite_dir: Path
) -> None:
    ws = str(tmp_path / "ws")
    questions = str(spiderman_dir / "test_queries.csv")
    done = run_cli(
        "data",
        "import",
        "--format",
        "csv",
        "--path",
        questions,
        "--db-dir",
        str(spiderman_sqlite_dir),
        "--name",
        "spiderman_test",
        "--schema-style",
        "enriched",
        "--cutoff-len",
        "640",
        "--workspace",
        ws,
    )  # the slice's longest prompts shrink
    assert "registered spiderman_test: 103 rows (sft, sqlite, schema enriched)" in done.stdout
    shrunk = re.search(r"shrunk (\d+) prompts to fit cutoff_len=640 \(samples: (\d+)", done.stdout)
    sidecar = json.loads((tmp_path / "ws" / "studio_datasets.json").read_text())["spiderman_test"]
    assert shrunk and int(shrunk.group(1)) == sidecar["shrunk"] > 0

    listing = run_cli("data", "list", "--workspace", ws).stdout
    assert re.search(r"spiderman_test\s+sft\s+103\s+sqlite\s+enriched\s+3\s+csv", listing)
    assert re.search(r"demo_train\s+sft", listing)

    show = run_cli("data", "show", "spiderman_test", "--n", "2", "--workspace", ws).stdout
    first = show.split("=== example 1")[0]
    assert "<|im_start|>user\nWrite one SQLite query that answers the question." in first
    assert "(battle_death) ===" in first  # the CSV's first row
    assert (
        "CREATE TABLE battle (" in first
        and "CREATE TABLE ship (" in first
        and "CREATE TABLE death (" in first
    )
    assert "  name TEXT, -- e.g. 'Battle of Adrianople', 'Battle of Serres'" in first
    assert "FOREIGN KEY (lost_in_battle) REFERENCES battle(id)" in first
    assert (
        first.count("--- gold ---") == 1
        and "FROM `ship` WHERE `disposition_of_ship` = 'Captured'" in first
    )


def test_import_bird_minidev_without_databases(run_cli, tmp_path: Path, bird_minidev: Path) -> None:
    """(No token budget here, so the import skips loading the tokenizer; budgets are tested
    above.)"""
    ws = str(tmp_path / "ws")
    done = run_cli(
        "data",
        "import",
        "--format",
        "bird",
        "--path",
        str(bird_minidev / "mini_dev_mysql.json"),
        "--name",
        "bird_mysql",
        "--schema-style",
        "enriched",
        "--cutoff-len",
        "0",
        "--workspace",
        ws,
    )
    assert "registered bird_mysql: 140 rows (sft, mysql, schema enriched)" in done.stdout
    show = run_cli("data", "show", "bird_mysql", "--n", "1", "--workspace", ws).stdout
    assert "Write one MySQL query that answers the question. The database is MySQL" in show
    assert (
        "CREATE TABLE customers (\n"
        "  CustomerID INTEGER PRIMARY KEY, -- identification of the customer" in show
    )
    assert "Price REAL -- values: commonsense evidence: total price = Amount x Price" in show
    assert "External knowledge: ratio of customers who pay in EUR" in show
    assert "(debit_card_specializing, simple)" in show


def test_validate_and_unregister(run_cli, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert "every dataset is valid" in run_cli("data", "validate", "--workspace", str(ws)).stdout
    info = json.loads((ws / "dataset_info.json").read_text())
    info["oops"] = {"file_name": "datasets/oops.json", "columns": {"instruction": "instruction"}}
    (ws / "dataset_info.json").write_text(json.dumps(info))
    done = run_cli("data", "validate", "--workspace", str(ws), check=False)
    assert done.returncode == 1
    assert (
        "[oops] columns.instruction:" in done.stdout
        and 'Fix: write "prompt": "instruction"' in done.stdout
    )
    assert run_cli("data", "unregister", "oops", "--workspace", str(ws)).returncode == 0
    missing = run_cli("data", "show", "oops", "--workspace", str(ws), check=False)
    assert missing.returncode == 2 and "registered: demo_train, demo_test" in missing.stderr


def test_load_mysql_command(
    run_cli, spiderman_sqlite_dir: Path, scratch_mysql_db: str, mysql_server_url: str
) -> None:
    url = mysql_server_url.rsplit("/", 1)[0] + f"/{scratch_mysql_db}"
    done = run_cli(
        "data", "load-mysql", "--source", str(spiderman_sqlite_dir / "pets_1.sqlite"), "--url", url
    )
    assert done.stdout.startswith("loaded 3 tables, ") and url in done.stdout
    again = run_cli(
        "data",
        "load-mysql",
        "--source",
        str(spiderman_sqlite_dir / "pets_1.sqlite"),
        "--url",
        url,
        check=False,
    )
    assert again.returncode == 2 and "pass --replace" in again.stderr


def test_cli_style_choices_match_the_renderer() -> None:
    assert STYLES == SCHEMA_STYLES


def test_validate_golds_executes_each_gold_and_names_the_failing_rows(
    run_cli, tmp_path: Path, spiderman_dir: Path, spiderman_sqlite_dir: Path
) -> None:
    import csv

    with open(spiderman_dir / "test_queries.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:6]
    rows[2]["sql"] = "SELECT `name` FROM `battle_death`.`battle`"  # a MySQL-only qualified name
    rows[4]["sql"] = "SELECT COUNT(*) FROM `no_such_table`"
    ws = str(tmp_path / "ws")

    def register(rows: list[dict[str, str]], *extra: str) -> None:
        questions = tmp_path / "questions.csv"
        with open(questions, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=["database", "question", "sql"])
            writer.writeheader()
            writer.writerows(rows)
        run_cli("data", "import", "--format", "csv", "--path", str(questions), "--db-dir",
                str(spiderman_sqlite_dir), "--name", "six", "--workspace", ws, *extra)  # fmt: skip

    register(rows)

    done = run_cli("data", "validate", "--golds", "--workspace", ws, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "six: 6 gold queries executed, 2 fail" in done.stdout
    failing = re.findall(r"^- row (\d+) \(battle_death\): (.*)$", done.stdout, re.MULTILINE)
    assert [index for index, _ in failing] == ["2", "4"]
    assert (
        failing[0][1].startswith("refused: ") and "names database 'battle_death'" in failing[0][1]
    )
    assert failing[1][1] == "unknown_table: no such table: no_such_table"
    assert "SELECT COUNT(*) FROM `no_such_table`" in done.stdout
    assert "Fix: correct or remove the row" in done.stdout

    rows[2]["sql"], rows[4]["sql"] = "SELECT `name` FROM `battle`", "SELECT COUNT(*) FROM `ship`"
    register(rows, "--replace")
    fixed = run_cli("data", "validate", "--golds", "--dataset", "six", "--workspace", ws)
    assert "six: 6 gold queries executed, 0 fail" in fixed.stdout

    alone = run_cli("data", "validate", "--dataset", "six", "--workspace", ws, check=False)
    assert alone.returncode != 0 and "add --golds" in alone.stderr
